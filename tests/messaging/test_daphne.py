"""Real sockets against two real daphne processes sharing PostgreSQL and Redis: a message sent to
server A reaches a socket on server B, and close code 4401 arrives over the wire."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from tests.conftest import token_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"daphne on port {port} did not start")


@pytest.fixture(scope="module")
def servers(django_db_setup: None) -> Iterator[list[int]]:
    """Two daphne processes on free ports against the test database; stopped after the module."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "DEBUG": "0",
        "SECRET_KEY": "daphne-test-secret-key-0123456789-0123456789-0123456789",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_POOL_MAX_SIZE": "4",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_until_serving(port, process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


async def _expect(ws, type_: str, timeout: float = 5) -> dict:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), end - loop.time()))
        if frame["type"] == type_:
            return frame


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
