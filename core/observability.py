"""Request ids, structured logs and request metrics.

Every HTTP request and every socket gets a request id: the client's `X-Request-ID` when it sends
a sane one (a proxy's), else a new one. It is bound to the logging context (structlog's
contextvars, which asyncio tasks and asgiref's thread hops carry along), so every log line written
while handling the request carries `request_id`; it is sent back as `X-Request-ID`, and Celery
tasks dispatched meanwhile carry it in their headers and log under it too (config.celery).

Logs are one JSON object per line (`LOG_FORMAT=json`, the default with DEBUG off) or plain text.
"""

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from core import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(given: str | None) -> str:
    """The caller's id when it looks like one (a proxy's), else a fresh one."""
    return given if given and _SANE_REQUEST_ID.match(given) else new_request_id()


def bind_request_id(request_id: str, **more: Any) -> None:
    """Bind `request_id` (and more) to every log line written in this context from now on."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, **more)


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


class RequestContextMiddleware:
    """Binds the request id, sends it back, and counts the request by route and status. Works in
    both modes, so it adds no thread hop to an async stack."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = self._start(request)
        response = self.get_response(request)
        return self._finish(request, response, started)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = self._start(request)
        response = await self.get_response(request)
        return self._finish(request, response, started)

    def _start(self, request: HttpRequest) -> float:
        request.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        bind_request_id(request.request_id)
        return time.perf_counter()

    def _finish(self, request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        route = metrics.route_of(request)
        metrics.http_requests.labels(route, request.method or "", str(response.status_code)).inc()
        metrics.http_request_seconds.labels(route).observe(time.perf_counter() - started)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


# --- Logging configuration (config.settings.LOGGING uses these) ----------------------------------
_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def log_formatter(kind: str = "json") -> logging.Formatter:
    """The formatter of config.settings.LOGGING: "json" (one object per line) or "plain"."""
    if kind == "json":
        tail: list[Any] = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        tail = [
            structlog.dev.ConsoleRenderer(
                colors=False, pad_event_to=0, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )


def configure_structlog() -> None:
    """structlog loggers (structlog.get_logger) go through the standard logging handlers."""
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


logging.getLogger(__name__).addHandler(logging.NullHandler())
