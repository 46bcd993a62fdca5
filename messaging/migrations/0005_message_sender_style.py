from pathlib import Path

from django.db import migrations, models

# Messages carry the sender's style when they sent it (bubble, name colour, VIP), stamped by the
# server. The send function reads it from the sender's row (accounts 0005) and its result gained a
# column, so the old function is dropped and messaging/sql/messaging_send.sql is run again; going
# back restores the first version (messaging_send_v1.sql). Messages stored before get `{}`.
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DROP = "DROP FUNCTION IF EXISTS messaging_send(bigint, bigint, text, text, text, jsonb, timestamptz, boolean)"


def _replace_function(schema_editor, sql_file: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute((SQL_DIR / sql_file).read_text(encoding="utf-8"))


def create_current(apps, schema_editor):
    _replace_function(schema_editor, "messaging_send.sql")


def restore_first(apps, schema_editor):
    _replace_function(schema_editor, "messaging_send_v1.sql")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_membership_history_from"),
        ("accounts", "0005_user_chat_style"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="sender_style",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(create_current, restore_first),
    ]
