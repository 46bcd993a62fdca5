"""Helpers for the top-up and webhook tests: packages, pending top-ups, and signed deliveries to
the sandbox webhook exactly as the provider would send them."""

import hashlib
import hmac
import json
from typing import Any

from django.test import Client

from accounts.models import User
from coins.models import Topup, TopupPackage

WEBHOOK_URL = "/api/v1/payments/webhook/sandbox"
SECRET = "sandbox-test-secret"  # pyproject's [tool.pytest_env]


def make_package(coins: int = 60, price_minor: int = 600, currency: str = "CNY", **kw: Any) -> TopupPackage:
    return TopupPackage.objects.create(coins=coins, price_minor=price_minor, currency=currency, **kw)


def make_topup(user: User, package: TopupPackage | None = None) -> Topup:
    package = package or make_package()
    return Topup.objects.create(
        user=user,
        package=package,
        coins=package.coins,
        price_minor=package.price_minor,
        currency=package.currency,
    )


def event_for(
    topup: Topup, event: str = "payment.succeeded", payment_id: str | None = None, /, **over: Any
) -> dict:
    return {
        "event": event,
        "payment_id": payment_id or f"pay_{topup.pk}",
        "topup": topup.pk,
        "amount_minor": topup.price_minor,
        "currency": topup.currency,
        **over,
    }


def signature(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def deliver(
    payload: Any = None,
    *,
    raw: bytes | None = None,
    sig: str | None = None,
    signed: bool = True,
    client: Client | None = None,
):
    """POST a webhook: `payload` as JSON (or exactly `raw`), signed with the test secret unless
    `sig` is given or `signed` is False."""
    raw = raw if raw is not None else json.dumps(payload).encode()
    headers = {}
    if signed:
        headers["X-Sandbox-Signature"] = sig if sig is not None else signature(raw)
    return (client or Client()).post(WEBHOOK_URL, data=raw, content_type="application/json", headers=headers)


def record_receipt_dispatches(monkeypatch) -> list[int]:
    """Replace send_receipt's dispatch (`apply_async`, and `delay` which calls it) with a recorder:
    these tests check that the receipt is dispatched (after commit), not the task itself, and must
    not enqueue on a shared broker."""
    from coins.tasks import send_receipt

    dispatched: list[int] = []

    def record(args: tuple = (), kwargs: dict | None = None, **options: object) -> None:
        dispatched.append(args[0])

    monkeypatch.setattr(send_receipt, "apply_async", record)
    monkeypatch.setattr(send_receipt, "delay", lambda *args: record(args))
    return dispatched
