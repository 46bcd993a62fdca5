"""Payment providers behind one interface (base.PaymentProvider), looked up by name in
registry.py; the sandbox provider (sandbox.py) is the default. webhooks.py receives their signed
callbacks; the effects live in coins.services.payment_event_apply."""
