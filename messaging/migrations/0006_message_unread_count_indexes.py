"""Indexes for unread counts computed from seq (messaging.selectors._unread_count_subquery): the
user's own messages after a read marker (sender, conversation, id), which also serves the sender
foreign key and so replaces its own index, and other people's recalled messages (partial)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_message_sender_style"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["sender", "conversation", "id"], name="message_sender_conv_id"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("recalled", True)),
                fields=["conversation", "id"],
                name="message_recalled_conv_id",
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="sender",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
