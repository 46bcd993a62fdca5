"""Fixtures of the messaging tests: people, friendships, a direct conversation and a group."""

from collections.abc import AsyncIterator, Callable

import pytest

from accounts.models import Friendship, User
from messaging import presence_events
from messaging.conversations import conversation_direct_open, conversation_group_create
from messaging.models import Conversation, Message
from messaging.services import message_send
from tests.messaging.sockets import Socket, open_socket


def befriend(a: User, b: User) -> None:
    """Make two people friends (nothing happens if they already are)."""
    Friendship.objects.get_or_create(user=a, friend=b)
    Friendship.objects.get_or_create(user=b, friend=a)


@pytest.fixture(autouse=True)
def _fast_tests(monkeypatch) -> None:
    # Offline is announced at once in tests (the grace period has its own test).
    monkeypatch.setattr(presence_events, "OFFLINE_GRACE_SECONDS", 0)


@pytest.fixture
def direct(alice: User, bob: User) -> Conversation:
    befriend(alice, bob)
    conversation, _ = conversation_direct_open(user=alice, number=bob.number)
    return conversation


@pytest.fixture
def group(alice: User, bob: User, carol: User) -> Conversation:
    """Alice owns it; Bob and Carol are members (Bob and Carol are not friends)."""
    befriend(alice, bob)
    befriend(alice, carol)
    return conversation_group_create(user=alice, title="Hikers", member_numbers=[bob.number, carol.number])


@pytest.fixture
def send() -> Callable[..., Message]:
    def _send(user: User, conversation: Conversation, body: str = "hi", **kwargs: object) -> Message:
        message, _ = message_send(sender=user, conversation_id=conversation.pk, body=body, **kwargs)
        return message

    return _send


@pytest.fixture
async def connect() -> AsyncIterator[Callable]:
    """Open sockets (`await connect(user)`, or `connect(None, token=..., headers=...)`); every one
    is disconnected at the end of the test."""
    opened: list[Socket] = []

    async def _connect(user: User | None, **kwargs: object) -> Socket:
        socket = await open_socket(user, **kwargs)
        opened.append(socket)
        return socket

    yield _connect
    for socket in opened:
        await socket.close()
