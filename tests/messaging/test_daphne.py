"""Real sockets against two real daphne processes sharing PostgreSQL and Redis: a message sent to
server A reaches a socket on server B, and close code 4401 arrives over the wire."""

import asyncio
import json
import urllib.request
from collections.abc import Iterator

import pytest
import websockets
from channels.db import database_sync_to_async

from tests.conftest import token_for
from tests.messaging.processes import expect as _expect
from tests.messaging.processes import free_port, start_daphne, stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def servers(django_db_setup: None) -> Iterator[list[int]]:
    """Two daphne processes on free ports against the test database; stopped after the module."""
    ports = [free_port(), free_port()]
    processes = []
    try:
        for port in ports:
            processes.append(start_daphne(port))
        yield ports
    finally:
        stop(*processes)


async def test_a_message_sent_to_server_a_reaches_server_b(servers, alice, bob, direct):
    port_a, port_b = servers
    alice_token = await database_sync_to_async(token_for)(alice)
    bob_token = await database_sync_to_async(token_for)(bob)
    async with (
        websockets.connect(
            f"ws://127.0.0.1:{port_a}/ws/", additional_headers={"Authorization": f"Token {alice_token}"}
        ) as alice_ws,
        websockets.connect(
            f"ws://127.0.0.1:{port_b}/ws/", additional_headers={"Authorization": f"Token {bob_token}"}
        ) as bob_ws,
    ):
        # presence crosses servers too: Bob's socket opened after Alice's
        assert (await _expect(alice_ws, "presence"))["user"] == bob.number
        await alice_ws.send(
            json.dumps(
                {"type": "message.send", "conversation": direct.pk, "body": "跨服务器", "client_id": "x1"}
            )
        )
        ack = await _expect(alice_ws, "message.ack")
        new = await _expect(bob_ws, "message.new")
        assert new["message"] == ack["message"] and new["message"]["body"] == "跨服务器"
        await bob_ws.send(json.dumps({"type": "sync", "after": 0}))
        synced = await _expect(bob_ws, "sync.done")
        assert synced == {"type": "sync.done", "last": ack["message"]["id"], "has_more": False}
        # an HTTP post to server B reaches Alice's socket on server A
        request = urllib.request.Request(
            f"http://127.0.0.1:{port_b}/api/v1/conversations/{direct.pk}/messages",
            data=json.dumps({"body": "over http"}).encode(),
            headers={"Authorization": f"Token {bob_token}", "Content-Type": "application/json"},
        )
        response = await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
        assert response.status == 201
        assert (await _expect(alice_ws, "message.new"))["message"]["body"] == "over http"


async def test_close_code_4401_arrives_over_a_real_socket(servers, db):
    async with websockets.connect(f"ws://127.0.0.1:{servers[0]}/ws/") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_oversized_and_binary_frames_close_the_real_socket(servers, alice):
    token = await database_sync_to_async(token_for)(alice)
    headers = {"Authorization": f"Token {token}"}
    async with websockets.connect(f"ws://127.0.0.1:{servers[0]}/ws/", additional_headers=headers) as ws:
        await ws.send("x" * (64 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 1009
    async with websockets.connect(f"ws://127.0.0.1:{servers[1]}/ws/", additional_headers=headers) as ws:
        await ws.send(b"\x00binary")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 1003
