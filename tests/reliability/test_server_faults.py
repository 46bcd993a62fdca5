"""One of two server processes killed (SIGKILL): its clients reconnect to the other, and `sync`
delivers what was sent meanwhile exactly once, in order; a send whose answer died with the server is
retried there with its client_id and stored once. Real processes: a private redis-server, two daphnes
on the test database, `websockets` clients."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async

from accounts.models import User
from messaging.conversations import conversation_direct_open
from messaging.models import Message
from tests.conftest import token_for
from tests.messaging.conftest import befriend
from tests.messaging.processes import expect
from tests.reliability.fault_servers import configured_daphne
from tests.reliability.faults import private_redis, ws_connect

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def _friends_in_a_direct(alice: User, bob: User) -> tuple[int, str, str]:
    befriend(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    return direct.pk, token_for(alice), token_for(bob)


async def _open(server, token: str) -> websockets.ClientConnection:
    ws = await ws_connect(server, token)
    await ws.send(json.dumps({"type": "ping"}))
    await expect(ws, "pong", timeout=10)
    return ws


async def _send(ws: websockets.ClientConnection, conversation: int, body: str, client_id: str) -> dict:
    await ws.send(
        json.dumps(
            {"type": "message.send", "conversation": conversation, "body": body, "client_id": client_id}
        )
    )
    ack = await expect(ws, "message.ack", timeout=15)
    assert ack["client_id"] == client_id, ack
    return ack["message"]


async def _sync(ws: websockets.ClientConnection, after: int) -> list[dict]:
    await ws.send(json.dumps({"type": "sync", "after": after}))
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if frame["type"] == "sync.done":
            assert frame["has_more"] is False
            return frames
        frames.append(frame)


async def test_clients_of_a_killed_server_reconnect_to_the_other_and_sync_once_in_order(
    tmp_path, alice: User, bob: User
):
    conversation, alice_token, bob_token = await _friends_in_a_direct(alice, bob)
    with (
        private_redis(tmp_path) as redis_server,
        configured_daphne(redis_server, tmp_path, "server-a") as server_a,
        configured_daphne(redis_server, tmp_path, "server-b") as server_b,
    ):
        # given: alice on server A, bob on server B, talking
        alice_ws, bob_ws = await _open(server_a, alice_token), await _open(server_b, bob_token)
        first = await _send(bob_ws, conversation, "hi alice", "b-1")
        assert (await expect(alice_ws, "message.new"))["message"]["id"] == first["id"]
        last_seen = first["id"]

        # when: alice sends, and server A is killed before (or as) her ack comes back
        await alice_ws.send(
            json.dumps(
                {"type": "message.send", "conversation": conversation, "body": "lost?", "client_id": "a-1"}
            )
        )
        await asyncio.to_thread(server_a.kill)
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # whatever was on its way, then the drop (no close frame: 1006)
                await asyncio.wait_for(alice_ws.recv(), 10)
        # and bob goes on writing while alice is away
        meanwhile = [
            await _send(bob_ws, conversation, f"while you were away {n}", f"b-{n + 2}") for n in range(5)
        ]

        # then: alice reconnects to server B, retries her send, and syncs from what she saw last
        alice_ws = await _open(server_b, alice_token)
        retried = await _send(alice_ws, conversation, "lost?", "a-1")
        frames = await _sync(alice_ws, last_seen)
        synced = [f["message"] for f in frames if f["type"] == "message.new"]
        assert [f["type"] for f in frames] == ["message.new"] * len(frames)
        ids = [m["id"] for m in synced]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), "in order, each once"
        bob_ids = [m["id"] for m in meanwhile]
        assert [i for i in ids if i in bob_ids] == bob_ids, "every message sent meanwhile"
        assert set(ids) <= {*bob_ids, retried["id"]}
        # her own send is stored once, whether server A stored it before dying or B on the retry
        assert await database_sync_to_async(Message.objects.filter(client_id="a-1").count)() == 1

        # and live delivery goes on through server B, once
        live = await _send(bob_ws, conversation, "welcome back", "b-9")
        got = await expect(alice_ws, "message.new")
        assert got["message"]["id"] == live["id"]
        await alice_ws.close()
        await bob_ws.close()
