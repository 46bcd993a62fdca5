"""Operators' refunds of purchases (store.operator_actions, and the admin action): the ledger
reversal, the entitlement taken back, the audit row; refused once used up or refunded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coins.models import OperatorAction, Transaction
from core.exceptions import InvalidInput
from store import selectors
from store.errors import AlreadyRefunded, NotRefundable
from store.models import Entitlement, Purchase
from store.operator_actions import purchase_refund
from tests.factories import make_friends
from tests.store.helpers import buy, grant, ledger_check_ok, wallet_balance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalog")]


@pytest.fixture
def operator(make_user):
    return make_user(username="op", is_staff=True, is_superuser=True)


def test_refund_gives_the_coins_back_and_takes_the_item(alice, operator):
    grant(alice, 100)
    purchase = buy(alice, "stickers-faces")
    purchase_refund(operator=operator, purchase_id=purchase.pk, reason="bought by mistake")
    assert wallet_balance(alice) == 100
    assert selectors.owned_item_ids(alice) == set()
    purchase.refresh_from_db()
    assert purchase.refunded_at is not None and purchase.refund_reason == "bought by mistake"
    refund = purchase.refund_transaction
    assert (refund.kind, refund.reverses_id, refund.actor) == (
        Transaction.Kind.REVERSAL,
        purchase.transaction_id,
        operator,
    )
    action = OperatorAction.objects.get()
    assert (action.operator, action.action, action.reason) == (operator, "reverse", "bought by mistake")
    assert (action.target_transaction_id, action.result_transaction_id) == (
        purchase.transaction_id,
        refund.pk,
    )
    assert action.details["store_purchase"] == purchase.pk
    # Once only, and it can be bought again afterwards.
    with pytest.raises(AlreadyRefunded):
        purchase_refund(operator=operator, purchase_id=purchase.pk, reason="again")
    buy(alice, "stickers-faces")
    assert wallet_balance(alice) == 70
    ledger_check_ok()


def test_a_reason_is_required(alice, operator):
    grant(alice, 100)
    purchase = buy(alice, "gift-rose")
    with pytest.raises(InvalidInput):
        purchase_refund(operator=operator, purchase_id=purchase.pk, reason="  ")
    assert not OperatorAction.objects.exists()


def test_gift_refund_takes_it_from_the_recipient_unless_used_up(alice, bob, operator):
    make_friends(alice, bob)
    grant(alice, 100)
    first = buy(alice, "gift-rose", quantity=2, gift_to=bob.number)
    second = buy(alice, "gift-rose", quantity=3, gift_to=bob.number)
    purchase_refund(operator=operator, purchase_id=second.pk, reason="wrong person")
    assert Entitlement.objects.get(user=bob).quantity == 2
    assert wallet_balance(alice) == 90
    # Bob used one rose: the other purchase of two is used up.
    Entitlement.objects.filter(user=bob).update(quantity=1)
    with pytest.raises(NotRefundable):
        purchase_refund(operator=operator, purchase_id=first.pk, reason="wrong person")
    assert wallet_balance(alice) == 90
    assert Purchase.objects.get(pk=first.pk).refunded_at is None


def test_vip_refund_shortens_the_membership_unless_the_period_ended(alice, operator):
    grant(alice, 900)
    first = buy(alice, "vip-month")
    second = buy(alice, "vip-month")
    purchase_refund(operator=operator, purchase_id=second.pk, reason="double purchase")
    row = Entitlement.objects.get(user=alice)
    assert row.expires_at == first.period_end
    assert wallet_balance(alice) == 600
    # A period that has ended cannot be refunded.
    Purchase.objects.filter(pk=first.pk).update(period_end=timezone.now() - timedelta(seconds=1))
    with pytest.raises(NotRefundable):
        purchase_refund(operator=operator, purchase_id=first.pk, reason="late")
    ledger_check_ok()


def test_the_admin_action_asks_for_a_reason_and_refunds(alice, operator, client):
    grant(alice, 100)
    purchase = buy(alice, "bubble-sakura")
    client.force_login(operator)
    url = "/admin/store/purchase/"
    assert client.get(url).status_code == 200
    page = client.post(url, {"action": "refund_purchases", "_selected_action": [purchase.pk]})
    assert page.status_code == 200 and b"reason" in page.content
    done = client.post(
        url,
        {"action": "refund_purchases", "_selected_action": [purchase.pk], "post": "yes", "reason": "support"},
    )
    assert done.status_code == 302
    assert Purchase.objects.get(pk=purchase.pk).refunded_at is not None
    assert wallet_balance(alice) == 100
    assert client.get("/admin/store/item/").status_code == 200
    assert client.get("/admin/store/entitlement/").status_code == 200
