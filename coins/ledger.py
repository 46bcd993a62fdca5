"""The one ledger service: every balance change in Huddle is a call to `ledger_post`.

`ledger_post` posts a balanced transaction atomically:
1. validates the legs (two or more, positive whole amounts, debits == credits) before touching
   the database;
2. answers a repeated idempotency key with the first transaction (and a second reversal of one
   transaction with AlreadyReversed) before taking any lock;
3. locks the touched accounts in one query in primary-key order (no deadlocks) and applies the
   legs in order, refusing with InsufficientFunds a wallet that would go below zero;
4. inserts the transaction (its unique key settles a retry that raced step 2), the entries with
   balance-after, sequence number and hash chain, and the accounts' cached state;
5. commits (the caller's transaction, if any, decides); balance events go out after commit.
Nothing is written unless all of it is. On PostgreSQL steps 2-4 are one call of the
`coins_ledger_post` function (coins/sql/ledger_post.sql): one round trip, so a hot wallet stays
locked only for that statement and its commit; elsewhere (SQLite) `_post_orm` runs the same
steps through the ORM, and tests/coins/test_ledger_parity.py proves both write the same rows,
balances and hashes and refuse the same way. The database still guards whatever any path
writes (migration 0002: balanced transactions, append-only entries; wallet_not_negative).

Corrections are reversing transactions built by one helper, `ledger_post_reversal` (mirror legs
from `reversal_legs`): at most one per transaction, and never of a transaction that itself
reverses or refunds another (that would hand the coins out again).

System accounts that much traffic touches (payment providers, store revenue, promotions, red
packet escrow) are split into shards, `purpose#0` … `purpose#N-1`, and each posting picks one at
random, so purchases do not queue behind one row lock. A purpose's balance is its shards' sum.
"""

import functools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from coins.errors import (
    AlreadyReversed,
    InsufficientFunds,
    NotReversible,
    UnbalancedTransaction,
    UnknownAccount,
)
from coins.hashing import entry_hash
from coins.lock_objects import accounts_for_update, accounts_save_state
from coins.models import Account, Entry, Side, Transaction
from core import metrics
from core.exceptions import IdempotencyKeyReused
from messaging import realtime

# Purposes of system accounts and their normal side (debit-normal: assets and expenses).
SYSTEM_PURPOSES: dict[str, str] = {
    "provider:sandbox": Side.DEBIT,
    "promotions": Side.DEBIT,
    "store:revenue": Side.CREDIT,
    "red_packets:escrow": Side.CREDIT,
}


@dataclass(frozen=True)
class Leg:
    account: Account
    side: str
    amount: int


def debit(account: Account, amount: int) -> Leg:
    return Leg(account, Side.DEBIT, amount)


def credit(account: Account, amount: int) -> Leg:
    return Leg(account, Side.CREDIT, amount)


def wallet_for(user: User) -> Account:
    """The user's wallet (created empty on first use)."""
    wallet, _ = Account.objects.get_or_create(
        user=user, defaults={"kind": Account.Kind.WALLET, "normal_side": Side.CREDIT}
    )
    return wallet


def wallets_for(users: Sequence[User]) -> list[Account]:
    """The users' wallets, in the order given, in one query (wallets created empty on first use)."""
    found = {account.user_id: account for account in Account.objects.filter(user__in=users)}
    return [found.get(user.pk) or wallet_for(user) for user in users]


def wallet_balance(user: User) -> int:
    balance = Account.objects.filter(user=user).values_list("balance", flat=True).first()
    return balance or 0


def system_account(purpose: str, *, shard: int | None = None) -> Account:
    """One shard of a system account (a random one unless given), created on first use."""
    if purpose not in SYSTEM_PURPOSES:
        raise ValueError(f"unknown system account purpose {purpose!r}")
    shards = settings.LEDGER_SYSTEM_ACCOUNT_SHARDS
    shard = random.randrange(shards) if shard is None else shard
    account, _ = Account.objects.get_or_create(
        code=f"{purpose}#{shard}",
        defaults={"kind": Account.Kind.SYSTEM, "normal_side": SYSTEM_PURPOSES[purpose]},
    )
    return account


def _check_legs(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedTransaction()
    for leg in legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int) or leg.amount <= 0:
            raise UnbalancedTransaction("Every leg needs a positive whole amount.")
        if leg.side not in (Side.DEBIT, Side.CREDIT):
            raise UnbalancedTransaction(f"Unknown side {leg.side!r}.")
    debits = sum(leg.amount for leg in legs if leg.side == Side.DEBIT)
    credits = sum(leg.amount for leg in legs if leg.side == Side.CREDIT)
    if debits != credits:
        raise UnbalancedTransaction(f"Debits {debits} != credits {credits}.")


def _settled(idempotency_key: str | None, kind: str, reverses: Transaction | None) -> Transaction | None:
    """What an earlier posting already settled: the transaction of an idempotency key already used
    (`.replayed = True`; IdempotencyKeyReused if it is of another kind), AlreadyReversed when
    `reverses` has its reversal, else None."""
    if idempotency_key is not None:
        existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.kind != kind:
                raise IdempotencyKeyReused()
            existing.replayed = True
            return existing
    if reverses is not None and Transaction.objects.filter(reverses=reverses).exists():
        raise AlreadyReversed()
    return None


def ledger_post(
    *,
    kind: str,
    legs: Sequence[Leg],
    memo: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    actor: User | None = None,
    cause: str = "",
    reverses: Transaction | None = None,
) -> Transaction:
    """Post one balanced transaction; see the module docstring. Raises InsufficientFunds (and
    writes nothing) if a wallet would go below zero, AlreadyReversed when `reverses` already has
    its reversal. With an idempotency key already used, returns that transaction (with
    `.replayed = True`) and writes nothing. The posted entries are in `.posted_entries`.

    On PostgreSQL the posting is one call of the `coins_ledger_post` function (one round trip; in
    autocommit it is its own database transaction, inside the caller's it joins it); elsewhere
    the same steps run through the ORM (`_post_orm`). tests/coins/test_ledger_parity.py proves
    the two agree."""
    _check_legs(legs)
    post = _post_postgres if connection.vendor == "postgresql" else _post_orm
    txn = post(
        kind=kind,
        legs=legs,
        memo=memo[:200],
        metadata=metadata or {},
        idempotency_key=idempotency_key,
        actor=actor,
        cause=cause,
        reverses=reverses,
        now=timezone.now(),
    )
    if not txn.replayed:
        wallets = {e.account_id: (user_id, e.balance_after) for e, user_id in txn.posted_wallets if user_id}
        events = [
            ([user_id], {"type": "coins.balance", "balance": balance})
            for _, (user_id, balance) in sorted(wallets.items())
        ]
        transaction.on_commit(functools.partial(_after_commit, kind, events))
    return txn


def _after_commit(kind: str, events: list[tuple[list[int], dict[str, Any]]]) -> None:
    """Count the posting and send the wallets' balance events, all in one Redis round trip (a
    transfer's two events were two, half of a posting's Python CPU; docs/PERFORMANCE.md)."""
    metrics.ledger_transactions.labels(kind).inc()
    if events:
        realtime.send_events_now(events)


def _post_orm(
    *,
    kind: str,
    legs: Sequence[Leg],
    memo: str,
    metadata: dict[str, Any],
    idempotency_key: str | None,
    actor: User | None,
    cause: str,
    reverses: Transaction | None,
    now: datetime,
) -> Transaction:
    """ledger_post's steps through the ORM (SQLite; on PostgreSQL only the parity test runs it).
    The same steps, in the same order, as coins/sql/ledger_post.sql."""
    with transaction.atomic():
        # 1. settled before any lock
        if (settled := _settled(idempotency_key, kind, reverses)) is not None:
            return settled
        # 2. lock in one ordered query; 3. apply the legs in order
        accounts = accounts_for_update(leg.account.pk for leg in legs)
        staged: list[tuple[Leg, Account, int, int]] = []
        for leg in legs:
            account = accounts.get(leg.account.pk)
            if account is None:
                raise UnknownAccount()
            account.balance += leg.amount if leg.side == account.normal_side else -leg.amount
            if account.kind == Account.Kind.WALLET and account.balance < 0:
                # a post with the same key (or reversal) may have committed while we waited
                if (settled := _settled(idempotency_key, kind, reverses)) is not None:
                    return settled
                raise InsufficientFunds()
            account.entry_count += 1
            staged.append((leg, account, account.balance, account.entry_count))
        # 4. write; the unique indexes settle a race that step 1 missed
        txn = Transaction(
            kind=kind,
            memo=memo,
            metadata=metadata,
            idempotency_key=idempotency_key,
            actor=actor,
            cause=cause,
            reverses=reverses,
        )
        if idempotency_key is None and reverses is None:
            txn.save()  # nothing unique to race on: no savepoint needed
        else:
            try:
                with transaction.atomic():
                    txn.save()
            except IntegrityError:
                if (settled := _settled(idempotency_key, kind, reverses)) is not None:
                    return settled
                raise AlreadyReversed() from None
        entries = []
        for leg, account, balance_after, sequence in staged:
            digest = entry_hash(
                prev_hash=account.last_hash,
                account_id=account.pk,
                sequence=sequence,
                transaction_id=txn.pk,
                side=leg.side,
                amount=leg.amount,
                balance_after=balance_after,
                created_at=now,
            )
            entries.append(
                Entry(
                    transaction=txn,
                    account=account,
                    side=leg.side,
                    amount=leg.amount,
                    balance_after=balance_after,
                    sequence=sequence,
                    prev_hash=account.last_hash,
                    hash=digest,
                    created_at=now,
                )
            )
            account.last_hash = digest
        Entry.objects.bulk_create(entries)
        accounts_save_state(accounts.values())
    txn.replayed = False
    txn.posted_entries = entries
    txn.posted_wallets = [
        (entry, entry.account.user_id if entry.account.kind == Account.Kind.WALLET else None)
        for entry in entries
    ]
    return txn


# On PostgreSQL the steps of _post_orm are one call of `coins_ledger_post` (coins/sql/
# ledger_post.sql, installed by migrations 0005 and 0006): the ledger's hot path, where the ORM's
# round trips (BEGIN, key lookup, savepoint, insert, release, lock, entries, balances, COMMIT) held
# the accounts' locks for several round trips and capped a hot wallet. Statuses other than ok and
# replayed are the errors below; none of them has written anything.
_POST_SQL = (
    "SELECT * FROM coins_ledger_post(%s, %s, %s::jsonb, %s, %s::bigint, %s, %s::bigint, %s, "
    "%s::bigint[], %s::text[], %s::bigint[])"
)
_POST_ERRORS: dict[str, type[Exception]] = {
    "key_reused": IdempotencyKeyReused,
    "already_reversed": AlreadyReversed,
    "insufficient_funds": InsufficientFunds,
    "unknown_account": UnknownAccount,
}


_NEVER_AUTOMATICALLY = 1 << 30


@functools.cache
def _prepared_cursor_class() -> type:
    """A psycopg cursor that binds parameters on the server, prepares each statement once per
    connection and reads results in binary. Django's cursors never prepare (for transaction-mode
    poolers, which Huddle does not use), so PostgreSQL parsed and planned the call every time."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        def execute(
            self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
        ):
            return super().execute(query, params, prepare=True, binary=True)

    return PreparedCursor


def _call_post(params: list[Any]) -> tuple[Any, ...]:
    """One call of coins_ledger_post through a prepared statement, wrapped as Django wraps its own
    cursors (error translation, query logging and execute wrappers still apply)."""
    if connection.settings_dict["OPTIONS"].get("server_side_binding") is not True:
        # DATABASE_SERVER_SIDE_BINDING=0 (e.g. behind a transaction-mode pooler): nothing prepared.
        with connection.cursor() as cursor:
            cursor.execute(_POST_SQL, params)
            return cursor.fetchone()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # Django turns preparing off for the whole connection (for transaction-mode poolers), and
        # psycopg then ignores prepare=True. A threshold no query reaches keeps Django's own
        # statements unprepared and lets only this one, which asks, be prepared. (Behind a
        # transaction-mode pooler this must go: a prepared statement lives on one server session.)
        connection.connection.prepare_threshold = _NEVER_AUTOMATICALLY
    with connection.wrap_database_errors:
        raw = _prepared_cursor_class()(connection.connection)
    with connection._prepare_cursor(raw) as cursor:
        cursor.execute(_POST_SQL, params)
        return cursor.fetchone()


@functools.cache
def _attnames(model: type) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def _instance(model: type, values: dict[str, Any]) -> Any:
    """A saved row as a model instance through Django's positional fast path (from_db), about a
    third of the keyword constructor's cost."""
    names = _attnames(model)
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _post_postgres(
    *,
    kind: str,
    legs: Sequence[Leg],
    memo: str,
    metadata: dict[str, Any],
    idempotency_key: str | None,
    actor: User | None,
    cause: str,
    reverses: Transaction | None,
    now: datetime,
) -> Transaction:
    """_post_orm's contract in one statement (PostgreSQL)."""
    status, txn_id, entry_ids, balances, sequences, prev_hashes, hashes, wallet_users = _call_post(
        [
            kind,
            memo,
            json.dumps(metadata),
            idempotency_key,
            actor.pk if actor is not None else None,
            cause,
            reverses.pk if reverses is not None else None,
            now,
            [leg.account.pk for leg in legs],
            [leg.side for leg in legs],
            [leg.amount for leg in legs],
        ]
    )
    if status == "replayed":
        txn = Transaction.objects.get(pk=txn_id)
        txn.replayed = True
        return txn
    if status != "ok":
        raise _POST_ERRORS[status]()
    txn = _instance(
        Transaction,
        {
            "id": txn_id,
            "kind": kind,
            "memo": memo,
            "metadata": metadata,
            "idempotency_key": idempotency_key,
            "actor_id": actor.pk if actor is not None else None,
            "cause": cause,
            "reverses_id": reverses.pk if reverses is not None else None,
            "created_at": now,
        },
    )
    if actor is not None:
        Transaction.actor.field.set_cached_value(txn, actor)
    if reverses is not None:
        Transaction.reverses.field.set_cached_value(txn, reverses)
    entries = []
    for leg, entry_id, balance_after, sequence, prev_hash, digest in zip(
        legs, entry_ids, balances, sequences, prev_hashes, hashes, strict=True
    ):
        entry = _instance(
            Entry,
            {
                "id": entry_id,
                "transaction_id": txn_id,
                "account_id": leg.account.pk,
                "side": leg.side,
                "amount": leg.amount,
                "balance_after": balance_after,
                "sequence": sequence,
                "prev_hash": prev_hash,
                "hash": digest,
                "created_at": now,
            },
        )
        Entry.transaction.field.set_cached_value(entry, txn)
        entries.append(entry)
    txn.replayed = False
    txn.posted_entries = entries
    txn.posted_wallets = list(zip(entries, wallet_users, strict=True))
    return txn


def reversal_legs(original: Transaction) -> list[Leg]:
    """The mirror image of `original`: each of its entries on the other side, same account and
    amount, in entry order. The one place reversal legs are built (STYLE.md, money services)."""
    return [
        Leg(entry.account, Side.CREDIT if entry.side == Side.DEBIT else Side.DEBIT, entry.amount)
        for entry in original.entries.select_related("account").order_by("pk")
    ]


# Kinds that exist to undo another transaction: undoing them would hand the coins out again.
REVERSING_KINDS = (Transaction.Kind.REVERSAL, Transaction.Kind.TOPUP_REFUND)


def ledger_post_reversal(
    *,
    original: Transaction,
    kind: str,
    memo: str,
    metadata: dict[str, Any],
    idempotency_key: str | None = None,
    actor: User | None = None,
    cause: str = "",
) -> Transaction:
    """Post the mirror image of `original` as a transaction of `kind` that reverses it (an
    operator's reversal, a provider's top-up refund). Raises NotReversible for a transaction that
    itself reverses or refunds another, AlreadyReversed when `original` already has its one
    reversal, InsufficientFunds when a wallet would go negative; each writes nothing."""
    if original.reverses_id is not None or original.kind in REVERSING_KINDS:
        raise NotReversible("A reversal or refund cannot itself be reversed; post a new transaction instead.")
    return ledger_post(
        kind=kind,
        legs=reversal_legs(original),
        memo=memo,
        metadata=metadata,
        idempotency_key=idempotency_key,
        actor=actor,
        cause=cause,
        reverses=original,
    )


def ledger_reverse(
    *, original: Transaction, actor: User | None = None, reason: str = "", cause: str = ""
) -> Transaction:
    """Post the mirror image of `original` (once), as kind `reversal`. Refuses with NotReversible
    a transaction that reverses or refunds another, with InsufficientFunds when a wallet would go
    negative, and with AlreadyReversed the second time."""
    if Transaction.objects.filter(reverses=original).exists():
        raise AlreadyReversed()
    return ledger_post_reversal(
        original=original,
        kind=Transaction.Kind.REVERSAL,
        memo=f"Reversal of #{original.pk}: {reason}"[:200],
        metadata={"reason": reason, "reverses": original.pk},
        actor=actor,
        cause=cause,
    )
