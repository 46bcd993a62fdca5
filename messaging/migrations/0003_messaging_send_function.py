from pathlib import Path

from django.db import migrations

# The PostgreSQL body of messaging.services.message_send: one call instead of seven round trips.
# Its SQL lives in messaging/sql/messaging_send.sql (statuses and the rules it mirrors are described
# there), read when this migration runs. A database that has applied this migration never runs it
# again: a change to that file needs a NEW migration that runs the file once more (CREATE OR
# REPLACE), e.g. with `create_function` below.
SQL_FILE = Path(__file__).resolve().parent.parent / "sql" / "messaging_send.sql"

DROP = "DROP FUNCTION IF EXISTS messaging_send(bigint, bigint, text, text, text, jsonb, timestamptz, boolean)"


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL_FILE.read_text(encoding="utf-8"))


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0002_message_body_trigram"), ("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_function, drop_function)]
