"""The store's services on the real database: buying for oneself and as a gift, what is owned,
quantities, VIP periods, replays by request key, receipts and the events a gift sends."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.errors import Blocked, NotFriends
from accounts.models import Block
from coins.errors import InsufficientFunds
from coins.models import Receipt, Transaction
from core.exceptions import IdempotencyKeyReused, InvalidInput, NotFound
from messaging.models import Message
from store import selectors
from store.errors import AlreadyOwned
from store.models import Entitlement, Item, Purchase
from store.services import VIP_PERIOD
from tests.factories import make_friends
from tests.store.helpers import buy, grant, ledger_check_ok, purchase_transactions, wallet_balance

pytestmark = pytest.mark.usefixtures("catalog")


@pytest.mark.django_db
def test_a_purchase_charges_the_wallet_once_and_gives_the_item(alice):
    grant(alice, 100)
    purchase = buy(alice, "stickers-faces")
    assert wallet_balance(alice) == 70
    assert (purchase.quantity, purchase.price_total, purchase.recipient) == (1, 30, alice)
    txn = purchase.transaction
    assert txn.kind == Transaction.Kind.PURCHASE
    assert txn.idempotency_key == f"purchase:{purchase.pk}"
    assert sorted((e.account.kind, e.side, e.amount) for e in txn.entries.all()) == [
        ("system", "credit", 30),
        ("wallet", "debit", 30),
    ]
    assert txn.entries.get(account__kind="system").account.purpose == "store:revenue"
    pack = Item.objects.get(sku="stickers-faces")
    assert selectors.owned_item_ids(alice) == {pack.pk}
    ledger_check_ok()


@pytest.mark.django_db
def test_a_purchase_issues_a_receipt(alice, django_capture_on_commit_callbacks):
    alice.email = "alice@example.com"
    alice.save()
    grant(alice, 100)
    with django_capture_on_commit_callbacks(execute=True):
        purchase = buy(alice, "bubble-ocean")
    receipt = Receipt.objects.get(transaction=purchase.transaction)
    assert (receipt.user, receipt.coins) == (alice, 60)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


@pytest.mark.django_db
def test_too_few_coins_writes_nothing(alice):
    grant(alice, 29)
    with pytest.raises(InsufficientFunds):
        buy(alice, "stickers-faces")
    assert wallet_balance(alice) == 29
    assert not Purchase.objects.exists()
    assert not Entitlement.objects.filter(quantity__gt=0).exists()
    assert purchase_transactions(alice) == []


@pytest.mark.django_db
def test_a_non_consumable_is_bought_once(alice):
    grant(alice, 200)
    buy(alice, "name-violet")
    with pytest.raises(AlreadyOwned):
        buy(alice, "name-violet")
    assert wallet_balance(alice) == 160
    assert len(purchase_transactions(alice)) == 1


@pytest.mark.django_db
def test_gifts_add_up_in_quantities(alice):
    grant(alice, 600)
    buy(alice, "gift-rose", quantity=3)
    purchase = buy(alice, "gift-rose", quantity=99)
    assert purchase.price_total == 99 * 5
    assert wallet_balance(alice) == 600 - 102 * 5
    [line] = selectors.inventory_of(alice)
    assert (line.item.sku, line.quantity, line.expires_at) == ("gift-rose", 102, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sku", "quantity", "field"),
    [
        ("nope", 1, "sku"),
        ("gift-rose", 0, "quantity"),
        ("gift-rose", 100, "quantity"),
        ("gift-rose", True, "quantity"),
        ("gift-rose", "2", "quantity"),
        ("bubble-ocean", 2, "quantity"),
    ],
)
def test_bad_input_is_refused(alice, sku, quantity, field):
    grant(alice, 1000)
    with pytest.raises(InvalidInput) as caught:
        buy(alice, sku, quantity=quantity)
    assert field in caught.value.fields
    assert wallet_balance(alice) == 1000


@pytest.mark.django_db
def test_an_item_off_sale_cannot_be_bought(alice):
    grant(alice, 100)
    Item.objects.filter(sku="gift-cake").update(active=False)
    with pytest.raises(InvalidInput):
        buy(alice, "gift-cake")


@pytest.mark.django_db
def test_the_same_request_key_buys_once(alice):
    grant(alice, 100)
    first = buy(alice, "gift-heart", quantity=2, idempotency_key="k1")
    again = buy(alice, "gift-heart", quantity=2, idempotency_key="k1")
    assert again.pk == first.pk and again.replayed
    assert wallet_balance(alice) == 80
    with pytest.raises(IdempotencyKeyReused):
        buy(alice, "gift-heart", quantity=3, idempotency_key="k1")


@pytest.mark.django_db
def test_a_gift_goes_to_the_friend_who_is_told(
    alice, bob, captured_events, django_capture_on_commit_callbacks
):
    make_friends(alice, bob)
    grant(alice, 100)
    with django_capture_on_commit_callbacks(execute=True):
        purchase = buy(alice, "gift-cake", gift_to=bob.number)
    assert purchase.recipient == bob and purchase.is_gift
    assert wallet_balance(alice) == 50 and wallet_balance(bob) == 0
    assert [(e.item.sku, e.quantity) for e in selectors.inventory_of(bob)] == [("gift-cake", 1)]
    assert selectors.inventory_of(alice) == []
    gift_events = [(ids, e) for ids, e in captured_events if e["type"] == "store.gift"]
    assert gift_events == [
        (
            [bob.pk],
            {
                "type": "store.gift",
                "purchase": purchase.pk,
                "sku": "gift-cake",
                "name": "Birthday cake",
                "kind": "gift",
                "quantity": 1,
                "from": {"number": alice.number, "display_name": alice.display_name},
            },
        )
    ]
    message = Message.objects.get(kind=Message.Kind.GIFT)
    assert message.sender == alice
    assert message.data == {
        "purchase": purchase.pk,
        "sku": "gift-cake",
        "name": "Birthday cake",
        "quantity": 1,
        "image_url": "/static/store/gift-cake.svg",
    }
    assert sorted(m.user_id for m in message.conversation.memberships.all()) == sorted([alice.pk, bob.pk])
    new_messages = [ids for ids, e in captured_events if e["type"] == "message.new"]
    assert new_messages == [sorted([alice.pk, bob.pk])]


@pytest.mark.django_db
def test_a_non_consumable_gift_to_someone_who_owns_it_is_already_owned(alice, bob):
    make_friends(alice, bob)
    grant(alice, 100)
    grant(bob, 100)
    buy(bob, "stickers-faces")
    with pytest.raises(AlreadyOwned):
        buy(alice, "stickers-faces", gift_to=bob.number)
    assert wallet_balance(alice) == 100


@pytest.mark.django_db
def test_gifts_only_to_friends(alice, bob):
    grant(alice, 100)
    with pytest.raises(NotFriends):
        buy(alice, "gift-rose", gift_to=bob.number)
    with pytest.raises(NotFound):
        buy(alice, "gift-rose", gift_to=987654321)
    with pytest.raises(InvalidInput):
        buy(alice, "gift-rose", gift_to=alice.number)
    assert wallet_balance(alice) == 100


@pytest.mark.django_db
def test_no_gift_to_a_friend_who_blocked_you(alice, bob):
    make_friends(alice, bob)
    Block.objects.create(blocker=bob, blocked=alice)
    grant(alice, 100)
    with pytest.raises(Blocked):
        buy(alice, "gift-rose", gift_to=bob.number)
    assert wallet_balance(alice) == 100
    assert not Purchase.objects.exists()


@pytest.mark.django_db
def test_vip_is_thirty_days_and_a_second_purchase_extends_it(alice):
    grant(alice, 600)
    before = timezone.now()
    first = buy(alice, "vip-month")
    assert before <= first.period_start <= timezone.now()
    assert first.period_end == first.period_start + VIP_PERIOD
    second = buy(alice, "vip-month")
    assert second.period_start == first.period_end
    status = selectors.vip_status(alice)
    assert status.active and status.auto_renew and status.sku == "vip-month"
    assert status.expires_at == first.period_start + 2 * VIP_PERIOD
    assert wallet_balance(alice) == 0


@pytest.mark.django_db
def test_vip_after_an_expired_one_starts_now(alice):
    grant(alice, 600)
    buy(alice, "vip-month")
    Entitlement.objects.update(expires_at=timezone.now() - timedelta(days=1))
    assert not selectors.vip_status(alice).active
    purchase = buy(alice, "vip-month")
    assert purchase.period_start > timezone.now() - timedelta(minutes=1)


@pytest.mark.django_db
def test_vip_given_as_a_gift_does_not_renew_itself(alice, bob):
    make_friends(alice, bob)
    grant(alice, 300)
    buy(alice, "vip-month", gift_to=bob.number)
    status = selectors.vip_status(bob)
    assert status.active and not status.auto_renew
