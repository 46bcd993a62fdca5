"""One posting rule, proven twice: on PostgreSQL `ledger_post` is one call of the
`coins_ledger_post` function (coins/sql/ledger_post.sql), on SQLite the ORM steps of `_post_orm`.
One table of cases runs through BOTH on PostgreSQL, each inside a savepoint rolled back
afterwards, on the same fixtures, with the same clock and the same next transaction and entry ids;
the outcome (error class, or the transaction answered and whether it was a replay), the rows
written (transaction, entries with balance-after, sequence and hash chain) and every account's
balance, entry count and last hash afterwards must be the same."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DataError, connection, transaction

from accounts.models import User
from coins import ledger
from coins.errors import AlreadyReversed, InsufficientFunds, UnknownAccount
from coins.hashing import entry_hash
from coins.ledger import Leg, credit, debit, ledger_reverse, system_account, wallet_for
from coins.models import Account, Entry, Transaction
from core.exceptions import IdempotencyKeyReused
from tests.coins.helpers import grant, transfer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PATHS = {"postgres": ledger._post_postgres, "orm": ledger._post_orm}
ERRORS = (AlreadyReversed, InsufficientFunds, UnknownAccount, IdempotencyKeyReused, DataError)
NOW = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


@dataclass
class World:
    alice: User  # 90 coins
    bob: User  # 10 coins
    carol: User  # an empty wallet
    promotions: Account
    revenue: Account
    keyed: Transaction  # Alice's transfer of 10 to Bob, key "paid-once"
    reversed: Transaction  # a transfer of 5 from Alice to Bob, already reversed

    def wallet(self, name: str) -> Account:
        return wallet_for(getattr(self, name))


@pytest.fixture
def world(make_user) -> World:
    alice, bob, carol = make_user(), make_user(), make_user()
    grant(alice, 100)
    keyed = transfer(alice, bob, 10, key="paid-once")
    reversed_ = transfer(alice, bob, 5)
    ledger_reverse(original=reversed_, reason="mistake")
    wallet_for(carol)
    return World(
        alice,
        bob,
        carol,
        system_account("promotions", shard=0),
        system_account("store:revenue", shard=0),
        keyed,
        reversed_,
    )


@dataclass(frozen=True)
class Case:
    legs: Callable[[World], list[Leg]]
    kind: str = "transfer"
    memo: str = ""
    metadata: dict | None = None
    key: str | None = None
    reverses: Callable[[World], Transaction] | None = None
    actor: str | None = None
    setup: Callable[[World], Any] | None = None


def pay(source: str, target: str, amount: int) -> Callable[[World], list[Leg]]:
    return lambda w: [debit(w.wallet(source), amount), credit(w.wallet(target), amount)]


def missing_account() -> Account:
    return Account(pk=2**62, kind=Account.Kind.WALLET, normal_side="credit")


def near_overflow(w: World) -> None:
    Account.objects.filter(pk=w.revenue.pk).update(balance=2**63 - 5)


CASES = {
    "transfer": Case(pay("alice", "bob", 30), memo="lunch", metadata={"from": 1, "to": 2, "note": "鱼"}),
    "transfer of the whole balance": Case(pay("alice", "carol", 90)),
    "one coin too many": Case(pay("alice", "carol", 91)),
    "from an empty wallet": Case(pay("carol", "alice", 1)),
    "grant from promotions": Case(
        lambda w: [debit(w.promotions, 7), credit(w.wallet("carol"), 7)], kind="promotion", memo="welcome"
    ),
    "purchase into revenue": Case(
        lambda w: [debit(w.wallet("bob"), 4), credit(w.revenue, 4)], kind="purchase", actor="bob"
    ),
    "a system account may go below zero": Case(
        lambda w: [debit(w.revenue, 50), credit(w.wallet("carol"), 50)], kind="reversal"
    ),
    "three legs": Case(
        lambda w: [debit(w.wallet("alice"), 9), credit(w.wallet("bob"), 4), credit(w.wallet("carol"), 5)]
    ),
    "one account twice, net zero": Case(
        lambda w: [debit(w.wallet("alice"), 90), credit(w.wallet("alice"), 90)]
    ),
    "one account twice, credit after a debit it cannot cover": Case(
        lambda w: [debit(w.wallet("carol"), 5), credit(w.wallet("carol"), 5)]
    ),
    "one account twice, credit first": Case(
        lambda w: [credit(w.wallet("carol"), 5), debit(w.wallet("carol"), 5)]
    ),
    "legs in descending account order": Case(pay("bob", "alice", 3)),
    "new key": Case(pay("alice", "bob", 1), key="fresh", actor="alice"),
    "key replayed": Case(pay("alice", "bob", 10), key="paid-once", actor="alice"),
    "key replayed with other legs": Case(pay("bob", "carol", 2), key="paid-once"),
    "key replayed when the funds are gone": Case(pay("carol", "bob", 10), key="paid-once"),
    "key reused for another kind": Case(pay("alice", "bob", 10), kind="purchase", key="paid-once"),
    "reversal": Case(
        lambda w: ledger.reversal_legs(w.keyed), kind="reversal", reverses=lambda w: w.keyed, actor="carol"
    ),
    "reversal already done": Case(
        lambda w: ledger.reversal_legs(w.reversed), kind="reversal", reverses=lambda w: w.reversed
    ),
    "reversal already done and too few coins": Case(
        lambda w: ledger.reversal_legs(w.reversed),
        kind="reversal",
        reverses=lambda w: w.reversed,
        setup=lambda w: transfer(w.bob, w.carol, 10),
    ),
    "reversal with too few coins": Case(
        lambda w: ledger.reversal_legs(w.keyed),
        kind="reversal",
        reverses=lambda w: w.keyed,
        setup=lambda w: transfer(w.bob, w.carol, 10),
    ),
    "keyed reversal replayed": Case(
        lambda w: ledger.reversal_legs(w.reversed),
        kind="transfer",
        key="paid-once",
        reverses=lambda w: w.reversed,
    ),
    "unknown account": Case(
        lambda w: [debit(w.promotions, 1), credit(missing_account(), 1)], kind="promotion"
    ),
    "unknown account after a leg without funds": Case(
        lambda w: [debit(w.wallet("carol"), 1), credit(missing_account(), 1)]
    ),
    "balance past 64 bits": Case(
        lambda w: [debit(w.promotions, 10), credit(w.revenue, 10)], kind="promotion", setup=near_overflow
    ),
}


def _state() -> dict[int, tuple]:
    return {
        pk: tuple(rest)
        for pk, *rest in Account.objects.order_by("pk").values_list(
            "pk", "balance", "entry_count", "last_hash"
        )
    }


def _next_ids(transaction_id: int, entry_id: int) -> None:
    """The next transaction and entry ids, the same for both paths (sequences ignore rollbacks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('coins_transaction', 'id'), %s, false), "
            "setval(pg_get_serial_sequence('coins_entry', 'id'), %s, false)",
            [transaction_id, entry_id],
        )


def run(path: str, case: Case, w: World, next_ids: tuple[int, int]) -> dict[str, Any]:
    """The outcome of one posting through one path, and what it wrote; everything is rolled back."""
    with transaction.atomic():
        if case.setup is not None:
            case.setup(w)
        before_txns = set(Transaction.objects.values_list("pk", flat=True))
        before_entries = set(Entry.objects.values_list("pk", flat=True))
        before = _state()
        _next_ids(*next_ids)
        outcome: dict[str, Any] = {}
        try:
            with transaction.atomic():
                txn = PATHS[path](
                    kind=case.kind,
                    legs=case.legs(w),
                    memo=case.memo,
                    metadata=case.metadata or {},
                    idempotency_key=case.key,
                    actor=getattr(w, case.actor) if case.actor else None,
                    cause="parity",
                    reverses=case.reverses(w) if case.reverses else None,
                    now=NOW,
                )
        except ERRORS as error:
            outcome["error"] = type(error).__name__
        else:
            outcome["answer"] = (txn.pk, txn.replayed, txn.kind)
            if not txn.replayed:
                outcome["returned"] = [
                    (e.pk, e.account_id, e.side, e.amount, e.balance_after, e.sequence, e.prev_hash, e.hash)
                    for e in txn.posted_entries
                ]
                outcome["wallets"] = [(e.account_id, user_id) for e, user_id in txn.posted_wallets]
        new_txns = Transaction.objects.exclude(pk__in=before_txns)
        outcome["transactions"] = list(
            new_txns.values_list(
                "pk", "kind", "memo", "metadata", "idempotency_key", "actor_id", "cause", "reverses_id"
            )
        )
        outcome["entries"] = list(
            Entry.objects.exclude(pk__in=before_entries)
            .order_by("pk")
            .values_list(
                "pk",
                "transaction_id",
                "account_id",
                "side",
                "amount",
                "balance_after",
                "sequence",
                "prev_hash",
                "hash",
                "created_at",
            )
        )
        after = _state()
        outcome["accounts_changed"] = {pk: state for pk, state in after.items() if before.get(pk) != state}
        transaction.set_rollback(True)
    return outcome


def _fresh_ids() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) + 1000 FROM coins_transaction")
        txn = cursor.fetchone()[0]
        cursor.execute("SELECT max(id) + 1000 FROM coins_entry")
        return txn, cursor.fetchone()[0]


@pytest.mark.parametrize("name", list(CASES))
def test_both_posting_paths_agree(world, name):
    case = CASES[name]
    ids = _fresh_ids()
    postgres, orm = run("postgres", case, world, ids), run("orm", case, world, ids)
    assert postgres == orm
    # and nothing was left behind by either
    assert Transaction.objects.count() == 4


def test_the_expected_outcomes(world):
    """What the cases should answer (the paths agreeing is not enough: both could be wrong)."""
    expectations = {
        "transfer": "ok",
        "transfer of the whole balance": "ok",
        "one coin too many": "InsufficientFunds",
        "from an empty wallet": "InsufficientFunds",
        "a system account may go below zero": "ok",
        "one account twice, net zero": "ok",
        "one account twice, credit after a debit it cannot cover": "InsufficientFunds",
        "one account twice, credit first": "ok",
        "key replayed": "replayed",
        "key replayed with other legs": "replayed",
        "key replayed when the funds are gone": "replayed",
        "key reused for another kind": "IdempotencyKeyReused",
        "reversal": "ok",
        "reversal already done": "AlreadyReversed",
        "reversal already done and too few coins": "AlreadyReversed",
        "reversal with too few coins": "InsufficientFunds",
        "keyed reversal replayed": "replayed",
        "unknown account": "UnknownAccount",
        "unknown account after a leg without funds": "InsufficientFunds",
        "balance past 64 bits": "DataError",
    }
    for name, expected in expectations.items():
        outcome = run("postgres", CASES[name], world, _fresh_ids())
        got = outcome.get("error") or ("replayed" if outcome["answer"][1] else "ok")
        assert (name, got) == (name, expected)
        if got == "replayed":
            assert outcome["answer"][0] == world.keyed.pk
        if got != "ok":
            assert (
                outcome["transactions"] == []
                and outcome["entries"] == []
                and outcome["accounts_changed"] == {}
            )


def test_hashes_and_balances_written_by_the_function_check_out(world):
    outcome = run("postgres", CASES["one account twice, credit first"], world, _fresh_ids())
    carol = world.wallet("carol")
    [(txn_id, *_)] = outcome["transactions"]
    prev = carol.last_hash
    for (
        _pk,
        entry_txn,
        account,
        side,
        amount,
        balance_after,
        sequence,
        prev_hash,
        digest,
        created_at,
    ) in outcome["entries"]:
        assert (entry_txn, account, prev_hash, created_at) == (txn_id, carol.pk, prev, NOW)
        assert digest == entry_hash(
            prev_hash=prev,
            account_id=account,
            sequence=sequence,
            transaction_id=txn_id,
            side=side,
            amount=amount,
            balance_after=balance_after,
            created_at=created_at,
        )
        prev = digest
    assert [e[5:7] for e in outcome["entries"]] == [(5, 1), (0, 2)]
    assert outcome["accounts_changed"] == {carol.pk: (0, 2, prev)}
