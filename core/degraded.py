"""Degraded mode (CONTRACT section 1): Redis down, PostgreSQL enough.

PostgreSQL is the source of truth; Redis carries only what can be rebuilt or skipped (rate-limit
and presence counts, login-failure counts, socket events, Celery's queue). While Redis cannot be
reached, each process:

- remembers it for `RETRY_SECONDS` (`redis_unreachable`), so a dead Redis costs one refused
  connection every few seconds rather than one per call, and logs the outage once, not per call;
- answers the cache from its own memory (`FailoverRedisCache`): rate limits, login limits and
  presence count per process until Redis is back (a process restarting meanwhile forgets them);
- counts rate-limit hits in its own memory (`local_hit`, used by core.throttling);
- closes its open sockets with 1011 (`watch_socket`) when Redis goes away or comes back as another
  server (a restart: its subscriptions and anything published meanwhile are gone). The clients
  reconnect and `sync`, which reads PostgreSQL, so what they missed comes back in order, once.

Socket events published meanwhile are skipped with a log line (messaging.realtime), and Celery
dispatches after commit are logged and redone from the database by the beat's sweeps
(coins.tasks.sweep_receipts; renewals and red-packet expiry find their work in the database).
"""

import asyncio
import logging
import threading
import time
import weakref
from typing import Any, Protocol

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as KombuOperationalError
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("huddle.degraded")

# Errors that mean "Redis cannot be reached" (not "Redis refused this command").
UNREACHABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionInterrupted, OSError)
RETRY_SECONDS = 2.0  # after a failure, Redis is tried again this much later
WATCH_SECONDS = 1.0  # how often a process with open sockets checks on Redis

_state_lock = threading.Lock()
_unreachable_until: dict[str, float] = {}  # Redis URL -> time.monotonic() until which it counts as down


def redis_unreachable(url: str) -> bool:
    """True while a recent call found the Redis at `url` unreachable (for RETRY_SECONDS after it)."""
    until = _unreachable_until.get(url)
    return until is not None and time.monotonic() < until


def redis_failed(url: str, what: str, exc: BaseException) -> None:
    """Record that `what` (cache, rate limits, events, ...) could not reach the Redis at `url`;
    logs once an outage."""
    with _state_lock:
        first = url not in _unreachable_until
        _unreachable_until[url] = time.monotonic() + RETRY_SECONDS
    if first:
        logger.warning("Redis unreachable (%s: %s): degraded mode, PostgreSQL only", what, exc)


def redis_answered(url: str) -> None:
    """Record that the Redis at `url` answered; logs the end of an outage."""
    if url not in _unreachable_until:
        return
    with _state_lock:
        was_down = _unreachable_until.pop(url, None) is not None
    if was_down:
        logger.warning("Redis reachable again: degraded mode over")


# --- Rate-limit counts kept in this process --------------------------------------------------------

_local_counts: dict[str, tuple[float, int]] = {}  # key -> (expires at, count)
_local_lock = threading.Lock()
_LOCAL_MAX_KEYS = 100_000


def local_hit(key: str, ttl: int) -> int:
    """Count one hit of `key` in this process's memory (it expires `ttl` seconds after its first
    hit); returns the count. What core.throttling uses while Redis is down."""
    now = time.monotonic()
    with _local_lock:
        expires_at, count = _local_counts.get(key, (0.0, 0))
        if expires_at <= now:
            expires_at, count = now + ttl, 0
            if len(_local_counts) >= _LOCAL_MAX_KEYS:
                for stale in [k for k, (until, _) in _local_counts.items() if until <= now]:
                    del _local_counts[stale]
        count += 1
        _local_counts[key] = (expires_at, count)
        return count


# --- The cache ---------------------------------------------------------------------------------------

_FAILOVER_METHODS = (
    "get",
    "set",
    "add",
    "delete",
    "delete_many",
    "get_many",
    "set_many",
    "has_key",
    "incr",
    "decr",
    "touch",
)


class FailoverRedisCache(RedisCache):
    """django-redis, answered from this process's memory (a LocMemCache) while Redis is down.

    Not django-redis's IGNORE_EXCEPTIONS, which answers "nothing there" to every read: a failed
    login count would then never reach its limit. Here counts go on per process, as the contract
    says of rate limits in degraded mode. Keys written during the outage stay in memory only;
    Redis, once back, answers with what it holds (nothing, after a restart without persistence).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.location = server
        # LocMemCache instances of one name share their storage: every thread's cache object
        # (Django keeps one per thread) falls back to the same memory.
        self.fallback = LocMemCache(
            f"huddle-redis-fallback:{server}",
            {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 100_000}},
        )


def _failover(name: str) -> Any:
    redis_method = getattr(RedisCache, name)

    def method(self: FailoverRedisCache, *args: Any, **kwargs: Any) -> Any:
        if not redis_unreachable(self.location):
            try:
                result = redis_method(self, *args, **kwargs)
            except UNREACHABLE_ERRORS as exc:
                redis_failed(self.location, "cache", exc)
            else:
                redis_answered(self.location)
                return result
        return getattr(self.fallback, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = redis_method.__doc__
    return method


for _name in _FAILOVER_METHODS:
    setattr(FailoverRedisCache, _name, _failover(_name))


# --- Sockets -------------------------------------------------------------------------------------------


class ClosableSocket(Protocol):
    async def close(self, code: int | None = None, reason: str | None = None) -> None: ...


CLOSE_SERVER_ERROR = 1011


class _SocketWatch:
    """The open sockets of one event loop, and the task that checks on Redis for them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def server_id(self, client: aioredis.Redis) -> str | None:
        """The running Redis server's run_id (new at every start), or None if it cannot be reached."""
        try:
            info = await client.info("server")
        except UNREACHABLE_ERRORS as exc:
            redis_failed(self.url, "socket watch", exc)
            return None
        redis_answered(self.url)
        return info.get("run_id")

    async def run(self) -> None:
        client = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=1, socket_timeout=2, retry_on_error=[], retry=None
        )
        known: str | None = None
        try:
            while self.sockets:
                current = await self.server_id(client)
                if current is None or (known is not None and current != known):
                    # Down, or restarted: the sockets' subscriptions, and events published in
                    # between, are gone. Their clients reconnect and sync from PostgreSQL.
                    await self.close_all("Redis unreachable" if current is None else "Redis restarted")
                known = current
                await asyncio.sleep(WATCH_SECONDS)
        finally:
            await client.aclose()

    async def close_all(self, why: str) -> None:
        sockets = list(self.sockets)
        self.sockets.clear()
        if sockets:
            logger.warning("%s: closing %d sockets with 1011 (clients reconnect and sync)", why, len(sockets))
        for socket in sockets:
            try:
                await socket.close(code=CLOSE_SERVER_ERROR)
            except Exception:  # a socket already going away
                logger.debug("closing a socket failed", exc_info=True)


_watches: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SocketWatch]" = weakref.WeakKeyDictionary()


def watch_socket(socket: ClosableSocket) -> None:
    """From a consumer's `connect` (on its event loop), once its socket joined its group: close it
    with 1011 if Redis goes away or restarts while it is open. Without REDIS_URL, nothing to watch."""
    url = settings.REDIS_URL
    if not url:
        return
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None or watch.url != url:
        watch = _watches[loop] = _SocketWatch(url)
    watch.sockets.add(socket)
    watch.start()
    redis_answered(url)  # the socket just joined its group: Redis is there


# --- Celery dispatches ---------------------------------------------------------------------------------

# A dispatch whose work a sweep redoes from the database tries the broker briefly: the request
# that committed the work is answered at once rather than after Celery's default retries.
SWEPT_DISPATCH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def task_dispatch_on_commit(task: Any, *args: Any, swept_by: str) -> None:
    """After the current transaction commits, queue `task(*args)`, a task whose work the periodic
    task `swept_by` finds in the database and dispatches again if this one never reached the
    broker. A broker that is down (Redis, in degraded mode) is logged in one line and never
    raised: the work is committed, and only its dispatch waits for the sweep."""

    def dispatch() -> None:
        broker = str(settings.CELERY_BROKER_URL)
        name = getattr(task, "name", repr(task))
        if redis_unreachable(broker):
            logger.warning("broker unreachable: %s%r left to %s", name, args, swept_by)
            return
        try:
            task.apply_async(args=args, retry_policy=SWEPT_DISPATCH_RETRY)
        except (KombuOperationalError, *UNREACHABLE_ERRORS) as exc:
            redis_failed(broker, "task dispatch", exc)
            logger.warning("could not queue %s%r (%s); left to %s", name, args, exc, swept_by)
        except Exception:  # run eagerly (no broker), the task itself failed: the sweep redoes it too
            logger.exception("%s%r failed; left to %s", name, args, swept_by)

    transaction.on_commit(dispatch)
