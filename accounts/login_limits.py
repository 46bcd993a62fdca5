"""Failed-login limits (CONTRACT section 2): 5 failures for one account within 15 minutes, or 50
from one address, and `auth/token` answers 429 with Retry-After until that window passes.

Counted in the shared cache with atomic `add` + `incr`, so parallel guesses are all counted. The
window starts at the first failure and its end is stored beside the count for Retry-After.
django-axes (suggested for lockouts) applies one failure limit to every lockout parameter and
gives no Retry-After, so it cannot say "5 per account, 50 per address"; this small module can.
"""

import time

from django.conf import settings
from django.core.cache import cache


def _buckets(username: str, address: str) -> list[tuple[str, int]]:
    return [
        (f"loginfail:account:{username.strip().lower()}", settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT),
        (f"loginfail:address:{address}", settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS),
    ]


def login_retry_after(*, username: str, address: str) -> int | None:
    """Seconds until a locked-out caller may try again, or None if not locked out."""
    now = time.time()
    buckets = _buckets(username, address)
    found = cache.get_many([f"{key}:count" for key, _ in buckets] + [f"{key}:until" for key, _ in buckets])
    waits = []
    for key, limit in buckets:
        count, until = found.get(f"{key}:count", 0), found.get(f"{key}:until", 0)
        if count >= limit and until > now:
            waits.append(int(until - now) + 1)
    return max(waits) if waits else None


def login_failed(*, username: str, address: str) -> None:
    """Count one failure against the account and the address."""
    window = int(settings.LOGIN_FAILURE_WINDOW.total_seconds())
    until = time.time() + window
    for key, _limit in _buckets(username, address):
        cache.add(f"{key}:until", until, timeout=window)
        cache.add(f"{key}:count", 0, timeout=window)
        try:
            cache.incr(f"{key}:count")
        except ValueError:  # the window lapsed between add and incr: start a new one
            cache.set(f"{key}:until", until, timeout=window)
            cache.set(f"{key}:count", 1, timeout=window)


def login_succeeded(*, username: str) -> None:
    """A correct password clears the account's failures (not the address's)."""
    key = f"loginfail:account:{username.strip().lower()}"
    cache.delete_many([f"{key}:count", f"{key}:until"])
