"""The coins services called directly: transfers, promotional grants, top-up orders, provider
events, and the demo data."""

import pytest

from accounts.errors import NotFriends
from coins import services
from coins.demo import seed_coins
from coins.errors import InsufficientFunds
from coins.ledger import wallet_balance
from coins.models import Account, OperatorAction, PaymentEvent, Topup, TopupPackage, Transaction
from coins.payments.errors import AmountMismatch, MalformedNotification, PaymentsUnavailable, UnknownTopup
from core.exceptions import IdempotencyKeyReused, InvalidInput, NotFound
from tests.coins.helpers import grant
from tests.coins.payment_support import event_for, make_package, make_topup, record_receipt_dispatches

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receipts(monkeypatch) -> list[int]:
    return record_receipt_dispatches(monkeypatch)


@pytest.fixture
def bob(make_user, user, friends):
    bob = make_user()
    friends(user, bob)
    return bob


def send(sender, to, amount, key="k", memo=""):
    return services.transfer_create(
        sender=sender, to_number=to.number, amount=amount, memo=memo, idempotency_key=key
    )


# --- transfers -------------------------------------------------------------------------------------


def test_transfer_returns_the_transaction_and_the_senders_balance(user, bob):
    grant(user, 50)
    result = send(user, bob, 20, memo="hi")
    assert result.balance == 30
    assert result.transaction.kind == "transfer" and result.transaction.memo == "hi"
    assert result.transaction.idempotency_key == f"transfer:{user.pk}:k"
    assert wallet_balance(bob) == 20


def test_transfer_with_a_used_key_returns_the_first(user, bob):
    grant(user, 50)
    first = send(user, bob, 20)
    grant(user, 5)
    again = send(user, bob, 20)
    assert again.transaction.pk == first.transaction.pk and again.balance == 30
    assert wallet_balance(bob) == 20


def test_transfer_key_reused_for_another_amount_is_refused(user, bob):
    grant(user, 50)
    send(user, bob, 20)
    with pytest.raises(IdempotencyKeyReused):
        send(user, bob, 21)


def test_transfer_keys_are_per_sender(user, bob):
    grant(user, 50)
    grant(bob, 50)
    send(user, bob, 20, key="same")
    send(bob, user, 5, key="same")
    assert wallet_balance(user) == 35 and wallet_balance(bob) == 65


@pytest.mark.parametrize("amount", [0, -5, True, 2.0, "3", 1_000_001])
def test_transfer_amount_checked_by_the_service_too(user, bob, amount):
    grant(user, 2_000_000)
    with pytest.raises(InvalidInput):
        send(user, bob, amount)


def test_transfer_refusals(user, bob, make_user):
    grant(user, 5)
    with pytest.raises(NotFriends):
        send(user, make_user(), 1)
    with pytest.raises(InvalidInput):
        send(user, user, 1)
    with pytest.raises(NotFound):
        services.transfer_create(sender=user, to_number=1, amount=1, idempotency_key="x")
    with pytest.raises(InsufficientFunds):
        send(user, bob, 6)
    assert not Transaction.objects.filter(kind="transfer").exists()


@pytest.mark.django_db(transaction=True)
def test_a_refused_first_transfer_creates_no_wallets(user, bob):
    # given: neither has a wallet yet (nobody ever sent or received coins)
    assert not Account.objects.filter(user__in=[user, bob]).exists()
    # when: the first transfer is refused, called outside any transaction
    with pytest.raises(InsufficientFunds):
        send(user, bob, 1)
    # then: nothing was written, not even the empty wallets
    assert not Account.objects.filter(user__in=[user, bob]).exists()


# --- promotional grants ----------------------------------------------------------------------------


def test_promotion_grant_by_an_operator_is_audited(user, make_user):
    operator = make_user(is_staff=True)
    txn = services.promotion_grant(user=user, amount=25, operator=operator, reason="apology")
    assert wallet_balance(user) == 25
    assert txn.kind == "promotion" and txn.actor == operator and txn.cause == "admin"
    action = OperatorAction.objects.get()
    assert (action.operator, action.action, action.reason, action.result_transaction) == (
        operator,
        "grant",
        "apology",
        txn,
    )


def test_promotion_grant_with_a_key_is_applied_once(user):
    services.promotion_grant(user=user, amount=10, idempotency_key="g1")
    services.promotion_grant(user=user, amount=10, idempotency_key="g1")
    assert wallet_balance(user) == 10 and not OperatorAction.objects.exists()


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_promotion_grant_amount_must_be_positive(user, amount):
    with pytest.raises(InvalidInput):
        services.promotion_grant(user=user, amount=amount)


# --- top-ups ---------------------------------------------------------------------------------------


def test_topup_create_copies_the_package(user):
    package = make_package(980, 9800, "CNY")
    topup = services.topup_create(user=user, package_id=package.pk)
    package.price_minor = 1
    package.save()
    topup.refresh_from_db()
    assert (topup.coins, topup.price_minor, topup.currency, topup.status) == (980, 9800, "CNY", "pending")


def test_topup_create_refusals(user, settings):
    inactive = make_package(active=False)
    with pytest.raises(InvalidInput) as excinfo:
        services.topup_create(user=user, package_id=inactive.pk)
    assert "package" in excinfo.value.fields
    settings.PAYMENTS_SANDBOX_SECRET = ""
    with pytest.raises(PaymentsUnavailable):
        services.topup_create(user=user, package_id=make_package().pk)
    assert not Topup.objects.exists()


def test_payment_event_apply_outcomes(user):
    topup = make_topup(user)
    apply = lambda payload: services.payment_event_apply(provider="sandbox", payload=payload)  # noqa: E731

    assert apply(event_for(topup, "payment.succeeded", "p")).outcome == "credited"
    assert apply(event_for(topup, "payment.succeeded", "p")).outcome == "duplicate"
    assert apply(event_for(topup, "payment.refunded", "p")).outcome == "refunded"
    assert wallet_balance(user) == 0
    assert list(PaymentEvent.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "credited",
        "refunded",
    ]


def test_payment_event_apply_refusals_write_nothing(user):
    topup = make_topup(user)
    with pytest.raises(UnknownTopup):
        services.payment_event_apply(provider="other", payload=event_for(topup))
    with pytest.raises(AmountMismatch):
        services.payment_event_apply(provider="sandbox", payload=event_for(topup, amount_minor=1))
    with pytest.raises(MalformedNotification):
        services.payment_event_apply(provider="sandbox", payload={"event": "payment.succeeded"})
    assert not PaymentEvent.objects.exists()
    topup.refresh_from_db()
    assert topup.status == "pending"


# --- demo data -------------------------------------------------------------------------------------


def test_seed_coins_is_idempotent(make_user):
    people = {"alice": make_user(username="alice"), "bob": make_user(username="bob")}

    seed_coins(people)
    seed_coins(people)

    assert TopupPackage.objects.count() == 4
    assert wallet_balance(people["bob"]) == 100
    assert wallet_balance(people["alice"]) == 100 + 60
    assert Topup.objects.get(user=people["alice"]).status == "paid"
    assert PaymentEvent.objects.count() == 1
