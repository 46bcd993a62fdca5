"""A Redis restart under a running daphne, over real sockets (degraded mode, CONTRACT section 1):
open sockets are closed with 1011 (whatever was published meanwhile is gone), the reconnected ones
receive live again, and a send in flight when Redis stops is either acknowledged (and stored) or
its socket closes, so the client's retry with the same client_id stores it exactly once.
(More in tests/reliability.)

Each test runs its own redis-server on a free port (the shared one must not be restarted)."""

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
import redis
import websockets
from channels.db import database_sync_to_async
from django.conf import settings

from messaging.models import Message
from tests.conftest import token_for
from tests.messaging.processes import RedisServer, expect, free_port, start_daphne, stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_port(private_redis: RedisServer) -> Iterator[int]:
    port = free_port()
    process = start_daphne(port, REDIS_URL=private_redis.url)
    try:
        yield port
    finally:
        stop(process)


def _subscribers(redis_server: RedisServer, user_id: int) -> int:
    channel = f"{settings.REDIS_KEY_PREFIX}:ws__group__user.{user_id}"
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    try:
        return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
    except redis.ConnectionError:
        return 0
    finally:
        client.close()


async def _wait_for_subscriber(redis_server: RedisServer, user_id: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(_subscribers, redis_server, user_id) < 1:
        assert time.monotonic() < deadline, "the group was not subscribed again"
        await asyncio.sleep(0.2)


def _send(conversation_id: int, body: str, client_id: str) -> str:
    return json.dumps(
        {"type": "message.send", "conversation": conversation_id, "body": body, "client_id": client_id}
    )


async def _connect(port: int, user) -> websockets.ClientConnection:
    token = await database_sync_to_async(token_for)(user)
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/", additional_headers={"Authorization": f"Token {token}"}
    )


async def _closed_with(ws: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await expect(ws, "no such frame", timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


async def _reconnect(port: int, user, timeout: float = 20) -> websockets.ClientConnection:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ws = await _connect(port, user)
            await ws.send(json.dumps({"type": "ping"}))
            await expect(ws, "pong", timeout=3)
            return ws
        except (websockets.ConnectionClosed, websockets.InvalidStatus, OSError, TimeoutError):
            assert time.monotonic() < deadline, "could not reconnect"
            await asyncio.sleep(0.5)


async def test_open_sockets_close_when_redis_restarts_and_receive_again_after_reconnecting(
    private_redis, server_port, alice, bob, direct
):
    alice_ws, bob_ws = await _connect(server_port, alice), await _connect(server_port, bob)
    try:
        await alice_ws.send(_send(direct.pk, "before", "c1"))
        assert (await expect(alice_ws, "message.ack"))["client_id"] == "c1"
        assert (await expect(bob_ws, "message.new"))["message"]["body"] == "before"
        # when: Redis restarts and has forgotten every subscription
        await asyncio.to_thread(private_redis.stop)
        await asyncio.to_thread(private_redis.start)
        # then: both sockets are closed with 1011 (their clients resync)
        assert await _closed_with(alice_ws) == 1011
        assert await _closed_with(bob_ws) == 1011
        # and once reconnected, they receive live again
        alice_ws, bob_ws = await _reconnect(server_port, alice), await _reconnect(server_port, bob)
        await _wait_for_subscriber(private_redis, bob.pk)
        await alice_ws.send(_send(direct.pk, "after", "c2"))
        assert (await expect(alice_ws, "message.ack"))["client_id"] == "c2"
        assert (await expect(bob_ws, "message.new"))["message"]["body"] == "after"
    finally:
        await alice_ws.close()
        await bob_ws.close()


async def test_a_send_when_redis_stops_is_acked_or_refused_and_the_retry_stores_it_once(
    private_redis, server_port, alice, bob, direct
):
    alice_ws = await _connect(server_port, alice)
    try:
        # when: Redis stops, Alice sends at once
        await asyncio.to_thread(private_redis.stop)
        await alice_ws.send(_send(direct.pk, "while down", "d1"))
        # then: either the send is acknowledged (stored) or the socket is closed with 1011 first
        try:
            ack = await expect(alice_ws, "message.ack")
            assert ack["client_id"] == "d1"
            assert await _closed_with(alice_ws) == 1011
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1011
        # when: Redis is back, she reconnects and sends again with the same client_id (twice)
        await asyncio.to_thread(private_redis.start)
        alice_ws = await _reconnect(server_port, alice)
        await alice_ws.send(_send(direct.pk, "while down", "d1"))
        await alice_ws.send(_send(direct.pk, "while down", "d1"))
        first, second = await expect(alice_ws, "message.ack"), await expect(alice_ws, "message.ack")
        # then: one message
        assert first["message"] == second["message"]
        assert await database_sync_to_async(Message.objects.filter(conversation=direct).count)() == 1
    finally:
        await alice_ws.close()
