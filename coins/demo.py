"""Demo coins for `manage.py seed_demo`: top-up packages (always), and with the demo people (DEBUG
on only) a promotional grant for every one and a paid sandbox top-up for alice, applied through
the real webhook service.

Idempotent: packages are created only when there are none, grants carry ledger idempotency keys,
and alice's top-up is found again by its payment id, so a second run adds nothing.
"""

from accounts.models import User
from coins import services
from coins.models import Topup, TopupPackage
from coins.payments import base as payments
from coins.payments.registry import provider_get

PACKAGES = [(60, 600), (300, 3000), (980, 9800), (6480, 64800)]  # (coins, price in fen)
GRANT = 100


def seed_coin_packages() -> None:
    """The top-up packages on sale, when there are none yet (also in production)."""
    if not TopupPackage.objects.exists():
        TopupPackage.objects.bulk_create(
            TopupPackage(coins=coins, price_minor=price, currency="CNY", position=position)
            for position, (coins, price) in enumerate(PACKAGES)
        )


def seed_coins(people: dict[str, User]) -> None:
    """Packages, welcome coins for the demo people and a paid sandbox top-up for alice."""
    seed_coin_packages()
    for user in people.values():
        services.promotion_grant(
            user=user, amount=GRANT, reason="Welcome coins", idempotency_key=f"demo:welcome:{user.pk}"
        )
    alice = people.get("alice")
    if alice is not None and provider_get("sandbox") is not None:
        _paid_sandbox_topup(alice)


def _paid_sandbox_topup(user: User) -> None:
    payment_id = f"demo_{user.pk}"
    if Topup.objects.filter(user=user, provider="sandbox", payment_id=payment_id).exists():
        return
    package = TopupPackage.objects.filter(active=True).first()
    if package is None:
        return
    topup = services.topup_create(user=user, package_id=package.pk)
    notification = payments.PaymentNotification(
        event=payments.SUCCEEDED,
        payment_id=payment_id,
        topup_id=topup.pk,
        amount_minor=topup.price_minor,
        currency=topup.currency,
    )
    services.payment_event_apply(provider="sandbox", payload=notification.as_payload())
