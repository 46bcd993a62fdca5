"""The `Idempotency-Key` mechanism for money-moving POSTs (CONTRACT section 2), as one decorator.

    class TransferApi(APIView):
        @idempotent
        def post(self, request): ...

How a race is settled: the first request inserts its key row inside the transaction that also
carries its effect. A concurrent request with the same key blocks on that row's unique index
(PostgreSQL) or on the database write lock (SQLite, IMMEDIATE transactions) until the first
commits, then finds the stored answer and replays it. If the first request failed with a 5xx its
transaction rolled back, taking the key with it, so the retry runs anew.

A key is scoped to user, method and route: the route is the resolved URL's name with its
arguments in a canonical form (`coins-topup-detail {"topup_id":5}`), so both spellings of a path
(with and without its trailing slash, core.routes.api_path) are one scope while two ids on one
route are two. An unnamed route falls back to its path without the trailing slash.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import ApplicationError, IdempotencyKeyReused, api_exception_handler
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "1-255 printable characters, unique per operation. A retry with the same key and body "
        "replays the first answer; the same key with another body is 409 idempotency_key_reused."
    ),
)


class IdempotencyKeyRequired(ApplicationError):
    code = "idempotency_key_required"
    default_detail = "This request moves money: send an Idempotency-Key header."


def request_fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _read_key(request: Request) -> str:
    key = request.headers.get(HEADER, "")
    if not key:
        raise IdempotencyKeyRequired()
    if not _KEY_PATTERN.fullmatch(key):
        raise ApplicationError(
            "The Idempotency-Key must be 1-255 printable characters.",
            fields={HEADER: ["Must be 1-255 printable ASCII characters."]},
        )
    return key


def request_route(request: Request) -> str:
    """The route part of an idempotency scope (see the module docstring), at most 255 characters."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name:
        arguments = json.dumps(
            {"args": list(match.args), **match.kwargs} if match.args else match.kwargs,
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        route = f"{match.view_name} {arguments}"
    else:
        route = request.path.rstrip("/") or "/"
    if len(route) > 255:
        # Never truncate: two long routes sharing a prefix would become one scope.
        route = "sha256:" + hashlib.sha256(route.encode()).hexdigest()
    return route


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    response = Response(json.loads(record.response_body), status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


# The key row is claimed with one INSERT ... ON CONFLICT DO NOTHING RETURNING (PostgreSQL, and
# SQLite >= 3.35) instead of an ORM create inside a savepoint: no SAVEPOINT/RELEASE round trips and
# no ORM compilation on every money-moving request (docs/PERFORMANCE.md). A conflict on the unique
# (user, method, route, key) waits, as the plain INSERT did, for the transaction holding that key
# to end: if it committed, no row comes back and the stored answer is replayed; if it rolled back
# (a 5xx), this insert goes through and the request runs anew.
_CLAIM_SQL = (
    "INSERT INTO core_idempotencyrecord (user_id, method, path, key, request_fingerprint, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id"
)
_ANSWER_SQL = "UPDATE core_idempotencyrecord SET status_code = %s, response_body = %s WHERE id = %s"


def _claim(scope: dict[str, Any], fingerprint: str) -> int | None:
    """Insert the key's row (in the caller's transaction); its id, or None if the key is taken."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [scope["user"].pk, scope["method"], scope["path"], scope["key"], fingerprint, now]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        row = cursor.fetchone()
    return row[0] if row is not None else None


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF view method so that it runs at most once per user, method, route and key."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _read_key(request)
        fingerprint = request_fingerprint(request.data)
        scope = {"user": request.user, "method": request.method, "path": request_route(request), "key": key}

        with transaction.atomic():
            record_id = _claim(scope, fingerprint)
            if record_id is None:
                # Another request holds (or held) this key; it has committed by now.
                return _replay(IdempotencyRecord.objects.get(**scope), fingerprint)

            try:
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
                    if response.status_code >= 400:
                        transaction.set_rollback(True)
            except (ApplicationError, exceptions.APIException) as exc:
                response = api_exception_handler(exc, view.get_exception_handler_context())

            if response.status_code >= 500:
                # Not kept: the key goes with the rolled-back transaction, and a retry runs anew.
                transaction.set_rollback(True)
                return response
            body = json.dumps(response.data, cls=DjangoJSONEncoder, ensure_ascii=False)
            with connection.cursor() as cursor:
                cursor.execute(_ANSWER_SQL, [response.status_code, body, record_id])
            return response

    return wrapper


def idempotency_records_purge(*, older_than: timedelta = RETENTION) -> int:
    """Delete stored answers older than the retention window; returns how many went."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
