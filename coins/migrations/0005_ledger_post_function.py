from pathlib import Path

from django.db import migrations

# The PostgreSQL body of coins.ledger.ledger_post: one call instead of seven to ten round trips.
# Its SQL lives in coins/sql/ledger_post.sql (statuses and the steps it mirrors are described
# there), read when this migration runs. A database that has applied this migration never runs it
# again: a change to that file needs a NEW migration that runs the file once more (CREATE OR
# REPLACE), e.g. with `create_function` below.
SQL_FILE = Path(__file__).resolve().parent.parent / "sql" / "ledger_post.sql"

DROP = (
    "DROP FUNCTION IF EXISTS coins_ledger_post(text, text, jsonb, text, bigint, text, bigint, timestamptz, "
    "bigint[], text[], bigint[])"
)


def _run(schema_editor, sql):
    # A plain cursor call without parameters, so nothing in the SQL is read as a placeholder.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)


def create_function(apps, schema_editor):
    _run(schema_editor, SQL_FILE.read_text(encoding="utf-8"))


def drop_function(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("coins", "0004_ledger_permission_groups")]

    operations = [migrations.RunPython(create_function, drop_function)]
