"""Group commit of the socket's sends: every `message.send` waiting in a process is stored by one
database call and published by one Redis round trip.

A socket's send used to cost a thread hop, a Redis round trip for its rate limit, a PostgreSQL
call and a Redis round trip to publish, one send at a time per thread of a small pool: under load
the sends queued for threads, not for the database (measured in docs/PERFORMANCE.md, Chat). Here a
process keeps one queue (per event loop): while a batch is in the database, later sends wait, and
the next batch takes all of them (at most MAX_BATCH; at most MAX_IN_FLIGHT batches at once).

One batch, in one thread hop (`store_sends`):
1. the rate limits of all of them are counted in one pipelined round trip, in the same per-user
   buckets as `core.throttling.rate_check` (the HTTP API's `messages`), first, as the single
   path does; then each send is validated as `services.message_send` does (content, client_id,
   content rules);
3. on PostgreSQL, one statement calls `messaging_send` for each send, in conversation order (so
   two batches lock conversations in the same order and cannot deadlock), in one transaction:
   each call keeps its own checks and statuses, and a refused send writes nothing; if the
   statement itself fails, each send is retried alone through `socket_actions.send_message`
   (the path every other caller takes). Elsewhere (SQLite) each send takes that path at once;
4. after the commit, every stored message's `message.new` goes to its members' user groups
   (messaging.realtime.send_events_now: one pipeline).

Each send's outcome (its message payload, or the ApplicationError that refuses it) goes back to
the socket that sent it; the socket's own ordering (one send at a time) is unchanged.
"""

import asyncio
import json
import logging
import time
import weakref
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core import metrics, throttling
from core.degraded import UNREACHABLE_ERRORS, redis_answered, redis_failed, redis_unreachable
from core.exceptions import ApplicationError, RateLimited
from messaging import services, socket_actions
from messaging.content_rules import content_rules_check
from messaging.models import Message
from messaging.realtime import send_events_now
from messaging.rendering import message_payload

logger = logging.getLogger("huddle.socket")

MAX_BATCH = 256
MAX_IN_FLIGHT = 2

_SEND_MANY_SQL = """
SELECT a.n, s.*
  FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
       WITH ORDINALITY AS a(sender, conversation, kind, body, client_id, data, created_at, n)
 CROSS JOIN LATERAL messaging_send(a.sender, a.conversation, a.kind, a.body, a.client_id,
                                   a.data::jsonb, a.created_at, false) AS s
"""


# --- The batch, in a worker thread -------------------------------------------------------------------


def _rate_hits(user_ids: list[int]) -> list[float | None]:
    """One hit per entry in the `messages` bucket of its user; None where allowed, else the
    seconds until the window resets. On Redis one pipelined round trip for all, with the keys and
    counting of core.throttling.hit (which each entry falls back to otherwise)."""
    rate = settings.RATE_LIMITS.get("messages")
    if not rate or not user_ids:
        return [None] * len(user_ids)
    limit, period = throttling.parse_rate(rate)
    now = time.time()
    window = int(now // period)
    retry_after = max((window + 1) * period - now, 0.001)
    client = throttling._redis_client()
    url = str(getattr(cache, "location", "cache"))
    if client is None or redis_unreachable(url):
        return [throttling.hit(f"messages:user:{uid}", limit, period, now=now) for uid in user_ids]
    keys = [cache.make_key(f"ratelimit:messages:user:{uid}:{window}") for uid in user_ids]
    try:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=period + 1, nx=True)
                pipe.incr(key)
            counts = pipe.execute()[1::2]
    except UNREACHABLE_ERRORS as exc:
        redis_failed(url, "rate limits", exc)
        return [throttling.hit(f"messages:user:{uid}", limit, period, now=now) for uid in user_ids]
    redis_answered(url)
    return [None if count <= limit else retry_after for count in counts]


def _validated(user_id: int, frame: dict[str, Any]) -> tuple[str, str, dict, str | None]:
    kind, body, data = services._clean_content(
        frame.get("kind", "text"), frame.get("body", ""), frame.get("data"), trusted=False
    )
    client_id = services._clean_client_id(frame.get("client_id"))
    content_rules_check(kind=kind, sender_id=user_id, data=data)
    return kind, body, data, client_id


def _message_from_row(row: tuple, user_id: int, send: tuple, created_at: Any) -> tuple[Any, list[int]]:
    """The stored message, as `services._store_message_postgres` has it from the same row, for
    `message_payload` (which reads these attributes): a plain namespace, as a model instance per
    message cost a measurable share of the batch."""
    conversation_id, kind, body, data, client_id = send
    _status, message_id, seq, member_ids, number, display_name, *more = row
    style = more[0] if more else None
    message = SimpleNamespace(
        pk=message_id,
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender=SimpleNamespace(pk=user_id, number=number, display_name=display_name),
        kind=kind,
        body=body,
        client_id=client_id,
        data=data,
        created_at=created_at,
        edited_at=None,
        recalled=False,
        sender_style=json.loads(style) if isinstance(style, str) else (style or {}),
    )
    return message, list(member_ids)


def _store_on_postgres(
    sends: list[tuple[int, int, tuple]],
) -> dict[int, tuple[Message, list[int]] | int | ApplicationError]:
    """{index: (message, member ids) | id of the first message of a repeated client_id | error}
    for `sends` [(index, user_id, (conversation, kind, body, data, client_id))]; one statement."""
    ordered = sorted(sends, key=lambda s: (s[2][0], s[0]))  # lock order: by conversation
    created_at = timezone.now()
    params = [
        [s[1] for s in ordered],
        [s[2][0] for s in ordered],
        [s[2][1] for s in ordered],
        [s[2][2] for s in ordered],
        [s[2][4] for s in ordered],
        [json.dumps(s[2][3]) for s in ordered],
        [created_at] * len(ordered),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_SEND_MANY_SQL, params)
        rows = cursor.fetchall()
    outcome: dict[int, Any] = {}
    for row in rows:
        index, user_id, send = ordered[row[0] - 1]
        status = row[1]
        if status == "ok":
            outcome[index] = _message_from_row(row[1:], user_id, send, created_at)
        elif status == "duplicate":
            outcome[index] = row[2]
        else:
            outcome[index] = services._SEND_ERRORS[status]()
    return outcome


def store_sends(items: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any] | Exception]:
    """Store the socket sends [(user id, frame)]; returns each one's message payload or the
    exception that refuses it (see the module's docstring). Sync: runs in a worker thread."""
    if connection.vendor != "postgresql":
        return [_send_alone(user_id, frame) for user_id, frame in items]
    results: list[Any] = [None] * len(items)
    # Counted first, for every frame, as socket_actions.send_message does: a frame past the limit
    # is refused before any other check or database work.
    hits = _rate_hits([user_id for user_id, _ in items])
    allowed: list[tuple[int, int, tuple]] = []
    for index, ((user_id, frame), retry_after) in enumerate(zip(items, hits, strict=True)):
        if retry_after is not None:
            results[index] = RateLimited(retry_after)
            continue
        try:
            kind, body, data, client_id = _validated(user_id, frame)
        except ApplicationError as exc:
            results[index] = exc
            continue
        allowed.append((index, user_id, (frame["conversation"], kind, body, data, client_id)))
    if not allowed:
        return results
    try:
        outcome = _store_on_postgres(allowed)
    except DatabaseError:
        logger.warning("a batch of %d sends failed; sending each alone", len(allowed), exc_info=True)
        for index, _user_id, _send in allowed:
            user_id, frame = items[index]
            results[index] = _send_alone(user_id, frame, rate_checked=True)
        return results
    events = []
    duplicates = {index: found for index, found in outcome.items() if isinstance(found, int)}
    if duplicates:
        first = Message.objects.select_related("sender").in_bulk(list(duplicates.values()))
        for index, message_id in duplicates.items():
            results[index] = message_payload(first[message_id])
    for index, found in outcome.items():
        if isinstance(found, tuple):
            message, member_ids = found
            payload = message_payload(message)
            results[index] = payload
            events.append((member_ids, {"type": "message.new", "message": payload}))
        elif isinstance(found, Exception):
            results[index] = found
    # After the commit: at once here (autocommit, the batch's thread), later inside a caller's
    # transaction.
    transaction.on_commit(lambda: send_events_now(events))
    for _, event in events:
        transaction.on_commit(metrics.messages_sent.labels(event["message"]["kind"]).inc)
    return results


def _send_alone(user_id: int, frame: dict[str, Any], *, rate_checked: bool = False) -> Any:
    """The single path: socket_actions.send_message, or its send alone when the frame's rate
    limit was already counted."""
    try:
        if not rate_checked:
            return socket_actions.send_message(user_id, frame)
        message, _ = services.message_send(
            sender=user_id,
            conversation_id=frame["conversation"],
            body=frame.get("body", ""),
            kind=frame.get("kind", "text"),
            data=frame.get("data"),
            client_id=frame.get("client_id"),
        )
        return message_payload(message)
    except ApplicationError as exc:
        return exc


# --- The queue, on the event loop --------------------------------------------------------------------


class _Batcher:
    def __init__(self) -> None:
        self.waiting: list[tuple[int, dict[str, Any], asyncio.Future]] = []
        self.in_flight = 0

    def submit(self, user_id: int, frame: dict[str, Any]) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((user_id, frame, future))
        if self.in_flight < MAX_IN_FLIGHT:
            self.in_flight += 1
            asyncio.get_running_loop().create_task(self._work())
        return future

    async def _work(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                try:
                    results = await database_sync_to_async(store_sends, thread_sensitive=False)(
                        [(user_id, frame) for user_id, frame, _ in batch]
                    )
                except Exception as exc:  # the thread itself failed: every send of it fails
                    logger.exception("a batch of %d sends failed", len(batch))
                    results = [exc] * len(batch)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.in_flight -= 1


_batchers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher]" = weakref.WeakKeyDictionary()


async def send_message(user_id: int, frame: dict[str, Any]) -> dict[str, Any]:
    """Store a socket's `message.send` with whatever else the process is sending; returns the
    message payload or raises what refuses it (as socket_actions.send_message)."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _Batcher()
    return await batcher.submit(user_id, frame)
