"""Helpers for red-packet tests: conversations to send into, and a look at the packet's escrow."""

from accounts.models import User
from messaging.conversations import conversation_direct_open, conversation_group_create, members_add
from messaging.models import Conversation
from tests.factories import make_friends


def group_of(owner: User, *members: User, title: str = "Lucky") -> Conversation:
    """A group owned by `owner` with `members` (made the owner's friends first)."""
    for member in members:
        make_friends(owner, member)
    return conversation_group_create(user=owner, title=title, member_numbers=[m.number for m in members])


def add_to_group(owner: User, conversation: Conversation, *people: User) -> None:
    """Add people later (they see only what is said from now on)."""
    for person in people:
        make_friends(owner, person)
    members_add(user=owner, conversation_id=conversation.pk, numbers=[p.number for p in people])


def direct_between(a: User, b: User) -> Conversation:
    make_friends(a, b)
    conversation, _ = conversation_direct_open(user=a, number=b.number)
    return conversation
