"""A socket that stays open keeps its user online: `ping` refreshes the presence count's expiry
(accounts.presence, SOCKET_COUNT_TTL) and restores the count if the key vanished (Redis lost its
data, or the key expired), at most every few minutes per socket."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from accounts import presence
from accounts.presence import online_user_ids, socket_count_refresh
from messaging import consumers

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.fixture
def refresh_every_ping(monkeypatch) -> None:
    monkeypatch.setattr(consumers, "PRESENCE_REFRESH_SECONDS", 0, raising=False)


async def pong(socket) -> None:
    await socket.send({"type": "ping"})
    await socket.expect("pong")


async def test_ping_brings_back_a_vanished_count(connect, alice, refresh_every_ping):
    socket = await connect(alice)
    await db(cache.delete)(presence._key(alice.pk))
    assert await db(online_user_ids)([alice.pk]) == set()
    await pong(socket)
    assert await db(online_user_ids)([alice.pk]) == {alice.pk}
    await socket.close()
    assert await db(online_user_ids)([alice.pk]) == set()


async def test_ping_extends_the_counts_expiry(connect, alice, refresh_every_ping):
    socket = await connect(alice)
    await db(cache.touch)(presence._key(alice.pk), 1)  # about to lapse
    await pong(socket)
    await asyncio.sleep(1.5)
    assert await db(online_user_ids)([alice.pk]) == {alice.pk}


async def test_the_refresh_keeps_the_count_of_several_sockets(connect, alice, refresh_every_ping):
    first, second = await connect(alice), await connect(alice)
    await pong(first)
    await first.close()
    assert await db(online_user_ids)([alice.pk]) == {alice.pk}
    await second.close()
    assert await db(online_user_ids)([alice.pk]) == set()


async def test_the_refresh_is_not_on_every_ping(connect, alice):
    """Cheap: with the default interval a ping right after the handshake does not refresh."""
    socket = await connect(alice)
    await db(cache.delete)(presence._key(alice.pk))
    await pong(socket)
    assert await db(online_user_ids)([alice.pk]) == set()


def test_socket_count_refresh(alice):
    socket_count_refresh(alice.pk)  # no socket counted yet: restores one (the caller has a socket)
    assert online_user_ids([alice.pk]) == {alice.pk}
    presence.socket_opened(alice.pk)
    socket_count_refresh(alice.pk)
    assert cache.get(presence._key(alice.pk)) == 2  # a live count is left as it is
