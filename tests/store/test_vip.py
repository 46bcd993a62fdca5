"""VIP auto-renewal (store.tasks.renew_memberships): charged once per period, with enough and too
few coins, the task run twice and concurrently, and the switch."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coins.models import Transaction
from store.models import Entitlement, Purchase
from store.services import VIP_PERIOD, vip_auto_renew_set, vip_renew
from store.tasks import renew_memberships
from tests.concurrency import race
from tests.store.helpers import buy, grant, ledger_check_ok, wallet_balance

pytestmark = pytest.mark.usefixtures("catalog")


def _due_in(user, delta: timedelta) -> Entitlement:
    """Make the user's membership end `delta` from now."""
    row = Entitlement.objects.get(user=user, item__sku="vip-month")
    row.expires_at = timezone.now() + delta
    row.save()
    return row


@pytest.mark.django_db
def test_renewal_charges_the_next_period_once(alice, captured_events, django_capture_on_commit_callbacks):
    grant(alice, 600)
    buy(alice, "vip-month")
    row = _due_in(alice, timedelta(minutes=30))
    old_end = row.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        assert renew_memberships() == {"renewed": 1, "lapsed": 0, "skipped": 0}
    row.refresh_from_db()
    assert row.expires_at == old_end + VIP_PERIOD
    assert wallet_balance(alice) == 0
    renewal = Purchase.objects.get(is_renewal=True)
    assert renewal.transaction.idempotency_key == f"vip_renewal:{alice.pk}:{old_end.isoformat()}"
    assert (renewal.period_start, renewal.period_end) == (old_end, old_end + VIP_PERIOD)
    assert any(e["type"] == "store.vip_renewed" for _, e in captured_events)
    # Run again: nothing is due any more.
    assert renew_memberships() == {"renewed": 0, "lapsed": 0, "skipped": 0}
    assert vip_renew(entitlement_id=row.pk) == "skipped"
    assert Transaction.objects.filter(kind="purchase").count() == 2
    ledger_check_ok()


@pytest.mark.django_db
def test_not_due_yet_is_not_renewed(alice):
    grant(alice, 600)
    buy(alice, "vip-month")
    assert renew_memberships() == {"renewed": 0, "lapsed": 0, "skipped": 0}
    assert wallet_balance(alice) == 300


@pytest.mark.django_db
def test_too_few_coins_lapses_and_tells(alice, captured_events, django_capture_on_commit_callbacks):
    from django.core import mail

    alice.email = "alice@example.com"
    alice.save()
    grant(alice, 350)
    buy(alice, "vip-month")
    row = _due_in(alice, timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert renew_memberships() == {"renewed": 0, "lapsed": 1, "skipped": 0}
    row.refresh_from_db()
    assert row.lapsed_at is not None
    assert wallet_balance(alice) == 50
    assert not Purchase.objects.filter(is_renewal=True).exists()
    lapsed = [(ids, e) for ids, e in captured_events if e["type"] == "store.vip_lapsed"]
    assert lapsed == [
        (
            [alice.pk],
            {
                "type": "store.vip_lapsed",
                "sku": "vip-month",
                "expires_at": row.expires_at.isoformat(),
                "reason": "insufficient_funds",
            },
        )
    ]
    assert [m.to for m in mail.outbox][-1] == ["alice@example.com"]
    # No more attempts, until the user switches auto-renew on again (after a top-up).
    assert renew_memberships()["lapsed"] == 0
    grant(alice, 300)
    vip_auto_renew_set(user=alice, auto_renew=True)
    assert renew_memberships()["renewed"] == 1
    assert wallet_balance(alice) == 50


@pytest.mark.django_db
def test_switched_off_is_not_renewed(alice):
    grant(alice, 600)
    buy(alice, "vip-month")
    vip_auto_renew_set(user=alice, auto_renew=False)
    _due_in(alice, timedelta(minutes=10))
    assert renew_memberships()["renewed"] == 0
    assert wallet_balance(alice) == 300


@pytest.mark.django_db
def test_long_expired_memberships_are_left_to_end(alice):
    grant(alice, 600)
    buy(alice, "vip-month")
    _due_in(alice, -timedelta(days=10))
    assert renew_memberships()["renewed"] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_renewal_task_run_concurrently_charges_once(make_user):
    people = [make_user() for _ in range(3)]
    for person in people:
        grant(person, 600)
        buy(person, "vip-month")
        _due_in(person, timedelta(minutes=5))
    results, errors = race(4, lambda _: renew_memberships())
    assert errors == []
    assert sum(r["renewed"] for r in results) == 3
    for person in people:
        assert wallet_balance(person) == 0
        assert Purchase.objects.filter(buyer=person, is_renewal=True).count() == 1
    ledger_check_ok()
