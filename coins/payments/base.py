"""The payment provider interface, and the canonical notification every provider's webhook is
turned into before coins.services.payment_event_apply sees it.

A provider is stateless: its configuration comes from settings each time, so tests can change
settings and a provider with no secret configured is simply off (is_enabled() is False).
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coins.models import Topup
from coins.payments.errors import MalformedNotification
from core.input_rules import reject_unstorable

SUCCEEDED = "payment.succeeded"
FAILED = "payment.failed"
REFUNDED = "payment.refunded"


class PaymentProvider(ABC):
    name: str = ""

    @abstractmethod
    def is_enabled(self) -> bool:
        """Configured and accepting new top-ups and webhooks."""

    @abstractmethod
    def checkout_url(self, topup: Topup) -> str:
        """Where the buyer goes to pay (a path on this site, or the provider's page)."""

    @abstractmethod
    def verify_signature(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """True only if `headers` carry a valid signature of exactly `raw_body` (constant time)."""

    def parse_notification(self, raw_body: bytes) -> "PaymentNotification":
        """The provider's webhook body as a canonical notification; MalformedNotification if not."""
        return PaymentNotification.from_json(raw_body)


@dataclass(frozen=True)
class PaymentNotification:
    """`{"event", "payment_id", "topup", "amount_minor", "currency"}` (CONTRACT section 5)."""

    event: str
    payment_id: str
    topup_id: int
    amount_minor: int
    currency: str

    @classmethod
    def from_json(cls, raw_body: bytes) -> "PaymentNotification":
        try:
            payload = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedNotification("The webhook body is not JSON.") from None
        return cls.from_payload(payload)

    @classmethod
    def from_payload(cls, payload: Any) -> "PaymentNotification":
        if not isinstance(payload, dict):
            raise MalformedNotification("The webhook body must be a JSON object.")
        reject_unstorable(payload)  # 400 invalid: nothing the database cannot store
        problems = {}
        for name, kind, limit in (
            ("event", str, 64),
            ("payment_id", str, 128),
            ("currency", str, 16),
            ("topup", int, None),
            ("amount_minor", int, None),
        ):
            value = payload.get(name)
            if isinstance(value, bool) or not isinstance(value, kind):
                problems[name] = [f"Required, a {'string' if kind is str else 'JSON integer'}."]
            elif limit is not None and not 0 < len(value) <= limit:
                problems[name] = [f"1-{limit} characters."]
        if problems:
            raise MalformedNotification(fields=problems)
        return cls(
            event=payload["event"],
            payment_id=payload["payment_id"],
            topup_id=payload["topup"],
            amount_minor=payload["amount_minor"],
            currency=payload["currency"],
        )

    def as_payload(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "payment_id": self.payment_id,
            "topup": self.topup_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
        }
