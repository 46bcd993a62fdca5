"""The WebSocket at /ws/ (CONTRACT section 7): one socket per tab, every conversation of the user.

Protocol rules kept here:
- Anonymous: accept, then close 4401 (a close before accepting reaches the client as HTTP 403).
- Binary frame: close 1003; text frame over 64 KiB: close 1009 (invalid UTF-8 is closed with 1007
  by the server's WebSocket layer). Any other frame, whatever JSON it holds, gets an answer and
  the socket stays open: not a JSON object with a known string `type` (nesting past the recursion
  limit included) is `bad_frame`; U+0000 or a lone surrogate in any text is `invalid`; an integer
  field past 64 bits is `invalid`; an exception nobody expected is `server_error` (logged). An
  error answering a frame with a `client_id` echoes it. Only the channel layer failing closes the
  socket (1011), and then `disconnect()` runs, so the user's presence count goes down.
- Every frame but `ping` is rate limited per user (socket_actions, before any database work).
- `ping` re-checks the socket's credentials (accounts.socket_auth: token deleted, user
  deactivated, session gone or password changed: close 4401) and, every few minutes, refreshes
  the user's online count (accounts.presence) and group membership: one thread hop.
- The socket joins its user's group (`user.<id>`) before the handshake completes, so it gets every
  event from then on; layer events arrive as {"type": "huddle.event", "event": {...}} and the
  event is forwarded as the frame. Channels dispatches one message at a time per consumer, so a
  `message.ack` always goes out before the same message's `message.new` reaches this socket, and
  the socket skips it: the sending tab gets the ack only, the other tabs `message.new`.
- No message id is sent twice as `message.new` on one socket (live and sync may overlap).
- Redis failing under the channel layer closes the socket with 1011; the client reconnects and
  syncs (the database is the source of truth).
- The pub/sub channel layer keeps the group subscription for the socket's life; the group is
  re-added on `ping` every few minutes anyway, which is what the core layer's expiry needs.
"""

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import InstanceSessionWrapper
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from core import metrics
from core.degraded import watch_socket
from core.exceptions import SERVICE_UNAVAILABLE, ApplicationError, InvalidInput, RateLimited, is_outage
from core.input_rules import is_storable_text, unstorable_path
from core.observability import bind_request_id, request_id_from
from core.routes import MAX_ID
from messaging import presence_events, send_batch, socket_actions
from messaging.errors import BodyTooLong, SenderGone
from messaging.realtime import send_event_async, user_group

logger = logging.getLogger("huddle.socket")

MAX_FRAME_BYTES = 64 * 1024
TYPING_MIN_INTERVAL = 2.0  # seconds between two typing events of one socket in one conversation
GROUP_REFRESH_SECONDS = 300.0
PRESENCE_REFRESH_SECONDS = 300.0  # a ping refreshes the online count's expiry at most this often
MAX_WAITING_FRAMES = 200  # frames of one socket waiting for the database; more is refused
CHANNEL_LAYER_ERRORS = (RedisError, ConnectionInterrupted, OSError)  # Redis: layer, cache
CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011

_background_tasks: set[asyncio.Task] = set()


def _seconds_since(created_at: Any) -> float:
    """Seconds from a message's `created_at` (ISO 8601) to now, for the delivery-latency histogram."""
    try:
        return max(0.0, time.time() - datetime.fromisoformat(created_at).timestamp())
    except (TypeError, ValueError):
        return 0.0


def in_thread(function: Callable) -> Callable:
    """Run ORM work off the event loop in the thread pool. Not thread-sensitive: Channels' default
    would run every socket's database work of the process on one shared thread, which measured
    ~90 messages a second per process; a socket's own frames stay in order because the consumer
    handles them one at a time."""
    return database_sync_to_async(function, thread_sensitive=False)


class RecentIds:
    """The last `size` message ids this socket delivered (set + ring buffer; the buffer is made on
    the first id, as most sockets sit idle)."""

    __slots__ = ("_ids", "_order", "_size")

    def __init__(self, size: int = 20000):
        self._ids: set[int] = set()
        self._order: deque[int] | None = None
        self._size = size

    def __contains__(self, message_id: int) -> bool:
        return message_id in self._ids

    def add(self, message_id: int) -> bool:
        """False if it was already there."""
        if message_id in self._ids:
            return False
        self._ids.add(message_id)
        order = self._order
        if order is None:
            order = self._order = deque()
        order.append(message_id)
        if len(order) > self._size:
            self._ids.discard(order.popleft())
        return True


def encode_frame(frame: dict[str, Any]) -> str:
    """Compact JSON, non-ASCII as is (orjson; the standard library where orjson refuses, e.g. an
    integer past 64 bits)."""
    try:
        return orjson.dumps(frame).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def _int_field(frame: dict, name: str) -> int:
    """An id or cursor: a non-negative integer that fits a 64-bit column (core.routes.MAX_ID)."""
    value = frame.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise InvalidInput(f"`{name}` must be a non-negative integer.", fields={name: ["An integer."]})
    return value


def _parse_frame(text: str) -> Any:
    """The frame's JSON value, or None for text that is not JSON (nesting past the recursion
    limit included: json raises RecursionError there, not ValueError)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass  # orjson is stricter (lone surrogates, NaN, big integers, depth): the checks below decide
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _bad_text_path(text: str, frame: Any) -> tuple[str, str] | None:
    """(field path, message) of the first text in the frame that cannot be stored (U+0000, a lone
    surrogate: core.input_rules), else None. Both can only arrive as `\\u` escapes (raw, the one
    is not JSON and the other not UTF-8), so frames without one are not walked. (Integer fields
    are bounded where they are read, `_int_field`, and message data by the send service.)"""
    if "\\u" not in text:
        return None
    return unstorable_path(frame)


class ChatConsumer(AsyncWebsocketConsumer):
    HANDLERS = {
        "message.send": "on_message_send",
        "typing": "on_typing",
        "read": "on_read",
        "sync": "on_sync",
        "presence.set": "on_presence_set",
        "ping": "on_ping",
    }

    user_id: int | None = None
    token_id: int | None = None
    session_key: str | None = None
    joined_group = False
    counted_online = False
    counted_open = False  # in the open-sockets gauge (core.metrics)
    # Per-socket state made on first use (an idle socket holds none of it): the sends waiting for
    # the database and the task storing them (only while some wait), the client_ids of sends in
    # flight, own read markers not yet echoed, the last typing event per conversation.
    waiting_sends: deque | None = None
    send_worker: asyncio.Task | None = None
    sending: set[str] | None = None
    own_reads: set[tuple[int, int]] | None = None
    typing_sent: dict[int, float] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id, self.user_number = user.pk, user.number
        # Log lines of this socket (and tasks it dispatches) carry its request id: the handshake's
        # X-Request-ID from a proxy, else a new one (core.observability).
        headers = dict(self.scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        bind_request_id(request_id_from(given), user=self.user_id)
        # The credentials the socket lives by (huddle_close, and the re-check on ping): the device
        # token of a Token header, else the browser session.
        self.token_id = self.scope.get("device_token_id")
        session = self.scope.get("session") if self.token_id is None else None
        self.session_key = getattr(session, "session_key", None)
        self.delivered = RecentIds()
        try:
            await self.channel_layer.group_add(user_group(self.user_id), self.channel_name)
        except CHANNEL_LAYER_ERRORS:
            logger.exception("channel layer unavailable; closing socket")
            await self.accept()
            await self.close(code=CLOSE_SERVER_ERROR)
            return
        self.joined_group = True
        watch_socket(self)  # Redis down or restarted: close 1011, the client reconnects and syncs
        self.group_refreshed = self.presence_refreshed = asyncio.get_running_loop().time()
        # Counted online before the handshake completes: a friend who connects right after this
        # socket is open is told by exactly one of the two ways (their list, or our event).
        frames = await in_thread(presence_events.presence_socket_opened)(user_id=self.user_id)
        self.counted_online = True
        await self.accept()
        # The handshake's headers have been read (origin, credentials, request id) and are not
        # read again. Every scope copy down the middleware chain shares this one list: emptied, it
        # no longer holds the headers for the socket's life (about 1 KiB).
        handshake_headers = self.scope.get("headers")
        if isinstance(handshake_headers, list):
            handshake_headers.clear()
        metrics.open_sockets.inc()
        self.counted_open = True
        for frame in frames:
            await self.send_frame(frame)

    async def disconnect(self, code: int) -> None:
        if self.counted_open:
            self.counted_open = False
            metrics.open_sockets.dec()
        if self.send_worker is not None:
            self.send_worker.cancel()
        if self.joined_group:
            try:
                await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
            except CHANNEL_LAYER_ERRORS:
                logger.warning("could not leave the user group of %s", self.user_id)
        if self.counted_online:
            self.counted_online = False
            went_offline = await in_thread(presence_events.presence_socket_closed)(user_id=self.user_id)
            if went_offline:
                await self._announce_offline(self.user_id)

    async def _announce_offline(self, user_id: int) -> None:
        grace = presence_events.OFFLINE_GRACE_SECONDS
        announce = in_thread(presence_events.presence_offline_announce)
        if grace <= 0:
            await announce(user_id=user_id)
            return

        async def later() -> None:
            await asyncio.sleep(grace)
            await announce(user_id=user_id)

        task = asyncio.get_running_loop().create_task(later())
        _background_tasks.add(task)
        task.add_done_callback(_background_tasks.discard)

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, without its `aclose_old_connections()` before every handler: that is
        a hop to the process's one sync thread for each frame and each delivered event, which all
        sockets of the process queue on. This consumer never touches the ORM on the event loop:
        its database work goes through `in_thread` (database_sync_to_async), which closes stale
        connections itself in the worker thread."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Client frames ------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.close(code=CLOSE_UNSUPPORTED)
            return
        if (
            len(text_data) > MAX_FRAME_BYTES // 4
            and len(text_data.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES
        ):
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            await self._receive_frame(text_data)
        except CHANNEL_LAYER_ERRORS:
            logger.exception("channel layer failed; closing socket")
            await self.close(code=CLOSE_SERVER_ERROR)
        except Exception:
            # The last line of defence: an exception escaping here would end the consumer without
            # `disconnect()` (the socket closes 1011 and the user stays counted online).
            logger.exception("socket frame could not be handled")
            await self.send_error("server_error", "Something went wrong on our side.")

    async def _receive_frame(self, text_data: str) -> None:
        frame = _parse_frame(text_data)
        if frame is None:
            await self.send_error("bad_frame", "Frames are JSON objects with a known `type`.")
            return
        client_id = frame.get("client_id") if isinstance(frame, dict) else None
        client_id = client_id if isinstance(client_id, str) else None
        bad_text = _bad_text_path(text_data, frame)
        if bad_text is not None:
            where, problem = bad_text
            # The client_id is echoed only if it can be sent back (is itself Unicode text).
            echoed = client_id if where != "client_id" and client_id and is_storable_text(client_id) else None
            await self.send_error("invalid", problem, echoed, fields={where: [problem]})
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_error("bad_frame", "Frames are JSON objects with a known `type`.", client_id)
            return
        if handler != "on_message_send":
            await self._run(handler, frame, client_id)
            return
        waiting = self.waiting_sends
        if waiting is None:
            waiting = self.waiting_sends = deque()
        if len(waiting) >= MAX_WAITING_FRAMES:
            await self.send_error(
                "rate_limited", "Too many messages waiting; slow down.", client_id, retry_after=1.0
            )
            return
        waiting.append((handler, frame, client_id))
        if self.send_worker is None:
            self.send_worker = asyncio.get_running_loop().create_task(self._work_frames(waiting))

    async def _work_frames(self, waiting: deque) -> None:
        """Store the socket's messages one at a time, in order, beside the consumer's own loop:
        while a send waits for the database, events for this socket (other people's messages)
        are still delivered at once instead of queueing behind it. (Other frames are rare and
        handled in the loop itself.) Runs while sends wait, then ends."""
        try:
            while waiting:
                handler, frame, client_id = waiting.popleft()
                try:
                    await self._run(handler, frame, client_id)
                except Exception:  # answering failed too; the next message must still be handled
                    logger.exception("socket frame %s: answering failed", handler)
        finally:
            self.send_worker = self.waiting_sends = None

    async def _run(self, handler: str, frame: dict, client_id: str | None) -> None:
        try:
            await getattr(self, handler)(frame)
        except SenderGone:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        except ApplicationError as exc:
            code = "too_long" if isinstance(exc, BodyTooLong) else exc.code
            extra = {"retry_after": round(exc.retry_after, 3)} if isinstance(exc, RateLimited) else {}
            if exc.fields is not None:
                extra["fields"] = exc.fields
            await self.send_error(code, exc.detail, client_id, **extra)
        except CHANNEL_LAYER_ERRORS:
            logger.exception("channel layer failed; closing socket")
            await self.close(code=CLOSE_SERVER_ERROR)
        except Exception as exc:
            if is_outage(exc):  # the database connection failed: nothing was stored, retry later
                logger.error("socket frame %s: service unavailable: %s", frame.get("type"), exc)
                await self.send_error(*SERVICE_UNAVAILABLE, client_id)
                return
            logger.exception("socket frame %s failed", frame.get("type"))
            await self.send_error("server_error", "Something went wrong on our side.", client_id)

    async def on_message_send(self, frame: dict) -> None:
        _int_field(frame, "conversation")
        client_id = frame.get("client_id")
        # The message's own `message.new` may reach this socket's loop before the database call
        # below returns: it is recognised by its client_id and skipped (this tab gets the ack).
        sending = None
        if isinstance(client_id, str):
            sending = self.sending
            if sending is None:
                sending = self.sending = set()
            sending.add(client_id)
        try:
            # Stored with every other send waiting in this process (messaging.send_batch).
            message = await send_batch.send_message(self.user_id, frame)
        finally:
            if sending is not None:
                sending.discard(client_id)
        self.delivered.add(message["id"])
        await self.send_frame({"type": "message.ack", "client_id": client_id, "message": message})

    async def on_typing(self, frame: dict) -> None:
        conversation = _int_field(frame, "conversation")
        now = asyncio.get_running_loop().time()
        if self.typing_sent is None:
            self.typing_sent = {}
        if now - self.typing_sent.get(conversation, -TYPING_MIN_INTERVAL) < TYPING_MIN_INTERVAL:
            # Folded into the last one, but it still counts against the limit.
            await in_thread(socket_actions.typing_rate_check)(self.user_id)
            return
        recipients, number = await in_thread(socket_actions.typing_recipients)(self.user_id, conversation)
        self.typing_sent[conversation] = now
        await send_event_async(recipients, {"type": "typing", "conversation": conversation, "user": number})

    async def on_read(self, frame: dict) -> None:
        conversation, up_to = _int_field(frame, "conversation"), _int_field(frame, "up_to")
        marker = await in_thread(socket_actions.read)(self.user_id, conversation, up_to)
        if self.own_reads is None or len(self.own_reads) > 1000:
            self.own_reads = set()
        self.own_reads.add((conversation, marker))

    async def on_sync(self, frame: dict) -> None:
        after = _int_field(frame, "after")
        result = await in_thread(socket_actions.sync)(self.user_id, after)
        # A sync answers everything above `after`, also what this socket already had live (the
        # client asked, e.g. after clearing its store); later live copies are still skipped.
        for message in result["messages"]:
            self.delivered.add(message["id"])
            await self.send_frame({"type": "message.new", "message": message})
        for message in result["changes"]:
            kind = "message.recalled" if message["recalled"] else "message.edited"
            await self.send_frame({"type": kind, "message": message})
        await self.send_frame({"type": "sync.done", "last": result["last"], "has_more": result["has_more"]})

    async def on_presence_set(self, frame: dict) -> None:
        await in_thread(socket_actions.presence_set)(self.user_id, frame.get("presence"))

    async def on_ping(self, frame: dict) -> None:
        now = asyncio.get_running_loop().time()
        refresh_presence = now - self.presence_refreshed >= PRESENCE_REFRESH_SECONDS
        alive = await in_thread(socket_actions.ping)(
            self.user_id,
            token_id=self.token_id,
            session_key=self.session_key,
            refresh_presence=refresh_presence,
        )
        if not alive:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if refresh_presence:
            self.presence_refreshed = now
        if now - self.group_refreshed > GROUP_REFRESH_SECONDS:
            await self.channel_layer.group_add(user_group(self.user_id), self.channel_name)
            self.group_refreshed = now
        await self.send_frame({"type": "pong"})

    # --- Server events ---------------------------------------------------------------------------------

    async def huddle_event(self, message: dict) -> None:
        """An event for this user (messaging.realtime); forwarded as the frame."""
        event = message["event"]
        kind = event.get("type")
        if kind == "message.new":
            message = event["message"]
            if not self.delivered.add(message["id"]):
                return
            sending = self.sending
            if (
                sending
                and message.get("client_id") in sending
                and message["sender"]["number"] == self.user_number
            ):
                return
            metrics.messages_delivered.inc()
            metrics.message_delivery_seconds.observe(_seconds_since(message.get("created_at")))
        if kind == "read" and event.get("user") == self.user_number:
            key = (event.get("conversation"), event.get("up_to"))
            if self.own_reads is not None and key in self.own_reads:
                self.own_reads.discard(key)
                return
        await self.send_frame(event)

    async def huddle_close(self, message: dict) -> None:
        """Credentials ended (messaging.realtime.close_sockets_on_commit and
        close_other_sockets_on_commit): close with 4401 if this socket was opened with them."""
        own_token, own_session = self.token_id, self.session_key
        if message.get("all"):
            kept_token = own_token is not None and own_token == message.get("keep_token_id")
            kept_session = own_session is not None and own_session == message.get("keep_session_key")
            if not (kept_token or kept_session):
                await self.close(code=CLOSE_UNAUTHENTICATED)
            elif kept_session and message.get("session_key_now"):
                # The kept session's key was rotated: later credential checks (ping) use the new one.
                self.session_key = message["session_key_now"]
            return
        token_id, session_key = message.get("token_id"), message.get("session_key")
        if (token_id is not None and token_id == own_token) or (
            session_key is not None and session_key == own_session
        ):
            await self.close(code=CLOSE_UNAUTHENTICATED)

    # --- Output ----------------------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        # Frames go straight to the server's `send`, past Channels' session wrapper: it saves the
        # session or sets a cookie on HTTP responses only, and cost a check of the session on
        # every frame. (The socket never changes its session; the handshake is unaffected.)
        wrapper = getattr(send, "__self__", None)
        if isinstance(wrapper, InstanceSessionWrapper):
            send = wrapper.real_send
        await super().__call__(scope, receive, send)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.base_send({"type": "websocket.send", "text": encode_frame(frame)})

    async def send_error(self, code: str, detail: str, client_id: str | None = None, **extra: Any) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if client_id is not None:
            frame["client_id"] = client_id
        frame.update(extra)
        await self.send_frame(frame)
