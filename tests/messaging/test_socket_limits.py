"""Every socket frame but `ping` is rate limited per user (CONTRACT section 7), in the buckets the
HTTP API counts in too (settings.RATE_LIMITS): `message.send` in `messages`, `typing` in `typing`,
`sync` / `read` / `presence.set` in `actions`. A frame past the limit gets `rate_limited` with
`retry_after` and does nothing."""

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from messaging import socket_actions
from messaging.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def limits(settings, **rates: str) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}


async def expect_rate_limited(socket, client_id: str | None = None) -> dict:
    error = await socket.expect("error")
    assert error["code"] == "rate_limited" and error["retry_after"] > 0, error
    if client_id is not None:
        assert error["client_id"] == client_id
    return error


async def test_sync_is_limited_in_the_actions_bucket(connect, alice, settings):
    limits(settings, actions="2/minute")
    socket = await connect(alice)
    for _ in range(2):
        await socket.send({"type": "sync", "after": 0})
        await socket.expect("sync.done")
    await socket.send({"type": "sync", "after": 0})
    await expect_rate_limited(socket)
    await socket.nothing()  # no sync.done either


async def test_read_past_the_limit_does_not_move_the_marker(connect, alice, bob, direct, send, settings):
    limits(settings, actions="1/minute")
    first, second = await db(send)(alice, direct, "one"), await db(send)(alice, direct, "two")
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    await bob_socket.send({"type": "read", "conversation": direct.pk, "up_to": first.pk})
    assert (await alice_socket.expect("read"))["up_to"] == first.pk
    # when: over the limit
    await bob_socket.send({"type": "read", "conversation": direct.pk, "up_to": second.pk})
    # then: refused, nothing moved, nobody told
    await expect_rate_limited(bob_socket)
    await alice_socket.nothing()
    marker = await db(Membership.objects.get)(conversation=direct, user=bob)
    assert marker.last_read_id == first.pk


async def test_presence_set_past_the_limit_is_not_applied_nor_announced(
    connect, alice, bob, direct, settings
):
    limits(settings, actions="1/minute")
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    await alice_socket.expect("presence", skip=())
    await bob_socket.send({"type": "presence.set", "presence": "busy"})
    assert (await alice_socket.expect("presence", skip=()))["presence"] == "busy"
    await bob_socket.send({"type": "presence.set", "presence": "away"})
    await expect_rate_limited(bob_socket)
    await alice_socket.nothing(skip=())
    assert (await db(User.objects.get)(pk=bob.pk)).presence == "busy"


async def test_sync_read_and_presence_share_one_bucket(connect, alice, bob, direct, settings):
    limits(settings, actions="2/minute")
    socket = await connect(bob)
    await socket.send({"type": "sync", "after": 0})
    await socket.expect("sync.done")
    await socket.send({"type": "presence.set", "presence": "away"})
    await socket.send({"type": "read", "conversation": direct.pk, "up_to": 0})
    await expect_rate_limited(socket)


async def test_typing_is_limited_also_to_a_foreign_conversation(connect, alice, bob, carol, direct, settings):
    limits(settings, typing="2/minute")
    carol_socket = await connect(carol)
    await carol_socket.send({"type": "typing", "conversation": direct.pk})
    assert (await carol_socket.expect("error"))["code"] == "not_found"
    await carol_socket.send({"type": "typing", "conversation": direct.pk + 1000})
    assert (await carol_socket.expect("error"))["code"] == "not_found"
    await carol_socket.send({"type": "typing", "conversation": direct.pk})
    await expect_rate_limited(carol_socket)


async def test_typing_repeats_count_too(connect, alice, bob, direct, settings):
    limits(settings, typing="2/minute")
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    await alice_socket.send({"type": "typing", "conversation": direct.pk})
    await bob_socket.expect("typing")
    await alice_socket.send({"type": "typing", "conversation": direct.pk})  # folded: not repeated
    await alice_socket.send({"type": "typing", "conversation": direct.pk})
    await expect_rate_limited(alice_socket)
    await bob_socket.nothing()


async def test_sends_are_limited_with_the_client_id(connect, alice, bob, direct, settings):
    limits(settings, messages="1/minute")
    socket = await connect(alice)
    await socket.send({"type": "message.send", "conversation": direct.pk, "body": "a", "client_id": "1"})
    await socket.expect("message.ack")
    await socket.send({"type": "message.send", "conversation": direct.pk, "body": "b", "client_id": "2"})
    await expect_rate_limited(socket, client_id="2")


async def test_ping_is_never_limited(connect, alice, settings):
    limits(settings, actions="1/minute", typing="1/minute", messages="1/minute")
    socket = await connect(alice)
    for _ in range(3):
        await socket.send({"type": "sync", "after": 0})
    for _ in range(40):
        await socket.send({"type": "ping"})
    await socket.expect("sync.done")
    await expect_rate_limited(socket)
    await expect_rate_limited(socket)
    for _ in range(40):
        await socket.expect("pong")


async def test_the_default_limits_let_a_busy_client_through(connect, alice, bob, direct):
    """At least 20 frames a second of each kind pass with the default settings."""
    socket = await connect(bob)
    for _ in range(20):
        await socket.send({"type": "sync", "after": 0})
    for _ in range(20):
        await socket.expect("sync.done")


async def test_setting_the_presence_one_has_is_a_no_op(connect, alice, bob, direct, monkeypatch):
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    await alice_socket.expect("presence", skip=())
    writes = []
    monkeypatch.setattr(
        socket_actions.account_services, "profile_update", lambda **kwargs: writes.append(kwargs)
    )
    await bob_socket.send({"type": "presence.set", "presence": "online"})
    await bob_socket.send({"type": "ping"})
    await bob_socket.expect("pong")
    assert writes == []
    await alice_socket.nothing(skip=())
