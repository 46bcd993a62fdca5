"""The database itself refuses what would break the ledger (PostgreSQL triggers and constraints),
even from raw SQL that bypasses the service. Transactional tests: deferred triggers fire at COMMIT."""

import pytest
from django.db import IntegrityError, connection, transaction

from coins.ledger import wallet_for
from coins.models import Account, Entry, Transaction
from tests.coins.helpers import grant, transfer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _insert_transaction(cursor) -> int:
    cursor.execute(
        "INSERT INTO coins_transaction (kind, memo, metadata, cause, created_at) "
        "VALUES ('promotion', 'raw', '{}', 'test', now()) RETURNING id"
    )
    return cursor.fetchone()[0]


def _insert_entry(cursor, txn: int, account: int, side: str, amount: int, seq: int) -> None:
    cursor.execute(
        "INSERT INTO coins_entry (transaction_id, account_id, side, amount, balance_after, sequence, "
        "prev_hash, hash, created_at) VALUES (%s, %s, %s, %s, 0, %s, '', '', now())",
        [txn, account, side, amount, seq],
    )


def test_unbalanced_transaction_cannot_commit(make_user):
    a, b = wallet_for(make_user()), wallet_for(make_user())
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        with connection.cursor() as cursor:
            txn = _insert_transaction(cursor)
            _insert_entry(cursor, txn, a.pk, "debit", 10, 1)
            _insert_entry(cursor, txn, b.pk, "credit", 9, 1)
    assert not Transaction.objects.exists() and not Entry.objects.exists()


def test_transaction_without_entries_cannot_commit():
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        with connection.cursor() as cursor:
            _insert_transaction(cursor)
    assert not Transaction.objects.exists()


def test_single_entry_transaction_cannot_commit(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            txn = _insert_transaction(cursor)
            _insert_entry(cursor, txn, wallet_for(user).pk, "credit", 5, 1)
    assert not Entry.objects.exists()


def test_balanced_raw_transaction_commits(make_user):
    a, b = wallet_for(make_user()), wallet_for(make_user())
    with transaction.atomic(), connection.cursor() as cursor:
        txn = _insert_transaction(cursor)
        _insert_entry(cursor, txn, a.pk, "debit", 10, 1)
        _insert_entry(cursor, txn, b.pk, "credit", 10, 1)
    assert Entry.objects.filter(transaction_id=txn).count() == 2
    # (it bypassed the service, so balances do not follow: ledger_check must notice)
    from coins.audit import ledger_report

    report = ledger_report()
    assert report.count("balance_mismatch") == 2 and report.count("hash_chain_break") >= 2
    with connection.cursor() as cursor:  # leave a whole ledger behind for the teardown check
        cursor.execute("TRUNCATE coins_entry, coins_transaction, coins_account CASCADE")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE coins_entry SET amount = amount + 1",
        "DELETE FROM coins_entry",
        "UPDATE coins_transaction SET memo = 'changed'",
        "DELETE FROM coins_transaction",
    ],
)
def test_entries_and_transactions_cannot_be_changed_or_deleted(make_user, sql):
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    transfer(alice, bob, 4)
    before = list(Entry.objects.order_by("pk").values_list("amount", "hash"))
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert list(Entry.objects.order_by("pk").values_list("amount", "hash")) == before
    assert Transaction.objects.filter(memo="changed").count() == 0


def test_wallet_cannot_go_negative_even_by_raw_sql(user):
    grant(user, 5)
    wallet = wallet_for(user)
    with pytest.raises(IntegrityError, match="wallet_not_negative"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE coins_account SET balance = -1 WHERE id = %s", [wallet.pk])
    assert Account.objects.get(pk=wallet.pk).balance == 5


def test_entry_amount_must_be_positive(make_user):
    a, b = wallet_for(make_user()), wallet_for(make_user())
    with pytest.raises(IntegrityError, match="entry_amount_positive"), transaction.atomic():
        with connection.cursor() as cursor:
            txn = _insert_transaction(cursor)
            _insert_entry(cursor, txn, a.pk, "debit", 0, 1)
            _insert_entry(cursor, txn, b.pk, "credit", 0, 1)
