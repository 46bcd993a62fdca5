"""core.asgi's request threads: long-lived, one request at a time, never lent while busy."""

import asyncio
import threading
from pathlib import Path

import pytest
from django.core import signals

from core.asgi import RequestThreads, ThreadedASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


def http_scope(path: str = "/healthz") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


async def request(
    handler: ThreadedASGIHandler, path: str = "/healthz", sent: list[dict] | None = None
) -> int:
    sent = [] if sent is None else sent
    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    await handler(http_scope(path), receive, send)
    return next(m for m in sent if m["type"] == "http.response.start")["status"]


async def settle() -> None:
    """Let a thread's hand-back (a callback from that thread) reach the event loop."""
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_requests_one_after_another_reuse_one_thread_off_the_event_loop(monkeypatch) -> None:
    # given: a handler noting the thread each request's middleware and view ran in
    handler = ThreadedASGIHandler()
    seen: list[int] = []
    get_response = handler.get_response

    def noting(request):
        seen.append(threading.get_ident())
        return get_response(request)

    monkeypatch.setattr(handler, "get_response", noting)

    # when: three requests, one after another
    statuses = []
    for _ in range(3):
        statuses.append(await request(handler))
        await settle()

    # then: all answered, all in the same long-lived thread, which is not the loop's
    assert statuses == [200, 200, 200]
    assert len(set(seen)) == 1
    assert seen[0] != threading.get_ident()
    assert len(handler.threads.idle) == 1


async def test_concurrent_requests_each_get_a_thread_of_their_own(monkeypatch) -> None:
    # given: a view that waits until both requests are inside it
    handler = ThreadedASGIHandler()
    both_inside = threading.Barrier(2, timeout=10)
    seen: list[int] = []
    get_response = handler.get_response

    def meeting(request):
        seen.append(threading.get_ident())
        both_inside.wait()
        return get_response(request)

    monkeypatch.setattr(handler, "get_response", meeting)

    # when: two requests at once (one thread for both would never pass the barrier)
    statuses = await asyncio.gather(request(handler), request(handler))
    await settle()

    # then: two threads, both kept for later requests
    assert statuses == [200, 200]
    assert len(set(seen)) == 2
    assert len(handler.threads.idle) == 2


async def test_a_thread_still_busy_with_an_abandoned_request_is_not_lent_again() -> None:
    # given: a thread whose request went away while its view still runs
    threads = RequestThreads()
    busy = threads.lend()
    release = threading.Event()
    busy.submit(release.wait, 10)
    threads.give_back(busy)

    # when: the next request comes before the view has finished
    await settle()
    other = threads.lend()

    # then: it gets another thread; the busy one comes back only once its work is done
    assert other is not busy
    assert busy not in threads.idle
    release.set()
    await settle()
    assert threads.idle == [busy]
    other.shutdown()
    busy.shutdown()


async def test_threads_beyond_the_kept_number_end_after_their_request() -> None:
    # given: a pool keeping one idle thread, and two threads lent out
    threads = RequestThreads(keep=1)
    first, second = threads.lend(), threads.lend()

    # when: both come back
    threads.give_back(first)
    threads.give_back(second)
    await settle()

    # then: one is kept, the other is shut down
    assert threads.idle == [first]
    with pytest.raises(RuntimeError):
        second.submit(print)
    first.shutdown()


async def test_signals_middleware_and_view_run_in_one_call_and_the_answer_is_sent_after() -> None:
    # given: the request signals noted with their thread, and a send noting what was done by then
    handler = ThreadedASGIHandler()
    events: list[tuple[str, int]] = []

    def started(**kwargs):
        events.append(("started", threading.get_ident()))

    def finished(**kwargs):
        events.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    sent: list[dict] = []
    try:
        # when
        status = await request(handler, "/api/v1/nothing-here", sent)
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    # then: both signals once, in the same thread (not the loop's), and the JSON error was sent
    assert status == 404
    assert [name for name, _ in events] == ["started", "finished"]
    assert events[0][1] == events[1][1] != threading.get_ident()
    assert b"not_found" in b"".join(m.get("body", b"") for m in sent)


async def test_a_streamed_static_file_is_sent_whole_then_closed(settings) -> None:
    # given: a static file (WhiteNoise answers it with a streamed file response)
    handler = ThreadedASGIHandler()
    finished: list[bool] = []

    def on_finished(**kwargs):
        finished.append(True)

    signals.request_finished.connect(on_finished)
    sent: list[dict] = []
    try:
        # when
        status = await request(handler, "/static/css/huddle.css", sent)
    finally:
        signals.request_finished.disconnect(on_finished)

    # then: every byte arrived and the response was closed (request_finished) once
    assert status == 200
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert body == (Path(settings.BASE_DIR) / "static" / "css" / "huddle.css").read_bytes()
    assert finished == [True]


async def test_a_client_gone_before_its_body_arrived_gets_nothing_and_frees_the_thread() -> None:
    # given: a client that disconnects while sending its request body
    handler = ThreadedASGIHandler()
    messages = [{"type": "http.disconnect"}, {"type": "http.request", "body": b"{", "more_body": True}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop()

    async def send(message: dict) -> None:
        sent.append(message)

    # when
    await handler({**http_scope("/api/v1/me"), "method": "POST"}, receive, send)

    # then: nothing was answered, and the thread is back in the pool
    assert sent == []
    assert len(handler.threads.idle) == 1
