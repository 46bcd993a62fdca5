"""The one ledger service: every balance change in Huddle is a call to `ledger_post`.

`ledger_post` posts a balanced transaction atomically:
1. validates the legs (two or more, positive whole amounts, debits == credits) before touching
   the database;
2. inserts the transaction row; its unique idempotency key makes a concurrent retry wait for the
   first and then return the first's result;
3. locks the touched accounts in one query in primary-key order (no deadlocks), checks that no
   wallet goes negative, writes the entries with balance-after, sequence number and hash chain,
   and updates the accounts' cached state;
4. commits (the caller's transaction, if any, decides); balance events go out after commit.
Steps 1-2 happen before any account is locked, and step 3 is a handful of statements, so a hot
wallet stays locked for as short a time as possible.

Corrections are reversing transactions built by one helper, `ledger_post_reversal` (mirror legs
from `reversal_legs`): at most one per transaction, and never of a transaction that itself
reverses or refunds another (that would hand the coins out again).

System accounts that much traffic touches (payment providers, store revenue, promotions, red
packet escrow) are split into shards, `purpose#0` … `purpose#N-1`, and each posting picks one at
random, so purchases do not queue behind one row lock. A purpose's balance is its shards' sum.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from coins.errors import (
    AlreadyReversed,
    InsufficientFunds,
    NotReversible,
    UnbalancedTransaction,
)
from coins.hashing import entry_hash
from coins.lock_objects import accounts_for_update, accounts_save_state
from coins.models import Account, Entry, Side, Transaction
from core.exceptions import IdempotencyKeyReused
from messaging.realtime import send_event_on_commit

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


def _existing(idempotency_key: str, kind: str) -> Transaction:
    existing = Transaction.objects.get(idempotency_key=idempotency_key)
    if existing.kind != kind:
        raise IdempotencyKeyReused()
    existing.replayed = True
    return existing


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
    writes nothing) if a wallet would go below zero. With an idempotency key already used, returns
    that transaction (with `.replayed = True`) and writes nothing."""
    _check_legs(legs)
    now = timezone.now()
    with transaction.atomic():
        if (
            idempotency_key is not None
            and Transaction.objects.filter(idempotency_key=idempotency_key).exists()
        ):
            return _existing(idempotency_key, kind)
        txn = Transaction(
            kind=kind,
            memo=memo[:200],
            metadata=metadata or {},
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
                # A concurrent post with the same key (or reversal of the same transaction)
                # committed first: the unique index made this insert wait for it.
                if (
                    idempotency_key is not None
                    and Transaction.objects.filter(idempotency_key=idempotency_key).exists()
                ):
                    return _existing(idempotency_key, kind)
                if reverses is not None:
                    raise AlreadyReversed() from None
                raise

        accounts = accounts_for_update(leg.account.pk for leg in legs)
        entries = []
        for leg in legs:
            account = accounts[leg.account.pk]
            grows = leg.side == account.normal_side
            account.balance += leg.amount if grows else -leg.amount
            if account.kind == Account.Kind.WALLET and account.balance < 0:
                raise InsufficientFunds()
            account.entry_count += 1
            digest = entry_hash(
                prev_hash=account.last_hash,
                account_id=account.pk,
                sequence=account.entry_count,
                transaction_id=txn.pk,
                side=leg.side,
                amount=leg.amount,
                balance_after=account.balance,
                created_at=now,
            )
            entries.append(
                Entry(
                    transaction=txn,
                    account=account,
                    side=leg.side,
                    amount=leg.amount,
                    balance_after=account.balance,
                    sequence=account.entry_count,
                    prev_hash=account.last_hash,
                    hash=digest,
                    created_at=now,
                )
            )
            account.last_hash = digest
        Entry.objects.bulk_create(entries)
        accounts_save_state(accounts.values())
        for account in accounts.values():
            if account.kind == Account.Kind.WALLET:
                send_event_on_commit([account.user_id], {"type": "coins.balance", "balance": account.balance})
    txn.replayed = False
    txn.posted_entries = entries
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
