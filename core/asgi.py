"""Django's ASGI handler for HTTP, running each request's middleware and view in one thread.

Huddle's views are sync (DRF, the ORM). Under Django's own ASGIHandler the middleware stack runs
in async mode, and every middleware built on Django's MiddlewareMixin (sessions, CSRF, auth,
locale, messages, security, CSP...) then moves its `process_request` and `process_response` to a
thread and back: about fifteen event loop <-> thread hops per request before the view's own. Here
the stack is loaded in sync mode and a request makes one hop: the whole chain runs in the
request's thread (the one `sync_to_async(thread_sensitive=True)` gives each request's context, as
Django's handler does for sync views), exactly as under WSGI. Reading the body, sending the
response and the request signals stay Django's. Measured in docs/PERFORMANCE.md.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class ThreadedASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_threaded_asgi_application() -> ThreadedASGIHandler:
    """As django.core.asgi.get_asgi_application, with the handler above."""
    import django

    django.setup(set_prefix=False)
    return ThreadedASGIHandler()
