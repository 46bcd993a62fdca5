"""Django's ASGI handler for HTTP, running each request's middleware and view in one thread.

Huddle's views are sync (DRF, the ORM). Under Django's own ASGIHandler the middleware stack runs
in async mode, and every middleware built on Django's MiddlewareMixin (sessions, CSRF, auth,
locale, messages, security, CSP...) then moves its `process_request` and `process_response` to a
thread and back: about fifteen event loop <-> thread hops per request before the view's own. Here
the stack is loaded in sync mode and a request makes one hop: the request signals, the whole
middleware chain and the view run in the request's thread, one call, exactly as under WSGI (Django's
handler makes three: `request_started`, the response, and `close()` with `request_finished`).
Reading the body and sending the response stay on the event loop, with Django's own code. A
streaming response (a static file) is sent first and closed after, as Django does; a client that
goes away while its view runs is noticed when the answer is sent, as under WSGI, since a sync view
cannot be stopped midway anyway.

The request's thread is a long-lived one from a pool, as a threaded WSGI server has. Django's
handler gives every request a thread of its own (a fresh `ThreadSensitiveContext`): it starts a
thread, then joins it, and the thread's first database and cache calls build a new connection
wrapper and a new Redis client. A request still has one thread to itself for its whole life (its
signals, middleware and view), and a thread serves one request at a time.
Measured in docs/PERFORMANCE.md.
"""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

# Threads kept waiting for the next request; a burst above this many concurrent requests makes
# threads that end once their request is done.
IDLE_THREADS_KEPT = 64


class RequestThreads:
    """Single-thread executors, each lent to one request at a time and then kept for the next."""

    def __init__(self, keep: int = IDLE_THREADS_KEPT) -> None:
        self.keep = keep
        self.idle: list[ThreadPoolExecutor] = []

    def lend(self) -> ThreadPoolExecutor:
        if self.idle:
            return self.idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="huddle-request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """Back to the pool once everything the request gave it is done: a request whose client
        went away can leave its view running in the thread, and the next request must not queue
        behind it (nor share its thread-local state while it runs)."""
        loop = asyncio.get_running_loop()

        def done(_: object) -> None:
            try:
                loop.call_soon_threadsafe(self._keep_or_end, executor)
            except RuntimeError:  # the loop has closed: the server is stopping
                executor.shutdown(wait=False)

        executor.submit(_nothing).add_done_callback(done)

    def keep_or_end(self, executor: ThreadPoolExecutor) -> None:
        """Back to the pool now: the request ended with nothing left running in the thread."""
        self._keep_or_end(executor)

    def _keep_or_end(self, executor: ThreadPoolExecutor) -> None:
        if len(self.idle) < self.keep:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


def _nothing() -> None:
    pass


class ThreadedASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.threads = RequestThreads()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict]],
        send: Callable[[dict], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.lend()
        ended = False
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
            ended = True
        finally:
            if ended:
                self.threads.keep_or_end(executor)
            else:  # cancelled or failed midway: the thread may still be running the request
                self.threads.give_back(executor)

    async def handle(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict]],
        send: Callable[[dict], Awaitable[None]],
    ) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """In the request's thread: what Django's handler does in three hops. A response that is
        not streamed is closed here (`request_finished`: database connections go back to the pool
        before the answer is even sent); its content stays readable."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response


def get_threaded_asgi_application() -> ThreadedASGIHandler:
    """As django.core.asgi.get_asgi_application, with the handler above."""
    import django

    django.setup(set_prefix=False)
    return ThreadedASGIHandler()
