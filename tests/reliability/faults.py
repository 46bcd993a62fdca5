"""Real processes for fault tests: a private redis-server the test may stop and restart, a daphne
and a Celery worker pointed at it, and a small HTTP client over real sockets."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websockets
from django.conf import settings

from tests.messaging.processes import RedisServer, free_port, stop, test_database_url

# Processes of these tests keep their keys apart from the test run's own (same prefix scheme).
PREFIX = f"{settings.REDIS_KEY_PREFIX}-faults"
STARTUP_SECONDS = 120  # a loaded CI machine starts Django slowly


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Daphne:
    """A daphne process on the test database and a private Redis; its output goes to a file
    (a pipe nobody reads would fill up and stall it), which tests read for what was logged."""

    def __init__(self, redis_server: RedisServer, log: Path, **env: str) -> None:
        self.port = free_port()
        self.log = log
        self.redis = redis_server
        self.env = env

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
        env.update(
            DATABASE_URL=test_database_url(),
            REDIS_URL=self.redis.url,
            REDIS_KEY_PREFIX=PREFIX,
            DEBUG="0",
            SECRET_KEY="daphne-test-secret-key-0123456789-0123456789-0123456789",
            SECURE_SSL_REDIRECT="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_POOL_MAX_SIZE="4",
            PAYMENTS_SANDBOX="on",
            **self.env,
        )
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "config.asgi:application",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for(
                lambda: self.process.poll() is not None or self.healthy(), "daphne to serve", STARTUP_SECONDS
            )
            assert self.process.poll() is None, self.output()
        except BaseException:
            self.stop()
            raise

    def healthy(self) -> bool:
        try:
            return self.call("GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        stop(self.process)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None, headers) of one HTTP request."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http to loopback)
                status, content, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, content, got = error.code, error.read(), dict(error.headers)
        return status, (json.loads(content) if content else None), got


@contextmanager
def daphne(redis_server: RedisServer, tmp_path: Path, **env: str) -> Iterator[Daphne]:
    server = Daphne(redis_server, tmp_path / "daphne.log", **env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def celery_worker(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A solo Celery worker on the private Redis; yields (its mail folder, its log)."""
    mail_dir, log = tmp_path / "mail", tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env.update(
        DATABASE_URL=test_database_url(),
        DATABASE_POOL_MAX_SIZE="2",
        REDIS_URL=redis_server.url,
        REDIS_KEY_PREFIX=PREFIX,
        DEBUG="0",
        EMAIL_URL=f"filemail:///{mail_dir}",
    )
    command = [sys.executable, "-m", "celery", "-A", "config.celery:app", "worker", "--pool=solo"]
    command += ["--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("wb") as out:
        worker = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(
            lambda: b"ready." in log.read_bytes() or worker.poll() is not None, "the worker to start", 60
        )
        assert worker.poll() is None, log.read_text()
        yield mail_dir, log
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run_beat_task(redis_server: RedisServer, code: str) -> str:
    """Run `code` in a fresh Django process on the private Redis, as Celery beat's tick would
    (its tasks are published to the broker, not run eagerly); returns what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env.update(
        DATABASE_URL=test_database_url(), REDIS_URL=redis_server.url, REDIS_KEY_PREFIX=PREFIX, DEBUG="0"
    )
    script = "import django; django.setup()\n" + code
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def ws_connect(server: Daphne, token: str) -> websockets.ClientConnection:
    return await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Token {token}"})
