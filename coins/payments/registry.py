"""Payment providers by name. A real provider plugs in by adding an instance here (and its
system account purpose, `provider:<name>`, to coins.ledger.SYSTEM_PURPOSES)."""

from coins.payments.base import PaymentProvider
from coins.payments.errors import PaymentsUnavailable
from coins.payments.sandbox import SandboxProvider

PROVIDERS: dict[str, PaymentProvider] = {provider.name: provider for provider in [SandboxProvider()]}
DEFAULT_PROVIDER = "sandbox"


def provider_get(name: str) -> PaymentProvider | None:
    """The enabled provider called `name`, or None (unknown or switched off)."""
    provider = PROVIDERS.get(name)
    return provider if provider is not None and provider.is_enabled() else None


def provider_for_checkout(name: str = DEFAULT_PROVIDER) -> PaymentProvider:
    """The provider new top-ups go to; PaymentsUnavailable (503) when it is off."""
    provider = provider_get(name)
    if provider is None:
        raise PaymentsUnavailable()
    return provider
