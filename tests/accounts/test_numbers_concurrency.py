"""Account numbers and usernames under concurrent sign-ups (CONTRACT section 3), on PostgreSQL
with real threads: every number unique and at least 10000, and one winner per username.

The real password hasher is kept on purpose: hashing is slow, so racing sign-ups for one username
all pass the "is it taken?" check before any of them saves, and the database must decide."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from accounts.services import user_register
from core.exceptions import InvalidInput

PASSWORD = "Silver-Comet-9134"


def run_in_threads(jobs: list[Callable[[], Any]], threads: int) -> list[Any]:
    """Run `jobs` on `threads` threads released together; each job's result or exception, in order."""
    results: list[Any] = [None] * len(jobs)
    start = threading.Barrier(threads)
    lock = threading.Lock()
    queue = list(enumerate(jobs))

    def worker() -> None:
        try:
            start.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    index, job = queue.pop(0)
                try:
                    results[index] = job()
                except Exception as exc:
                    results[index] = exc
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_ups_get_distinct_numbers():
    # given: forty sign-ups spread over eight threads
    jobs = [
        (lambda i=i: user_register(username=f"crowd{i}", password=PASSWORD, display_name=f"Crowd {i}"))
        for i in range(40)
    ]
    # when
    results = run_in_threads(jobs, threads=8)
    # then: all succeeded, with distinct numbers of at least 10000
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    numbers = [user.number for user in results]
    assert len(set(numbers)) == 40
    assert min(numbers) >= 10000
    stored = list(User.objects.filter(username__startswith="crowd").values_list("number", flat=True))
    assert sorted(stored) == sorted(numbers)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_sign_ups_for_one_username_have_one_winner():
    # given: eight sign-ups for the same name in different cases
    names = ["racer", "Racer", "RACER", "rAcer", "raCer", "racEr", "raceR", "RaCeR"]
    jobs = [(lambda name=name: user_register(username=name, password=PASSWORD)) for name in names]
    # when
    results = run_in_threads(jobs, threads=8)
    # then: exactly one account, and everyone else told the username is taken
    winners = [r for r in results if isinstance(r, User)]
    losers = [r for r in results if not isinstance(r, User)]
    assert len(winners) == 1
    assert len(losers) == 7
    for loser in losers:
        assert isinstance(loser, InvalidInput), repr(loser)
        assert loser.code == "invalid"
        assert loser.fields is not None
        assert loser.fields["username"]
    assert User.objects.filter(username__iexact="racer").count() == 1
    assert User.objects.get(username__iexact="racer").number == winners[0].number
