"""The sandbox payment provider: a stand-in for a real one, complete with a checkout page on this
site and HMAC-signed webhooks (CONTRACT section 5).

Signature: `X-Sandbox-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with
settings.PAYMENTS_SANDBOX_SECRET. The provider is on only when settings.PAYMENTS_SANDBOX is true
and the secret is not empty (with DEBUG off both must be set on purpose: coins.checks). The checkout page's
buttons use `delivery` to build exactly what the provider would POST, so a simulated payment goes
through the same verification and code path as a real webhook.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping

from django.conf import settings
from django.urls import reverse

from coins.models import Topup
from coins.payments.base import PaymentNotification, PaymentProvider

SIGNATURE_HEADER = "X-Sandbox-Signature"


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def _secret(self) -> bytes:
        return (settings.PAYMENTS_SANDBOX_SECRET or "").encode()

    def is_enabled(self) -> bool:
        return bool(settings.PAYMENTS_SANDBOX) and bool(self._secret())

    def checkout_url(self, topup: Topup) -> str:
        return reverse("sandbox-checkout", args=[topup.pk])

    def sign(self, raw_body: bytes) -> str:
        return "sha256=" + hmac.new(self._secret(), raw_body, hashlib.sha256).hexdigest()

    def verify_signature(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        if not self.is_enabled():
            return False
        given = (headers.get(SIGNATURE_HEADER) or "").strip()
        return hmac.compare_digest(given.encode(), self.sign(raw_body).encode())

    def delivery(self, topup: Topup, event: str) -> tuple[bytes, dict[str, str]]:
        """The signed webhook (raw body, headers) the provider sends when `event` happens to
        `topup`. One payment id per top-up, so pressing Pay twice delivers one event twice."""
        notification = PaymentNotification(
            event=event,
            payment_id=f"sandbox_{topup.pk}",
            topup_id=topup.pk,
            amount_minor=topup.price_minor,
            currency=topup.currency,
        )
        raw_body = json.dumps(notification.as_payload()).encode()
        return raw_body, {SIGNATURE_HEADER: self.sign(raw_body)}
