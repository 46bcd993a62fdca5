"""Seed the people and conversations the chat benchmark talks through, straight into the database
(sign-ups over HTTP would spend minutes hashing passwords): `users` people with a device token
each (the token key is returned), paired as friends with a direct conversation per pair, plus
groups whose members are the first people (a group of 500 with 1,000 people holds people 0-499).

Used by bench/chat_load.py in its own process with the project's settings (DATABASE_URL etc.).
"""

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Seeded:
    tokens: list[str]  # person index -> token key
    numbers: list[int]  # person index -> account number
    direct: dict[int, int]  # person index -> their pair's conversation id
    groups: dict[int, list[int]] = field(default_factory=dict)  # conversation id -> person indexes


def setup_django() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(users: int, group_sizes: list[int]) -> Seeded:
    """Create the people, pairs and groups; returns what the clients need."""
    setup_django()
    from django.db import transaction

    from accounts.authentication import token_digest
    from accounts.models import DeviceToken, Friendship, User
    from accounts.numbers import allocate_account_number
    from messaging.models import Conversation, Membership

    users -= users % 2
    tag = secrets.token_hex(3)
    with transaction.atomic():
        people = [
            User(
                username=f"bench{tag}x{i}",
                number=allocate_account_number(),
                password="!",  # noqa: S106 - unusable: these people log in by token only
                display_name=f"Bench {i}",
            )
            for i in range(users)
        ]
        people = User.objects.bulk_create(people, batch_size=500)
        tokens = [secrets.token_hex(20) for _ in people]
        DeviceToken.objects.bulk_create(
            [
                DeviceToken(user=u, digest=token_digest(t), user_agent="bench")
                for u, t in zip(people, tokens, strict=True)
            ],
            batch_size=500,
        )
        friendships, direct, conversations = [], {}, []
        for i in range(0, users, 2):
            a, b = people[i], people[i + 1]
            friendships += [Friendship(user=a, friend=b), Friendship(user=b, friend=a)]
            low, high = sorted((a.pk, b.pk))
            conversations.append(
                Conversation(kind="direct", direct_key=f"{low}:{high}", created_by=a, members_count=2)
            )
        Friendship.objects.bulk_create(friendships, batch_size=1000)
        conversations = Conversation.objects.bulk_create(conversations, batch_size=500)
        memberships = []
        for pair, conversation in enumerate(conversations):
            for i in (2 * pair, 2 * pair + 1):
                direct[i] = conversation.pk
                memberships.append(Membership(conversation=conversation, user=people[i]))
        groups: dict[int, list[int]] = {}
        for size in group_sizes:
            size = min(size, users)
            conversation = Conversation.objects.create(
                kind="group", title=f"bench {size}", created_by=people[0], members_count=size
            )
            groups[conversation.pk] = list(range(size))
            memberships += [
                Membership(conversation=conversation, user=people[i], role="owner" if i == 0 else "member")
                for i in range(size)
            ]
        Membership.objects.bulk_create(memberships, batch_size=1000)
    return Seeded(tokens=tokens, numbers=[u.number for u in people], direct=direct, groups=groups)
