"""The posting's PostgreSQL path stays as cheap as migration 0006 made it, and no less safe:
one prepared statement per posting (still seen by Django's query capture), model instances equal
to the rows written, generic plans in coins_ledger_post, no index that only slowed the writes,
and the idempotency key still unique."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from coins.ledger import credit, debit, ledger_post, wallet_for
from coins.models import Entry, Transaction
from tests.coins.helpers import grant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def _prepared_posts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%coins_ledger_post%"]
        )
        return cursor.fetchone()[0]


def test_a_posting_is_one_prepared_statement_and_returns_the_rows_it_wrote(make_user) -> None:
    alice, bob = make_user(), make_user()
    grant(alice, 50)
    source, target = wallet_for(alice), wallet_for(bob)
    for amount in (1, 2, 3, 4, 5, 6):  # psycopg prepares on the first call; the later ones reuse it
        with CaptureQueriesContext(connection) as queries:
            txn = ledger_post(
                kind=Transaction.Kind.TRANSFER,
                legs=[debit(source, amount), credit(target, amount)],
                metadata={"note": amount},
                idempotency_key=f"statement-{amount}",
                actor=alice,
            )
        assert len(queries) == 1
        assert "coins_ledger_post" in queries[0]["sql"]
    stored = Transaction.objects.get(pk=txn.pk)
    fields = [f.attname for f in Transaction._meta.concrete_fields]
    assert [getattr(txn, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert not txn._state.adding and txn.actor is alice
    rows = list(Entry.objects.filter(transaction=txn).order_by("pk"))
    fields = [f.attname for f in Entry._meta.concrete_fields]
    assert [[getattr(e, f) for f in fields] for e in txn.posted_entries] == [
        [getattr(e, f) for f in fields] for e in rows
    ]
    prepared = _prepared_posts()
    ledger_post(kind=Transaction.Kind.TRANSFER, legs=[debit(source, 1), credit(target, 1)], actor=alice)
    assert prepared >= 1 and _prepared_posts() == prepared  # one per shape of parameters, reused


def test_the_function_uses_generic_plans() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT proconfig FROM pg_proc WHERE proname = 'coins_ledger_post'")
        assert cursor.fetchone()[0] == ["plan_cache_mode=force_generic_plan"]


def test_no_index_only_slows_the_writes() -> None:
    transaction_indexes = _indexes("coins_transaction")
    assert not [name for name, definition in transaction_indexes.items() if "pattern_ops" in definition]
    assert "UNIQUE" in transaction_indexes["coins_transaction_idempotency_key_key"]
    entry_indexes = _indexes("coins_entry").values()
    assert not [d for d in entry_indexes if d.endswith("USING btree (account_id)")]
    assert [d for d in entry_indexes if d.endswith("USING btree (account_id, id DESC)")]


def test_an_idempotency_key_is_still_unique(make_user) -> None:
    alice, bob = make_user(), make_user()
    grant(alice, 5)
    ledger_post(
        kind=Transaction.Kind.TRANSFER,
        legs=[debit(wallet_for(alice), 1), credit(wallet_for(bob), 1)],
        idempotency_key="once",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(kind=Transaction.Kind.TRANSFER, idempotency_key="once")


def test_nothing_is_prepared_when_server_side_binding_is_off(make_user, monkeypatch) -> None:
    # given: DATABASE_SERVER_SIDE_BINDING=0 (behind a transaction-mode pooler, say)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {**connection.settings_dict["OPTIONS"]})
    monkeypatch.delitem(connection.settings_dict["OPTIONS"], "server_side_binding", raising=False)
    alice, bob = make_user(), make_user()
    grant(alice, 10)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # psycopg forgets its own statements too

    # when: postings in this session
    for amount in (1, 2):
        ledger_post(
            kind=Transaction.Kind.TRANSFER,
            legs=[debit(wallet_for(alice), amount), credit(wallet_for(bob), amount)],
        )

    # then: they went through, and no statement was prepared for them
    assert wallet_for(bob).balance == 3
    assert _prepared_posts() == 0
