"""The production-like local run (bin/prod-local): two bin/serve processes behind nginx, a Celery
worker and beat, from the Procfile under honcho. Started as an operator would, used from outside
(HTTP through nginx, sockets through nginx and on each web process), and stopped with Ctrl-C."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import websockets
from django.conf import settings
from django.db import connection

from tests.messaging.processes import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _admin_params() -> dict:
    db = connection.settings_dict
    return {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"] or "postgres",
        "password": db.get("PASSWORD") or None,
    }


def _call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    url = f"{base}/api/v1/{path}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else {}


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bin/prod-local exited early:\n{_output(process)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url}/healthz never answered 200")


def _output(process: subprocess.Popen) -> str:
    return process.log_path.read_text()[-20_000:]


def _port_closed(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def prod_local(db, tmp_path):
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed: .ci/run installs it (apt-get install nginx-light)")
    name = f"huddle_prodlocal_{uuid.uuid4().hex[:8]}"
    port = free_port()
    web1, web2 = free_port(), free_port()
    params = _admin_params()
    database_url = f"postgres://{params['user']}@{params['host']}:{params['port']}/{name}"
    env = {
        **os.environ,
        "PORT": str(port),
        "HUDDLE_WEB1_PORT": str(web1),
        "HUDDLE_WEB2_PORT": str(web2),
        "HUDDLE_RUN_DIR": str(tmp_path / "run"),
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": f"{settings.REDIS_KEY_PREFIX}-prodlocal",
        "RATE_LIMITS": json.dumps({"register": "1000/hour"}),
        "DATABASE_POOL_MAX_SIZE": "4",
        "METRICS_TOKEN": "prod-local-metrics",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [str(ROOT / "bin" / "prod-local")],
        cwd=ROOT,
        env=env,
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one (64 KiB of
        # logs) would freeze the processes writing to it.
        stdout=(tmp_path / "prod-local.log").open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    process.log_path = tmp_path / "prod-local.log"
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, process)
        for web in (web1, web2):
            _wait_healthy(f"http://127.0.0.1:{web}", process)
        yield {"process": process, "base": base, "port": port, "web": (web1, web2)}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        with psycopg.connect(dbname="postgres", autocommit=True, **_admin_params()) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _receive(ws, kind: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if frame["type"] == kind:
            return frame


def test_prod_local_serves_chat_across_both_processes_and_stops_on_ctrl_c(prod_local):
    base = prod_local["base"]
    web1, web2 = prod_local["web"]
    suffix = uuid.uuid4().hex[:6]
    ann = _call(base, "POST", "auth/register", {"username": f"ann{suffix}", "password": "pw-Ann-12345!"})
    ben = _call(base, "POST", "auth/register", {"username": f"ben{suffix}", "password": "pw-Ben-12345!"})
    request = _call(base, "POST", "friends/requests", {"to": ben["number"]}, ann["token"])
    _call(base, "POST", f"friends/requests/{request['id']}/accept", {}, ben["token"])
    chat = _call(base, "POST", "conversations/direct", {"user": ben["number"]}, ann["token"])

    async def scenario() -> None:
        def socket(port: int, token: str):
            return websockets.connect(
                f"ws://127.0.0.1:{port}/ws/", additional_headers={"Authorization": f"Token {token}"}
            )

        async with (
            socket(web1, ann["token"]) as ann_ws,
            socket(web2, ben["token"]) as ben_ws,
            socket(prod_local["port"], ben["token"]) as ben_via_nginx,
        ):
            for ws in (ann_ws, ben_ws, ben_via_nginx):
                await ws.send(json.dumps({"type": "ping"}))
                await _receive(ws, "pong")
            # A socket on web 1 sends; the friend's sockets on web 2 and through nginx receive.
            await ann_ws.send(
                json.dumps(
                    {"type": "message.send", "conversation": chat["id"], "body": "hi", "client_id": "c1"}
                )
            )
            ack = await _receive(ann_ws, "message.ack")
            for ws in (ben_ws, ben_via_nginx):
                new = await _receive(ws, "message.new")
                assert new["message"]["id"] == ack["message"]["id"]
                assert new["message"]["body"] == "hi"
            # An HTTP send through nginx reaches the sockets on both processes.
            sent = await asyncio.to_thread(
                _call,
                base,
                "POST",
                f"conversations/{chat['id']}/messages",
                {"body": "over http"},
                ben["token"],
            )
            assert (await _receive(ann_ws, "message.new"))["message"]["id"] == sent["id"]

    asyncio.run(scenario())
    history = _call(base, "GET", f"conversations/{chat['id']}/messages", token=ann["token"])
    assert [m["body"] for m in history["results"]] == ["hi", "over http"]
    # /metrics through nginx sums both web processes: two messages stored, whoever stored them.
    auth = {"Authorization": "Bearer prod-local-metrics"}
    scrape = urllib.request.Request(f"{base}/metrics", headers=auth)  # noqa: S310 (loopback)
    with urllib.request.urlopen(scrape, timeout=10) as response:  # noqa: S310 (loopback)
        exposition = response.read().decode()
    assert 'huddle_messages_sent_total{kind="text"} 2.0' in exposition

    async def closed_with_1012() -> int:
        async with websockets.connect(
            f"ws://127.0.0.1:{web2}/ws/", additional_headers={"Authorization": f"Token {ann['token']}"}
        ) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            await _receive(ws, "pong")
            os.killpg(prod_local["process"].pid, signal.SIGINT)  # Ctrl-C in the operator's terminal
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
            return ws.close_code

    # A stopping server tells its sockets to reconnect elsewhere (1012 service restart).
    assert asyncio.run(closed_with_1012()) == 1012

    process = prod_local["process"]
    process.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of bin/prod-local were still running 10 s after it stopped")
    for port in (prod_local["port"], web1, web2):
        assert _port_closed(port)
