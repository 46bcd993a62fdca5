"""The HTTP stack's middleware and ASGI handler (docs/PERFORMANCE.md): no sync-only middleware, the
project's middleware working in both modes, and a request's middleware and view in one thread."""

import asyncio
import json
import threading
from pathlib import Path

import pytest
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils.module_loading import import_string

from core.asgi import ThreadedASGIHandler
from core.middleware import ApiErrorMiddleware, StaticFilesMiddleware
from tests.core.test_request_threads import http_scope

STATIC_FILE = "css/huddle.css"


@pytest.mark.parametrize("path", settings.MIDDLEWARE, ids=lambda path: path.rsplit(".", 1)[-1])
def test_every_middleware_in_the_stack_is_sync_and_async_capable(path: str) -> None:
    middleware = import_string(path)
    assert getattr(middleware, "sync_capable", True)
    assert getattr(middleware, "async_capable", False), f"{path} is sync-only: every request would hop"


def _not_found(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>Not Found</h1>", status=404, content_type="text/html")


async def _not_found_async(request: HttpRequest) -> HttpResponse:
    return _not_found(request)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_api_error_middleware_answers_json_in_both_modes(mode: str) -> None:
    middleware = ApiErrorMiddleware(_not_found_async if mode == "async" else _not_found)
    assert iscoroutinefunction(middleware) is (mode == "async")
    request = RequestFactory().get("/api/v1/nothing-here")

    response = await middleware(request) if mode == "async" else middleware(request)

    assert response.status_code == 404
    assert json.loads(response.content) == {"code": "not_found", "detail": "Not found."}
    # outside /api/ an error page passes untouched
    page = RequestFactory().get("/nothing-here")
    passed = await middleware(page) if mode == "async" else middleware(page)
    assert passed.content == b"<h1>Not Found</h1>"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_static_files_middleware_serves_files_and_passes_the_rest_in_both_modes(mode: str) -> None:
    middleware = StaticFilesMiddleware(_not_found_async if mode == "async" else _not_found)
    assert iscoroutinefunction(middleware) is (mode == "async")

    def call(path: str):
        return middleware(RequestFactory().get(path))

    static = await call(f"/static/{STATIC_FILE}") if mode == "async" else call(f"/static/{STATIC_FILE}")
    other = await call("/api/v1/nothing-here") if mode == "async" else call("/api/v1/nothing-here")

    assert static.status_code == 200
    assert static["Content-Type"].startswith("text/css")
    expected = (Path(settings.BASE_DIR) / "static" / STATIC_FILE).read_bytes()
    assert b"".join(static.streaming_content) == expected
    assert other.status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_threaded_handler_runs_a_requests_middleware_and_view_in_one_thread(settings) -> None:
    # given: a probe as the outermost middleware and the view, each noting its thread
    seen: list[tuple[str, int]] = []

    class Probe:
        sync_capable, async_capable = True, False

        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            seen.append(("middleware", threading.get_ident()))
            return self.get_response(request)

    settings.MIDDLEWARE = ["tests.core.test_middleware.Probe", *settings.MIDDLEWARE]
    globals()["Probe"] = Probe
    handler = ThreadedASGIHandler()
    sent: list[dict] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = http_scope("/api/v1/nothing-here")

    # when
    try:
        await handler(scope, receive, send)
    finally:
        del globals()["Probe"]

    # then: the chain is sync (no hops inside it), it ran off the event loop's thread, and the
    # contract's JSON error came back
    assert not iscoroutinefunction(handler._middleware_chain)
    assert seen and seen[0][1] != threading.get_ident()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 404
    assert json.loads(body)["code"] == "not_found"
