"""The shared rate-limit counter (core.throttling.hit): on Redis in CI, locmem otherwise."""

import threading

import pytest
from django.core.cache import cache

from core.throttling import _redis_client, hit


def test_a_window_allows_its_limit_then_says_when_it_resets():
    now = 1_000_000.25
    assert [hit("t:a", 3, 10, now=now) for _ in range(3)] == [None, None, None]
    assert hit("t:a", 3, 10, now=now) == pytest.approx(9.75)
    # the next window starts afresh; other buckets are apart
    assert hit("t:a", 3, 10, now=now + 10) is None
    assert hit("t:b", 3, 10, now=now) is None


def test_concurrent_hits_are_counted_exactly():
    now, allowed = 2_000_000.0, []

    def worker() -> None:
        allowed.extend(hit("t:race", 100, 60, now=now) is None for _ in range(25))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(allowed) == 200 and sum(allowed) == 100


@pytest.mark.redis
def test_on_redis_the_counter_expires_with_its_window():
    client = _redis_client()
    assert client is not None
    hit("t:ttl", 5, 30, now=3_000_000.0)
    key = cache.make_key("ratelimit:t:ttl:100000")
    assert int(client.get(key)) == 1
    assert 0 < client.ttl(key) <= 31
