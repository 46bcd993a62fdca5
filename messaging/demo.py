"""Demo conversations for `python manage.py seed_demo` (idempotent: run again, nothing doubles).

Direct chats alice-bob and alice-carol, and a group "Weekend hike" (alice owns it; bob, carol and
dave are in it), each with a little history in English and Chinese. Messages carry client ids
`demo-<n>`, so a second run finds them and sends nothing new.
"""

from accounts.models import User
from messaging.conversations import conversation_direct_open, conversation_group_create
from messaging.models import Conversation
from messaging.services import message_send

GROUP_TITLE = "Weekend hike"

DIRECT_HISTORY = {
    ("alice", "bob"): [
        ("bob", "Hey Alice, are we still on for Saturday?"),
        ("alice", "Yes! Meet at the trailhead at 8."),
        ("bob", "Great, I'll bring coffee ☕"),
    ],
    ("alice", "carol"): [
        ("carol", "今天晚上一起吃饭吗？"),  # noqa: RUF001 - a Chinese question mark
        ("alice", "好啊！七点在老地方见。"),  # noqa: RUF001
        ("carol", "Perfect, see you at seven."),
    ],
}
GROUP_HISTORY = [
    ("alice", "Welcome to the hiking group 👋"),
    ("dave", "What's the weather looking like?"),
    ("carol", "天气预报说周六是晴天。"),
    ("bob", "Sunny on Saturday, let's go!"),
]


def _send_history(conversation: Conversation, people: dict[str, User], lines: list[tuple[str, str]]) -> None:
    for number, (author, body) in enumerate(lines):
        message_send(
            sender=people[author],
            conversation_id=conversation.pk,
            body=body,
            client_id=f"demo-{conversation.pk}-{number}",
        )


def seed_messaging(people: dict[str, User]) -> None:
    """Create the demo conversations and their history (needs the people of accounts' seed)."""
    for (a, b), lines in DIRECT_HISTORY.items():
        conversation, _ = conversation_direct_open(user=people[a], number=people[b].number)
        _send_history(conversation, people, lines)
    group = Conversation.objects.filter(
        kind=Conversation.Kind.GROUP, title=GROUP_TITLE, created_by=people["alice"]
    ).first() or conversation_group_create(
        user=people["alice"],
        title=GROUP_TITLE,
        member_numbers=[people[name].number for name in ("bob", "carol", "dave")],
    )
    _send_history(group, people, GROUP_HISTORY)
