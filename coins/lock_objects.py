"""Row locks of the ledger, always taken in one query, in primary-key order (no deadlocks)."""

from collections.abc import Iterable

from django.db import connection

from coins.models import Account


def accounts_for_update(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts (FOR NO KEY UPDATE: entries' foreign-key checks may still proceed).
    Call inside a transaction; the locks last until it ends."""
    rows = Account.objects.select_for_update(no_key=True).filter(pk__in=set(account_ids)).order_by("pk")
    return {account.pk: account for account in rows}


def accounts_save_state(accounts: Iterable[Account]) -> None:
    """Write back the cached balance, entry count and last hash of locked accounts: one statement
    on PostgreSQL (the hot path of every posting), one per account elsewhere."""
    accounts = list(accounts)
    if connection.vendor == "postgresql":
        rows = ", ".join(["(%s, %s, %s, %s)"] * len(accounts))
        params = [value for a in accounts for value in (a.pk, a.balance, a.entry_count, a.last_hash)]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE coins_account AS a SET balance = v.balance, entry_count = v.entry_count, "  # noqa: S608 - placeholders only
                f"last_hash = v.last_hash FROM (VALUES {rows}) AS v(id, balance, entry_count, last_hash) "
                "WHERE a.id = v.id",
                params,
            )
        return
    for account in accounts:
        Account.objects.filter(pk=account.pk).update(
            balance=account.balance, entry_count=account.entry_count, last_hash=account.last_hash
        )
