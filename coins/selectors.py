"""Reads of coins: wallets, statements, packages and top-ups.

A statement line is one entry of the user's wallet (so its balance_after is exact); its
counterparty, for a transfer, is the owner of the other wallet in the same transaction, found for
a whole page in one query.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from accounts.models import User
from coins.models import Account, Entry, Topup, TopupPackage, Transaction
from core.exceptions import NotFound

# Kinds whose other wallet is a person the statement names.
_PERSON_TO_PERSON = {Transaction.Kind.TRANSFER}


@dataclass(frozen=True)
class StatementLine:
    id: int
    transaction: int
    kind: str
    amount: int  # signed: + is money in
    balance_after: int
    memo: str
    counterparty: User | None
    created_at: datetime


def statement_entries(user: User) -> QuerySet[Entry]:
    """The entries of `user`'s wallet (none if they have no wallet yet), for paginate_by_key."""
    wallet_id = Account.objects.filter(user=user).values_list("pk", flat=True).first()
    return Entry.objects.filter(account_id=wallet_id).select_related("transaction", "account")


def statement_lines(entries: Sequence[Entry]) -> list[StatementLine]:
    """One page of a wallet's entries as statement lines (one extra query for the counterparties)."""
    transfer_ids = [e.transaction_id for e in entries if e.transaction.kind in _PERSON_TO_PERSON]
    wallets_by_txn: dict[int, list[tuple[int, User]]] = {}
    if transfer_ids:
        for other in Entry.objects.filter(
            transaction_id__in=transfer_ids, account__kind=Account.Kind.WALLET
        ).select_related("account__user"):
            wallets_by_txn.setdefault(other.transaction_id, []).append((other.account_id, other.account.user))

    def counterparty(entry: Entry) -> User | None:
        wallets = wallets_by_txn.get(entry.transaction_id, [])
        return next((user for account_id, user in wallets if account_id != entry.account_id), None)

    return [
        StatementLine(
            id=e.pk,
            transaction=e.transaction_id,
            kind=e.transaction.kind,
            amount=e.signed_amount,
            balance_after=e.balance_after,
            memo=e.transaction.memo,
            counterparty=counterparty(e),
            created_at=e.created_at,
        )
        for e in entries
    ]


def packages_on_sale() -> QuerySet[TopupPackage]:
    return TopupPackage.objects.filter(active=True)


def topup_get_for_user(*, user: User, topup_id: int) -> Topup:
    """The user's own top-up; someone else's is NotFound, exactly as a missing one."""
    topup = Topup.objects.filter(pk=topup_id, user=user).first()
    if topup is None:
        raise NotFound("No such top-up.")
    return topup


def topups_for_user(user: User) -> QuerySet[Topup]:
    """The user's top-ups, for paginate_by_key (newest first by id)."""
    return Topup.objects.filter(user=user)


def topups_recent(user: User, *, limit: int = 5) -> list[Topup]:
    return list(Topup.objects.filter(user=user).order_by("-id")[:limit])
