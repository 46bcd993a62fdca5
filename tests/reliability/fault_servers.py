"""Server processes for the fault tests of PostgreSQL backends, workers and servers killed
(test_pg_faults, test_worker_faults, test_server_faults, test_bank_under_faults): tests.reliability.faults'
daphne with settings the caller may override (its pool size, its rate limits), and the SQL a test
uses to find and kill a server's PostgreSQL backends."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.conf import settings

from tests.messaging.processes import RedisServer, test_database_url
from tests.reliability.faults import PREFIX, STARTUP_SECONDS, Daphne, wait_for


class ConfiguredDaphne(Daphne):
    """faults.Daphne, where the caller's environment wins over the defaults (DATABASE_POOL_MAX_SIZE,
    RATE_LIMITS, ...). Its connections name themselves `application_name` in pg_stat_activity."""

    def __init__(self, redis_server: RedisServer, log: Path, name: str, **env: str) -> None:
        super().__init__(redis_server, log, **env)
        self.name = name

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
        env.update(
            {
                "DATABASE_URL": f"{test_database_url()}?application_name={self.name}",
                "REDIS_URL": self.redis.url,
                "REDIS_KEY_PREFIX": PREFIX,
                "DEBUG": "0",
                "SECRET_KEY": "daphne-test-secret-key-0123456789-0123456789-0123456789",
                "SECURE_SSL_REDIRECT": "0",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_POOL_MAX_SIZE": "4",
                "PAYMENTS_SANDBOX": "on",
                **self.env,
            }
        )
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "config.asgi:application"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(
                lambda: self.process.poll() is not None or self.healthy(), "daphne to serve", STARTUP_SECONDS
            )
            assert self.process.poll() is None, self.output()
        except BaseException:
            self.stop()
            raise

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, sockets and database connections just drop."""
        self.process.kill()
        self.process.wait(10)


@contextmanager
def configured_daphne(
    redis_server: RedisServer, tmp_path: Path, name: str, **env: str
) -> Iterator[ConfiguredDaphne]:
    server = ConfiguredDaphne(redis_server, tmp_path / f"{name}.log", name, **env)
    server.start()
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def backends_of(application_name: str) -> list[int]:
    """Pids of the test database's backends opened by the process named `application_name`."""
    with psycopg.connect(test_database_url(), autocommit=True) as probe:
        rows = probe.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [application_name],
        ).fetchall()
    return [row[0] for row in rows]


def terminate(pids: list[int]) -> int:
    """pg_terminate_backend each pid; how many were still there to terminate."""
    if not pids:
        return 0
    with psycopg.connect(test_database_url(), autocommit=True) as killer:
        rows = killer.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids]
        ).fetchall()
    return sum(1 for (done,) in rows if done)
