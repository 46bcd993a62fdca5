"""Demo conversations: created by seed_demo, once however often it runs."""

from io import StringIO

from django.core.management import call_command

from messaging.models import Conversation, Membership, Message


def _seed() -> None:
    call_command("seed_demo", stdout=StringIO())


def test_seed_demo_creates_conversations_with_history_once(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DEBUG = True  # demo people (and so their conversations) exist only with DEBUG on
    _seed()
    counts = (Conversation.objects.count(), Membership.objects.count(), Message.objects.count())
    assert counts == (3, 8, 10)
    assert Message.objects.filter(body__contains="一起吃饭").exists()
    group = Conversation.objects.get(kind="group")
    assert group.title == "Weekend hike" and group.members_count == 4
    _seed()
    assert (Conversation.objects.count(), Membership.objects.count(), Message.objects.count()) == counts
