"""The database's own guard of the ledger's invariants (PostgreSQL; SQLite relies on the service).

- A transaction whose entries do not balance, or that has fewer than two entries, cannot commit:
  deferred constraint triggers check it at COMMIT, when every entry is in.
- Entries and transactions cannot be updated or deleted.
Both raise SQLSTATE 23514 (check_violation), which reaches Python as IntegrityError.
TRUNCATE and ALTER TABLE stay owner operations: run the app as a role that does not own the tables.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION coins_assert_balanced(tid bigint) RETURNS void AS $$
DECLARE
    debits bigint;
    credits bigint;
    n integer;
BEGIN
    SELECT COALESCE(SUM(amount) FILTER (WHERE side = 'debit'), 0),
           COALESCE(SUM(amount) FILTER (WHERE side = 'credit'), 0),
           COUNT(*)
      INTO debits, credits, n
      FROM coins_entry WHERE transaction_id = tid;
    IF n < 2 OR debits <> credits THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (% entries, debits %, credits %)',
            tid, n, debits, credits
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION coins_entry_balanced() RETURNS trigger AS $$
BEGIN
    PERFORM coins_assert_balanced(NEW.transaction_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION coins_transaction_balanced() RETURNS trigger AS $$
BEGIN
    PERFORM coins_assert_balanced(NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER coins_entry_balanced
    AFTER INSERT ON coins_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION coins_entry_balanced();

CREATE CONSTRAINT TRIGGER coins_transaction_balanced
    AFTER INSERT ON coins_transaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION coins_transaction_balanced();

CREATE FUNCTION coins_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: the ledger is append-only (post a reversal instead)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER coins_entry_append_only
    BEFORE UPDATE OR DELETE ON coins_entry
    FOR EACH ROW EXECUTE FUNCTION coins_append_only();

CREATE TRIGGER coins_transaction_append_only
    BEFORE UPDATE OR DELETE ON coins_transaction
    FOR EACH ROW EXECUTE FUNCTION coins_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS coins_transaction_append_only ON coins_transaction;
DROP TRIGGER IF EXISTS coins_entry_append_only ON coins_entry;
DROP FUNCTION IF EXISTS coins_append_only();
DROP TRIGGER IF EXISTS coins_transaction_balanced ON coins_transaction;
DROP TRIGGER IF EXISTS coins_entry_balanced ON coins_entry;
DROP FUNCTION IF EXISTS coins_transaction_balanced();
DROP FUNCTION IF EXISTS coins_entry_balanced();
DROP FUNCTION IF EXISTS coins_assert_balanced(bigint);
"""


def _run(schema_editor, sql):
    # A plain cursor call without parameters, so the '%' of RAISE formats is left alone.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, FORWARD)


def backwards(apps, schema_editor):
    _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("coins", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
