from django.db import migrations

INDEX = "message_body_upper_trgm"


def create_index(apps, schema_editor):
    """Django's icontains on PostgreSQL is `UPPER(body) LIKE UPPER(%s)`, so the trigram index is on
    UPPER(body). PostgreSQL only (pg_trgm comes from accounts 0003); SQLite scans."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON messaging_message USING gin (UPPER(body) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial"), ("accounts", "0003_pg_trgm")]

    operations = [migrations.RunPython(create_index, drop_index)]
