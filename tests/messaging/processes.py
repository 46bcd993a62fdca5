"""Real daphne (and redis-server) processes for tests over real sockets."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from urllib.parse import quote

import pytest
import websockets
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


OUTPUT_TAIL_LINES = 200


def _drain_output(process: subprocess.Popen) -> None:
    """Read the server's output as it comes, keeping its last lines (`process.output_tail`).
    Unread, the pipe fills (64 KiB: access and JSON log lines of one module's tests) and the server
    blocks on its next log line, with a handler's lock held: then it answers nothing more."""
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    process.output_tail = tail  # type: ignore[attr-defined]

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            tail.append(line)

    reader = threading.Thread(target=read, name=f"output of pid {process.pid}", daemon=True)
    reader.start()
    process.output_reader = reader  # type: ignore[attr-defined]


def output_of(process: subprocess.Popen) -> str:
    """The last lines the server wrote (up to OUTPUT_TAIL_LINES; complete once it has exited)."""
    reader = getattr(process, "output_reader", None)
    if reader is not None and process.poll() is not None:
        reader.join(5)
    return "".join(getattr(process, "output_tail", ()))


def _wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90  # a loaded machine (CI, parallel runs) starts Django slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited: {output_of(process)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"daphne on port {port} did not start")


def start_daphne(port: int, **env_overrides: str) -> subprocess.Popen:
    """daphne on `port` against the test database and (unless overridden) the test's Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "DEBUG": "0",
        "SECRET_KEY": "daphne-test-secret-key-0123456789-0123456789-0123456789",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_POOL_MAX_SIZE": "4",
        **env_overrides,
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _drain_output(process)
    try:
        _wait_until_serving(port, process)
    except BaseException:
        stop(process)
        raise
    return process


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class RedisServer:
    """A private redis-server on a free port (keeps nothing on disk), which a test may restart."""

    def __init__(self, tmp_path: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("needs the redis-server program on PATH")
        self.binary, self.dir, self.port = binary, tmp_path, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


async def expect(ws: websockets.ClientConnection, type_: str, timeout: float = 5) -> dict:
    """The next frame of `type_` (other frames are skipped)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), end - loop.time()))
        if frame["type"] == type_:
            return frame
