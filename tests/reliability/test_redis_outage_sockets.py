"""Sockets across a Redis outage and a Redis restart (degraded mode, CONTRACT section 1): open
sockets close with 1011, handshakes fail cleanly while Redis is down, and once it is back (empty)
a reconnected client's `sync` delivers everything sent meanwhile over HTTP, in order, once.
Real processes: a private redis-server, daphne on the test database, a `websockets` client."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async

from accounts.models import User
from messaging.conversations import conversation_direct_open
from tests.conftest import token_for
from tests.messaging.conftest import befriend
from tests.messaging.processes import expect
from tests.reliability.faults import Daphne, daphne, private_redis, ws_connect

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def _friends_in_a_direct(alice: User, bob: User) -> tuple[int, str, str]:
    befriend(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    return direct.pk, token_for(alice), token_for(bob)


async def _closed_with(ws: websockets.ClientConnection, timeout: float = 10) -> int | None:
    """Wait for the server to close the socket; its close code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await expect(ws, "no such frame", timeout=timeout)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


async def _send_http(server: Daphne, token: str, conversation: int, body: str) -> dict:
    status, message, _ = await asyncio.to_thread(
        server.call,
        "POST",
        f"/api/v1/conversations/{conversation}/messages",
        token=token,
        body={"body": body},
    )
    assert status == 201, message
    return message


async def _reconnect(server: Daphne, token: str, timeout: float = 20) -> websockets.ClientConnection:
    """Connect as a client would after a 1011: retry until a socket stays open (answers a ping)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            ws = await ws_connect(server, token)
            await ws.send(json.dumps({"type": "ping"}))
            await expect(ws, "pong", timeout=3)
            return ws
        except (websockets.ConnectionClosed, websockets.InvalidStatus, OSError, TimeoutError):
            assert loop.time() < deadline, "could not reconnect"
            await asyncio.sleep(0.5)


async def _sync(ws: websockets.ClientConnection, after: int) -> tuple[list[dict], dict]:
    """Every frame a `sync` from `after` answers, up to and with its `sync.done`."""
    await ws.send(json.dumps({"type": "sync", "after": after}))
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "sync.done":
            return frames, frame
        frames.append(frame)


async def _no_more_messages(ws: websockets.ClientConnection, seconds: float = 1.5) -> list[dict]:
    """The message frames that still arrive within `seconds` (none expected)."""
    extra = []
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), seconds))
            if frame["type"].startswith("message."):
                extra.append(frame)
    except TimeoutError:
        return extra


async def test_sockets_close_while_redis_is_down_and_sync_delivers_what_was_sent_meanwhile(
    tmp_path, alice: User, bob: User
):
    conversation, alice_token, bob_token = await _friends_in_a_direct(alice, bob)
    with private_redis(tmp_path) as redis_server, daphne(redis_server, tmp_path) as server:
        bob_ws = await _reconnect(server, bob_token)
        before = await _send_http(server, alice_token, conversation, "before")
        assert (await expect(bob_ws, "message.new"))["message"]["id"] == before["id"]

        # when: Redis stops
        await asyncio.to_thread(redis_server.stop)
        # then: the open socket is closed with 1011 (the process watches Redis)
        assert await _closed_with(bob_ws) == 1011
        # and a new handshake fails cleanly: refused, or closed with 1011 at once, never left open
        try:
            probe = await ws_connect(server, bob_token)
        except websockets.InvalidStatus as refused:
            assert refused.response.status_code >= 500
        else:
            assert await _closed_with(probe, timeout=5) == 1011

        # when: Alice keeps chatting over HTTP (stored), edits one of those and the one Bob had
        meanwhile = [await _send_http(server, alice_token, conversation, f"meanwhile {n}") for n in range(5)]
        for message_id, body in ((meanwhile[2]["id"], "fixed"), (before["id"], "before, edited")):
            status, _, _ = await asyncio.to_thread(
                server.call, "PATCH", f"/api/v1/messages/{message_id}", token=alice_token, body={"body": body}
            )
            assert status == 200
        # and Redis comes back, empty
        await asyncio.to_thread(redis_server.start)

        # then: Bob reconnects and a sync from the last message he had delivers each one, in order, once
        bob_ws = await _reconnect(server, bob_token)
        try:
            frames, done = await _sync(bob_ws, before["id"])
            new = [f["message"] for f in frames if f["type"] == "message.new"]
            assert [m["id"] for m in new] == [m["id"] for m in meanwhile]
            assert [m["body"] for m in new] == [
                "meanwhile 0",
                "meanwhile 1",
                "fixed",
                "meanwhile 3",
                "meanwhile 4",
            ]
            # (an edit of a message the sync delivers is in it; Bob's older message comes as an edit)
            edits = [f["message"] for f in frames if f["type"] == "message.edited"]
            assert [(m["id"], m["body"]) for m in edits] == [(before["id"], "before, edited")]
            assert done == {"type": "sync.done", "last": meanwhile[-1]["id"], "has_more": False}
            # and live delivery works again, once
            after = await _send_http(server, alice_token, conversation, "after")
            assert (await expect(bob_ws, "message.new"))["message"]["id"] == after["id"]
            assert await _no_more_messages(bob_ws) == []
        finally:
            await bob_ws.close()


async def test_a_quick_redis_restart_closes_sockets_so_clients_resync(tmp_path, alice: User, bob: User):
    """Redis restarted between two checks: the layer would subscribe again by itself, but whatever
    was published in between is gone, so the sockets are closed (1011) and their clients resync."""
    conversation, alice_token, bob_token = await _friends_in_a_direct(alice, bob)
    with private_redis(tmp_path) as redis_server, daphne(redis_server, tmp_path) as server:
        bob_ws = await _reconnect(server, bob_token)
        # when: Redis restarts (empty) and a message is sent right away
        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start)
        lost_live = await _send_http(server, alice_token, conversation, "during the restart")
        # then: Bob's socket is closed with 1011, and his sync after reconnecting has the message once
        assert await _closed_with(bob_ws) == 1011
        bob_ws = await _reconnect(server, bob_token)
        try:
            frames, done = await _sync(bob_ws, 0)
            assert [f["message"]["id"] for f in frames if f["type"] == "message.new"] == [lost_live["id"]]
            assert done["last"] == lost_live["id"]
        finally:
            await bob_ws.close()
