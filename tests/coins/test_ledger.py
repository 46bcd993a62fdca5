"""The ledger service: balanced postings, balances, sequences, the hash chain, idempotency,
refusals that leave nothing behind, and reversals."""

import pytest

from coins import ledger
from coins.errors import AlreadyReversed, InsufficientFunds, NotReversible, UnbalancedTransaction
from coins.hashing import GENESIS_HASH, entry_hash
from coins.ledger import (
    credit,
    debit,
    ledger_post,
    ledger_reverse,
    reversal_legs,
    system_account,
    wallet_balance,
    wallet_for,
)
from coins.models import Account, Entry, Topup, Transaction
from coins.services import payment_event_apply
from tests.coins.helpers import grant, transfer
from tests.coins.payment_support import event_for, make_topup

pytestmark = pytest.mark.django_db


def test_new_wallet_is_empty(user):
    assert wallet_balance(user) == 0
    assert wallet_for(user).balance == 0


def test_grant_and_transfer_move_balances(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 100)
    txn = transfer(alice, bob, 30)
    assert wallet_balance(alice) == 70
    assert wallet_balance(bob) == 30
    entries = {e.account.user_id: e for e in txn.entries.select_related("account")}
    assert entries[alice.pk].side == "debit" and entries[alice.pk].amount == 30
    assert entries[alice.pk].balance_after == 70
    assert entries[bob.pk].side == "credit" and entries[bob.pk].balance_after == 30


def test_entries_are_numbered_and_hash_chained_per_account(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 50)
    transfer(alice, bob, 5)
    transfer(alice, bob, 7)
    wallet = wallet_for(alice)
    entries = list(Entry.objects.filter(account=wallet).order_by("sequence"))
    assert [e.sequence for e in entries] == [1, 2, 3]
    assert [e.balance_after for e in entries] == [50, 45, 38]
    prev = GENESIS_HASH
    for e in entries:
        assert e.prev_hash == prev
        assert e.hash == entry_hash(
            prev_hash=prev,
            account_id=wallet.pk,
            sequence=e.sequence,
            transaction_id=e.transaction_id,
            side=e.side,
            amount=e.amount,
            balance_after=e.balance_after,
            created_at=e.created_at,
        )
        prev = e.hash
    wallet.refresh_from_db()
    assert wallet.last_hash == prev and wallet.entry_count == 3


def test_insufficient_funds_writes_nothing(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    before = (Transaction.objects.count(), Entry.objects.count())
    with pytest.raises(InsufficientFunds):
        transfer(alice, bob, 11)
    assert (Transaction.objects.count(), Entry.objects.count()) == before
    assert wallet_balance(alice) == 10 and wallet_balance(bob) == 0
    assert wallet_for(alice).entry_count == 1


@pytest.mark.parametrize(
    "amounts",
    [[10, 9], [0, 0], [-5, -5], [1.5, 1.5], [True, True]],
)
def test_unbalanced_or_bad_amounts_never_reach_the_database(user, amounts):
    promotions = system_account("promotions")
    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            kind=Transaction.Kind.PROMOTION,
            legs=[debit(promotions, amounts[0]), credit(wallet_for(user), amounts[1])],
        )
    assert not Transaction.objects.exists()


def test_single_leg_is_refused(user):
    with pytest.raises(UnbalancedTransaction):
        ledger_post(kind=Transaction.Kind.PROMOTION, legs=[credit(wallet_for(user), 5)])


def test_idempotency_key_returns_first_transaction(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    first = transfer(alice, bob, 4, key="t-1")
    again = transfer(alice, bob, 4, key="t-1")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert wallet_balance(bob) == 4


def test_system_accounts_are_sharded(settings, user):
    settings.LEDGER_SYSTEM_ACCOUNT_SHARDS = 4
    for _ in range(40):
        grant(user, 1)
    shards = Account.objects.filter(code__startswith="promotions#")
    assert 2 <= shards.count() <= 4
    assert sum(a.balance for a in shards) == 40  # debit-normal: grants are spent promotion budget
    assert wallet_balance(user) == 40


def test_reversal_mirrors_once(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    original = transfer(alice, bob, 6)
    reversal = ledger_reverse(original=original, reason="sent by mistake")
    assert reversal.reverses_id == original.pk and reversal.kind == "reversal"
    assert wallet_balance(alice) == 10 and wallet_balance(bob) == 0
    with pytest.raises(AlreadyReversed):
        ledger_reverse(original=original, reason="again")
    with pytest.raises(NotReversible):
        ledger_reverse(original=reversal, reason="undo the undo")


def test_a_top_up_refund_cannot_be_reversed(make_user):
    # given a top-up credited and then refunded by the provider
    alice = make_user()
    topup = make_topup(alice)
    payment_event_apply(provider="sandbox", payload=event_for(topup, "payment.succeeded", "pay_1"))
    payment_event_apply(provider="sandbox", payload=event_for(topup, "payment.refunded", "pay_1"))
    topup.refresh_from_db()
    refund = topup.refund_transaction
    assert (topup.status, refund.kind) == (Topup.Status.REFUNDED, "topup_refund")

    # when an operator tries to reverse the refund (which would hand the coins out again)
    with pytest.raises(NotReversible):
        ledger_reverse(original=refund, reason="undo the refund")

    # then nothing is written and the coins stay with the provider
    assert not Transaction.objects.filter(reverses=refund).exists()
    assert wallet_balance(alice) == 0


def test_any_transaction_that_reverses_another_cannot_be_reversed(make_user):
    # a hand-made correction of kind "transfer" that mirrors another is still a reversal
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    original = transfer(alice, bob, 6)
    mirror = ledger_post(
        kind=Transaction.Kind.TRANSFER,
        legs=[debit(wallet_for(bob), 6), credit(wallet_for(alice), 6)],
        reverses=original,
    )
    with pytest.raises(NotReversible):
        ledger_reverse(original=mirror, reason="undo")
    assert (wallet_balance(alice), wallet_balance(bob)) == (10, 0)


def test_reversal_legs_mirror_the_original_entries(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    original = transfer(alice, bob, 6)
    legs = reversal_legs(original)
    assert [(leg.account.pk, leg.side, leg.amount) for leg in legs] == [
        (wallet_for(alice).pk, "credit", 6),
        (wallet_for(bob).pk, "debit", 6),
    ]


def test_operator_reversals_and_top_up_refunds_take_their_legs_from_one_helper(make_user, monkeypatch):
    # STYLE.md: reversal legs come from one helper, nowhere else builds them
    mirrored: list[int] = []
    real = ledger.reversal_legs

    def spy(original: Transaction) -> list:
        mirrored.append(original.pk)
        return real(original)

    monkeypatch.setattr(ledger, "reversal_legs", spy)
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    sent = transfer(alice, bob, 6)
    topup = make_topup(alice)
    payment_event_apply(provider="sandbox", payload=event_for(topup, "payment.succeeded", "pay_1"))
    payment_event_apply(provider="sandbox", payload=event_for(topup, "payment.refunded", "pay_1"))
    topup.refresh_from_db()

    reversal = ledger_reverse(original=sent, reason="mistake")

    assert mirrored == [topup.credit_transaction_id, sent.pk]
    assert (
        reversal.reverses_id == sent.pk
        and topup.refund_transaction.reverses_id == topup.credit_transaction_id
    )
    assert (wallet_balance(alice), wallet_balance(bob)) == (10, 0)


def test_reversal_refused_when_it_would_make_a_wallet_negative(make_user):
    alice, bob, carol = make_user(), make_user(), make_user()
    grant(alice, 10)
    original = transfer(alice, bob, 10)
    transfer(bob, carol, 8)
    with pytest.raises(InsufficientFunds):
        ledger_reverse(original=original, reason="too late")
    assert not Transaction.objects.filter(reverses=original).exists()
    assert wallet_balance(bob) == 2


def test_balance_event_after_commit(make_user, captured_events, django_capture_on_commit_callbacks):
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    with django_capture_on_commit_callbacks(execute=True):
        transfer(alice, bob, 3)
    assert (sorted([alice.pk]), {"type": "coins.balance", "balance": 7}) in captured_events
    assert ([bob.pk], {"type": "coins.balance", "balance": 3}) in captured_events
