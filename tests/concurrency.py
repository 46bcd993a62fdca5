"""Real threads racing against the database (PostgreSQL tests): released together by a barrier,
each closing its connection (back to the pool) when done."""

import threading
from collections.abc import Callable

from django.db import connection


def race(count: int, work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    """Run `work(i)` for i in range(count) in threads released at once. Returns (results,
    exceptions), each in completion order."""
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait()
            result = work(i)
            with lock:
                results.append(result)
        except BaseException as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def run_threads(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """`race`, when only the exceptions matter."""
    return race(count, work)[1]
