"""The posting's PostgreSQL cost, each part measured (docs/PERFORMANCE.md, Ledger):

- coins_ledger_post again from coins/sql/ledger_post.sql: generic plans (its statements were
  planned again on every call), the accounts locked in one statement, entries and balances
  written in one, its result returned without a query. Same signature, statuses and rows.
- The balance triggers check the transaction themselves instead of calling
  coins_assert_balanced (one nested function call and query less per check); same rule, same
  error.
- Two indexes that every posting updated and no query needs: coins_entry.account_id alone (the
  (account, -id) and (account, sequence) indexes lead with it), and the varchar_pattern_ops copy
  Django makes for a unique CharField (idempotency_key is unique through a named constraint now;
  its unique index is kept as it was).
"""

from pathlib import Path

from django.db import migrations, models

SQL_FILE = Path(__file__).resolve().parent.parent / "sql" / "ledger_post.sql"

LIKE_INDEX = "coins_transaction_idempotency_key_812479c7_like"

TRIGGERS = """
CREATE OR REPLACE FUNCTION coins_entry_balanced() RETURNS trigger AS $$
DECLARE
    debits bigint;
    credits bigint;
    n integer;
BEGIN
    SELECT COALESCE(SUM(amount) FILTER (WHERE side = 'debit'), 0),
           COALESCE(SUM(amount) FILTER (WHERE side = 'credit'), 0),
           COUNT(*)
      INTO debits, credits, n
      FROM coins_entry WHERE transaction_id = NEW.transaction_id;
    IF n < 2 OR debits <> credits THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (% entries, debits %, credits %)',
            NEW.transaction_id, n, debits, credits
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION coins_transaction_balanced() RETURNS trigger AS $$
DECLARE
    debits bigint;
    credits bigint;
    n integer;
BEGIN
    SELECT COALESCE(SUM(amount) FILTER (WHERE side = 'debit'), 0),
           COALESCE(SUM(amount) FILTER (WHERE side = 'credit'), 0),
           COUNT(*)
      INTO debits, credits, n
      FROM coins_entry WHERE transaction_id = NEW.id;
    IF n < 2 OR debits <> credits THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (% entries, debits %, credits %)',
            NEW.id, n, debits, credits
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

# Migration 0002's bodies.
TRIGGERS_BEFORE = """
CREATE OR REPLACE FUNCTION coins_entry_balanced() RETURNS trigger AS $$
BEGIN
    PERFORM coins_assert_balanced(NEW.transaction_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION coins_transaction_balanced() RETURNS trigger AS $$
BEGIN
    PERFORM coins_assert_balanced(NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _run(schema_editor, sql):
    # A plain cursor call without parameters, so the '%' of RAISE formats is left alone.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, SQL_FILE.read_text(encoding="utf-8"))
    _run(schema_editor, TRIGGERS)
    _run(schema_editor, f"DROP INDEX IF EXISTS {LIKE_INDEX}")


def backwards(apps, schema_editor):
    _run(schema_editor, TRIGGERS_BEFORE)
    _run(
        schema_editor,
        f"CREATE INDEX IF NOT EXISTS {LIKE_INDEX} ON coins_transaction (idempotency_key varchar_pattern_ops)",
    )


class Migration(migrations.Migration):
    dependencies = [("coins", "0005_ledger_post_function")]

    operations = [
        migrations.AlterField(
            model_name="entry",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=models.deletion.PROTECT,
                related_name="entries",
                to="coins.account",
            ),
        ),
        # The unique index stays (same name); only the state moves from unique=True to a
        # constraint, and RunPython below drops the pattern-ops copy.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="transaction",
                    name="idempotency_key",
                    field=models.CharField(blank=True, max_length=300, null=True),
                ),
                migrations.AddConstraint(
                    model_name="transaction",
                    constraint=models.UniqueConstraint(
                        fields=("idempotency_key",), name="coins_transaction_idempotency_key_key"
                    ),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
