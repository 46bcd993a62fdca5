"""One error hierarchy with the contract's codes, and the API's uniform error body.

Services raise `ApplicationError` subclasses; `api_exception_handler` (DRF) and the socket
consumer turn them into `{"code", "detail"}` (plus `fields` for validation errors). Everything DRF
or Django can raise under `/api/` is mapped to the contract's general codes (CONTRACT section 2).
"""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, JsonResponse
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger("huddle.api")


class ApplicationError(Exception):
    """A domain error with a stable code; `status_code` is the HTTP status it maps to."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "invalid"
    default_detail: str = "The request could not be completed."
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, *, code: str | None = None, fields: dict | None = None):
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.fields = fields
        super().__init__(self.detail)

    def as_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.fields is not None:
            body["fields"] = self.fields
        return body


class InvalidInput(ApplicationError):
    code = "invalid"
    default_detail = "Some fields are not valid."


class NotFound(ApplicationError):
    """Also what a caller gets for something they may not see (CONTRACT section 2)."""

    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_detail = "Not found."


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_detail = "You do not have permission to do this."


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_detail = "The request conflicts with the current state."


class RateLimited(ApplicationError):
    """Over a rate limit (core.throttling, or the failed-login limits): 429 with Retry-After. The
    socket reports it as an `error` frame with `retry_after` in seconds."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"
    default_detail = "Too many requests; slow down."

    def __init__(self, retry_after: float, detail: str | None = None):
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


class IdempotencyKeyReused(Conflict):
    """A key already used for a different request: an Idempotency-Key header with another body
    (core.idempotency), or a ledger key posted for another operation (coins.ledger)."""

    code = "idempotency_key_reused"
    default_detail = "This idempotency key was already used for a different request."


class CsrfFailed(exceptions.PermissionDenied):
    default_code = "csrf_failed"


# DRF exception class -> (contract code, fixed detail or None to keep DRF's).
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "malformed"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (CsrfFailed, "csrf_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


def _flatten_fields(data: Any) -> dict[str, list[str]]:
    """DRF's nested error structure -> {"field": ["message", ...]} (nested keys joined by dots)."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                if isinstance(inner, (dict, list)):
                    walk(f"{prefix}.{index}" if prefix else str(index), inner)
                else:
                    fields.setdefault(prefix or "non_field_errors", []).append(str(inner))
        else:
            fields.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", data)
    return fields


def _first_message(fields: dict[str, list[str]]) -> str:
    for name, messages in fields.items():
        if messages:
            return messages[0] if name == "non_field_errors" else f"{name}: {messages[0]}"
    return "Some fields are not valid."


def error_body(code: str, detail: str, fields: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return body


# Redis (cache, rate limits, channel layer) being down, or the database connection failing, is an
# outage, not a bug of the request: the client gets 503 with Retry-After and may try again; nothing
# was written (the limits are checked before any work; a database failure rolls the request's
# transaction back, idempotency key included).
SERVICE_UNAVAILABLE = ("service_unavailable", "A service Huddle depends on is down; try again shortly.")
SERVICE_RETRY_AFTER = "5"


def is_outage(exc: BaseException) -> bool:
    """Redis errors, raw or as django-redis wraps them, and the database's operational errors (DB-API
    OperationalError / InterfaceError: its connection lost, refused or terminated by an operator, the
    server shutting down, a deadlock or lock timeout). The request's transaction did not commit
    (or, lost during COMMIT, committed whole), so a retry with the same Idempotency-Key or client_id
    completes once (tests/reliability/test_pg_faults.py)."""
    return isinstance(
        exc, (RedisError, ConnectionInterrupted, DatabaseOperationalError, DatabaseInterfaceError)
    )


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the contract's error body."""
    # Imported here: rest_framework.views loads the authentication classes, which import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ApplicationError):
        return Response(exc.as_body(), status=exc.status_code, headers=exc.headers)
    if is_outage(exc):
        logger.error("service unavailable: %s", exc)
        return Response(
            error_body(*SERVICE_UNAVAILABLE), status=503, headers={"Retry-After": SERVICE_RETRY_AFTER}
        )
    if isinstance(exc, RequestDataTooBig):
        # A body past DATA_UPLOAD_MAX_MEMORY_SIZE is the client's mistake, not a server error.
        return Response(error_body("too_large", "The request body is too large."), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log it (mailing the admins) and answer 500 without internals.
        request = context.get("request")
        logger.error(
            "Unhandled exception in %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        return Response(error_body("server_error", "Something went wrong on our side."), status=500)

    assert isinstance(exc, exceptions.APIException)
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), None)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        response.data = error_body("invalid", _first_message(fields), fields)
        return response
    if code is None:
        code = exc.default_code if isinstance(exc.default_code, str) else "error"
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        detail = "Too many requests; try again later."
    response.data = error_body(code, str(detail))
    return response


def json_error(code: str, detail: str, status_code: int, headers: dict | None = None) -> JsonResponse:
    """The same error body for plain Django views (webhooks, middleware, catch-all routes)."""
    response = JsonResponse(error_body(code, detail), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
