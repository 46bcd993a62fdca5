"""Helpers for red-packet tests: conversations to send into, and a look at the packet's escrow."""

import threading
from collections.abc import Callable

from django.db import connection

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


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run `work(i)` in `count` threads released at once; each closes its connection (back to the
    pool) when done. Returns the exceptions raised."""
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors
