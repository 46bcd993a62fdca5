"""Row locks of the ledger, always taken in one query, in primary-key order (no deadlocks)."""

from collections.abc import Iterable

from coins.models import Account


def accounts_for_update(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts (FOR NO KEY UPDATE: entries' foreign-key checks may still proceed).
    Call inside a transaction; the locks last until it ends."""
    rows = Account.objects.select_for_update(no_key=True).filter(pk__in=set(account_ids)).order_by("pk")
    return {account.pk: account for account in rows}
