"""Failed-login limits (CONTRACT section 2): after 5 failures for one account within 15 minutes, or
50 from one address, every login (`auth/token`, the website's `/login/`, `/admin/login/`, the old
password of `me/password`) is refused with 429 and Retry-After until that window passes, even with
the right password.

Invariants:
- An attempt is counted *before* the password is checked (`attempt_begin`), with the cache's atomic
  `add` + `incr`: of N parallel guesses at most the limit reach the password check, the rest are
  refused. An attempt refused here gives its hits back, so only checked passwords count. A checked
  attempt stays counted (a failure) unless `attempt_succeeded` clears the account's count and gives
  back the address's hit.
- The per-account count is keyed by the account itself (its primary key, found with the same
  lookup authentication uses), so every spelling the database matches to one account shares one
  count; a name with no account is keyed by its NFKC case-folded form.
- A window starts at the first counted attempt; its end is stored beside the count (Retry-After).

django-axes (suggested for lockouts) applies one failure limit to every lockout parameter and gives
no Retry-After, so it cannot say "5 per account, 50 per address"; this small module can.
"""

import contextlib
import hashlib
import math
import time
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.errors import LoginLockedOut
from accounts.models import User


@dataclass(frozen=True)
class Attempt:
    """One counted login attempt: the cache keys of its account and address buckets."""

    account_bucket: str
    address_bucket: str


def account_of_user(user_id: int) -> str:
    """The per-account bucket of a known account."""
    return f"loginfail:account:user:{user_id}"


def account_of_username(username: str) -> str:
    """The per-account bucket of whatever account `username` logs in as, found as
    `ModelBackend.authenticate` finds it (the manager's `get_by_natural_key`, case-insensitive)."""
    try:
        user = User._default_manager.get_by_natural_key(username)
    except (User.DoesNotExist, User.MultipleObjectsReturned):
        name = unicodedata.normalize("NFKC", username.strip()).casefold()
        return f"loginfail:account:name:{hashlib.sha256(name.encode()).hexdigest()}"
    return account_of_user(user.pk)


def _address_bucket(address: str) -> str:
    return f"loginfail:address:{address}"


def _count(bucket: str, window: int, now: float) -> tuple[int, float]:
    """Add one to `bucket`; returns the count and the end of its window."""
    until = now + window
    cache.add(f"{bucket}:until", until, timeout=window)
    cache.add(f"{bucket}:count", 0, timeout=window)
    try:
        count = cache.incr(f"{bucket}:count")
    except ValueError:  # the window lapsed between add and incr: start a new one
        cache.set_many({f"{bucket}:until": until, f"{bucket}:count": 1}, timeout=window)
        return 1, until
    return count, cache.get(f"{bucket}:until") or until


def _give_back(bucket: str) -> None:
    with contextlib.suppress(ValueError):  # its window already ended
        cache.decr(f"{bucket}:count")


def attempt_begin(*, account: str, address: str) -> Attempt:
    """Count one attempt against the account bucket `account` (account_of_user/_of_username) and
    the address; raises LoginLockedOut (Retry-After: until the window passes) when either count is
    past its limit. Call before checking the password."""
    window = max(1, int(settings.LOGIN_FAILURE_WINDOW.total_seconds()))
    now = time.time()
    attempt = Attempt(account_bucket=account, address_bucket=_address_bucket(address))
    limits = [
        (attempt.account_bucket, settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT),
        (attempt.address_bucket, settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS),
    ]
    waits = []
    for bucket, limit in limits:
        count, until = _count(bucket, window, now)
        if count > limit:
            waits.append(max(until - now, 1))
    if waits:
        for bucket, _limit in limits:
            _give_back(bucket)
        raise LoginLockedOut(math.ceil(max(waits)))
    return attempt


def attempt_succeeded(attempt: Attempt) -> None:
    """The password was right: the account's failures are cleared and the address gets its hit
    back (the address's earlier failures still count)."""
    cache.delete_many([f"{attempt.account_bucket}:count", f"{attempt.account_bucket}:until"])
    _give_back(attempt.address_bucket)
