"""Rate limits on a shared cache (Redis in production), counted atomically.

DRF's own throttles keep a list per client and race under concurrency (DRF#5181); these count
fixed windows with atomic counters, so every process agrees: on Redis SET NX EX + INCR in one round
trip (the socket checks this on every message), elsewhere the cache's `add` + `incr`. Rates come from
settings.RATE_LIMITS (`"30/second"`, `"300/hour"`), so operators can change them. While Redis cannot
be reached each process counts alone (core.degraded, CONTRACT section 1: degraded mode), so a
limit still bites, per process.
"""

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.degraded import UNREACHABLE_ERRORS, local_hit, redis_answered, redis_failed, redis_unreachable
from core.exceptions import RateLimited
from core.net import client_ip

_PERIODS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/second' -> (30, 1)."""
    count, _, period = rate.partition("/")
    period = period.strip().lower()
    return int(count), _PERIODS.get(period) or _PERIODS[period.removesuffix("s")]


def _redis_client() -> Any:
    """The Redis client under a django-redis cache, else None."""
    get_client = getattr(getattr(cache, "client", None), "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _redis_hit(redis_client: Any, key: str, period: int) -> int | None:
    """The window's count after this hit, on Redis; None while Redis cannot be reached."""
    url = str(getattr(cache, "location", "cache"))
    if redis_unreachable(url):
        return None
    full_key = cache.make_key(key)
    try:
        with redis_client.pipeline(transaction=False) as pipe:
            pipe.set(full_key, 0, ex=period + 1, nx=True)  # the window's counter, with its expiry
            pipe.incr(full_key)
            count = pipe.execute()[1]
    except UNREACHABLE_ERRORS as exc:
        redis_failed(url, "rate limits", exc)
        return None
    redis_answered(url)
    return count


def hit(bucket: str, limit: int, period: int, *, now: float | None = None) -> float | None:
    """Count one hit in `bucket`; None if allowed, else the seconds until the window resets."""
    now = time.time() if now is None else now
    window = int(now // period)
    key = f"ratelimit:{bucket}:{window}"
    redis_client = _redis_client()
    if redis_client is not None:
        count = _redis_hit(redis_client, key, period)
        if count is None:  # Redis unreachable: this process counts alone meanwhile (core.degraded)
            count = local_hit(key, period + 1)
    else:
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=period + 1)
            count = 1
    if count <= limit:
        return None
    return max((window + 1) * period - now, 0.001)


def rate_check(scope: str, identity: str) -> None:
    """Count one hit of `identity` (e.g. `user:7`, `ip:10.0.0.1`) against the limit named `scope`
    in settings.RATE_LIMITS; raises RateLimited when over it. A scope without a rate is unlimited.
    The one check behind every limit: DRF throttles below, socket frames, web forms."""
    rate = settings.RATE_LIMITS.get(scope)
    if not rate:
        return
    limit, period = parse_rate(rate)
    retry_after = hit(f"{scope}:{identity}", limit, period)
    if retry_after is not None:
        raise RateLimited(retry_after)


class ScopedRateThrottle(BaseThrottle):
    """Per user when authenticated, per client address otherwise."""

    scope: str = ""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def identity(self, request: Request) -> str:
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{client_ip(request)}"

    def allow_request(self, request: Request, view: object) -> bool:
        rate = settings.RATE_LIMITS.get(self.scope)
        if not rate:
            return True
        limit, period = parse_rate(rate)
        self.retry_after = hit(f"{self.scope}:{self.identity(request)}", limit, period)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class RegisterThrottle(ScopedRateThrottle):
    scope = "register"

    def identity(self, request: Request) -> str:
        return f"ip:{client_ip(request)}"


class MoneyThrottle(ScopedRateThrottle):
    scope = "money"


class MessageThrottle(ScopedRateThrottle):
    scope = "messages"


class ActionThrottle(ScopedRateThrottle):
    """Other writes and searches (profile edits, people search): settings.RATE_LIMITS["actions"]."""

    scope = "actions"
