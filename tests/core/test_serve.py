"""bin/serve (CONTRACT section 1): the production server, started as an operator would (the script
itself, by its shebang), used from outside over HTTP and WebSocket, and stopped with SIGTERM."""

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import websockets
from django.conf import settings

from accounts.services import device_token_create
from coins.services import promotion_grant
from tests.factories import UserFactory, make_friends
from tests.messaging.processes import expect, free_port, test_database_url

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "bin" / "serve"
SECRET = "serve-test-secret-key-0123456789-0123456789-0123456789"


def _process_tree(root: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        tree |= frontier
    return tree


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(port: int, env: dict[str, str], host: str = "127.0.0.1") -> subprocess.Popen:
    process = subprocess.Popen(
        [str(SERVE), "--port", str(port), "--host", host],
        cwd="/",  # it finds the project by its own path
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bin/serve exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    time.sleep(1)  # the other workers too
                    return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise AssertionError(f"bin/serve did not answer /healthz:\n{process.stdout.read()}")


def _stop_with_sigterm(process: subprocess.Popen) -> tuple[float, str]:
    """SIGTERM; returns how long until every process of the tree was gone, and the output."""
    tree = _process_tree(process.pid)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        for pid in tree:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError("bin/serve did not stop within 20 s of SIGTERM") from None
    while any(_alive(pid) for pid in tree) and time.monotonic() - started < 20:
        time.sleep(0.05)
    assert not [pid for pid in tree if _alive(pid)], "a worker outlived bin/serve"
    return time.monotonic() - started, output


def _workers(process: subprocess.Popen) -> int:
    """Processes serving requests: uvicorn's children that run the app (not its resource tracker)."""
    children = _process_tree(process.pid) - {process.pid}
    return sum(1 for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()) or 1


def _server_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER", "VIRTUAL_ENV")
    }
    # Started as an operator would: from a shell whose python3 is the system's, not the venv's.
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env.update(
        DEBUG="0", SECRET_KEY=SECRET, SECURE_SSL_REDIRECT="0", ALLOWED_HOSTS="127.0.0.1,127.0.0.2,localhost"
    )
    env.update(overrides)
    return env


async def _closed_with_4401_after_accept(url: str) -> int:
    async with websockets.connect(url) as ws:  # the handshake completes: accepted
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        return ws.close_code


def test_serve_on_the_embedded_default_one_worker_given_host_websocket_and_sigterm(tmp_path: Path) -> None:
    # given: the embedded default (no Redis) on a SQLite file of its own, bound to 127.0.0.2
    env = _server_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    port = free_port()

    # when
    process = _start(port, env, host="127.0.0.2")
    try:
        # then: it answers on the given host only
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/healthz", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        # an API error is the contract's JSON
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(f"http://127.0.0.2:{port}/api/v1/no-such-thing", timeout=10)
        assert not_found.value.code == 404
        assert json.loads(not_found.value.read())["code"] == "not_found"
        # a socket without credentials is accepted, then closed with 4401 (the code arrives)
        assert asyncio.run(_closed_with_4401_after_accept(f"ws://127.0.0.2:{port}/ws/")) == 4401
        # one worker: the in-memory channel layer cannot span processes
        assert _workers(process) == 1
    finally:
        seconds, output = _stop_with_sigterm(process)

    assert "1 worker: no REDIS_URL" in output
    assert seconds < 10
    assert process.returncode == 0


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_serve_on_postgres_and_redis_runs_a_worker_per_core_sharing_events() -> None:
    # given: two friends, the sender funded, the recipient with a token
    sender, recipient = UserFactory(), UserFactory()
    make_friends(sender, recipient)
    promotion_grant(user=sender, amount=100)
    sender_token, recipient_token = device_token_create(user=sender), device_token_create(user=recipient)
    env = _server_env(
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,
        DATABASE_POOL_MAX_SIZE="4",
    )
    port = free_port()
    cores = len(os.sched_getaffinity(0))

    async def transfers_reach_the_socket() -> list[int]:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/", additional_headers={"Authorization": f"Token {recipient_token}"}
        ) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            await expect(ws, "pong")
            balances = []
            for _ in range(2 * cores):  # a new connection each: the kernel spreads them over the workers
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/coins/transfers",
                    data=json.dumps({"to": recipient.number, "amount": 1}).encode(),
                    headers={
                        "Authorization": f"Token {sender_token}",
                        "Content-Type": "application/json",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                    method="POST",
                )
                response = await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
                assert response.status == 201
                balances.append((await expect(ws, "coins.balance", timeout=10))["balance"])
            return balances

    # when
    process = _start(port, env)
    try:
        # then: a worker per core, and events pass between them through Redis
        assert _workers(process) == cores
        assert asyncio.run(transfers_reach_the_socket()) == list(range(1, 2 * cores + 1))
    finally:
        seconds, output = _stop_with_sigterm(process)

    assert f"{cores} workers, one per core" in output
    assert seconds < 10
    assert process.returncode == 0
