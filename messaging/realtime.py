"""The only module that sends socket events.

Each user has one channel-layer group, `user.<id>`, which every socket of theirs joins; events go
to the users concerned, and only after the database transaction that caused them commits (an
event about something that then rolled back would be a lie). The channel layer is at-most-once:
PostgreSQL stays the source of truth and clients resync.
"""

import functools
import logging
from collections.abc import Iterable
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash  # the layer's own shard choice (private, pinned version)
from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction

from core.degraded import UNREACHABLE_ERRORS, redis_failed

logger = logging.getLogger("huddle.realtime")

EVENT_MESSAGE_TYPE = "huddle.event"
CLOSE_MESSAGE_TYPE = "huddle.close"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def _group_send_all(user_ids: list[int], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    for user_id in user_ids:
        await layer.group_send(user_group(user_id), message)


async def send_event_async(user_ids: Iterable[int], event: dict[str, Any]) -> None:
    """Send from async code (the socket consumer's typing events, which are not stored). Errors of
    the channel layer (redis.ConnectionError) propagate: the consumer closes the socket with 1011
    and the client reconnects."""
    await _group_send_all(sorted(set(user_ids)), {"type": EVENT_MESSAGE_TYPE, "event": event})


class _DirectPublisher:
    """Publishes straight to Redis what the pub/sub channel layer's `group_send` would: the same
    channel names, serialization and shard (channels-redis's consistent hash of the channel name
    over the configured hosts, in their order), in one pipelined round trip per shard for all
    recipients, from the calling thread. The layer's own `group_send` from sync code costs an
    event-loop hop per call (async_to_sync), about 5 ms of CPU per message measured here; this
    costs a fraction of a millisecond. tests/ops/test_sharded_layer.py proves the shards agree
    with the layer's subscriptions."""

    def __init__(self, layer: RedisPubSubChannelLayer, addresses: list[str], prefix: str):
        self.layer = layer
        self.prefix = prefix
        self.clients = [
            redis.Redis.from_url(address, socket_timeout=5, socket_connect_timeout=5) for address in addresses
        ]

    def publish(self, user_ids: list[int], message: dict[str, Any]) -> None:
        self.publish_many([(user_ids, message)])

    def publish_many(self, messages: list[tuple[list[int], dict[str, Any]]]) -> None:
        """Several messages, each to its users, in one round trip per shard (in this order)."""
        pipes: dict[int, Any] = {}
        for user_ids, message in messages:
            payload = self.layer.serialize(message)
            for user_id in user_ids:
                channel = f"{self.prefix}__group__{user_group(user_id)}"
                shard = _consistent_hash(channel, len(self.clients))
                if shard not in pipes:
                    pipes[shard] = self.clients[shard].pipeline(transaction=False)
                pipes[shard].publish(channel, payload)
        for pipe in pipes.values():
            with pipe:
                pipe.execute()


@functools.cache
def _direct_publisher() -> _DirectPublisher | None:
    layer = get_channel_layer()
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    hosts = config.get("hosts") or []
    if not isinstance(layer, RedisPubSubChannelLayer) or not hosts:
        return None
    if not all(isinstance(host, dict) and "address" in host for host in hosts):
        return None
    return _DirectPublisher(layer, [host["address"] for host in hosts], config.get("prefix", "asgi"))


def _forget_publisher(*, setting: str, **kwargs: Any) -> None:
    if setting == "CHANNEL_LAYERS":
        _direct_publisher.cache_clear()


setting_changed.connect(_forget_publisher)


def _publish(user_ids: list[int], message: dict[str, Any]) -> None:
    publisher = _direct_publisher()
    if publisher is not None:
        publisher.publish(user_ids, message)
    else:
        async_to_sync(_group_send_all)(user_ids, message)


def send_event_now(user_ids: Iterable[int], event: dict[str, Any]) -> None:
    """Send at once; a failing channel layer is logged, never raised (the data is committed).
    While Redis is unreachable the event is skipped (degraded mode: clients sync on reconnect).
    Every event tries Redis, even during an outage (a refused connection costs a millisecond):
    skipping for a while after a failure would lose live events for sockets that reconnected in
    another process as soon as Redis was back."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    try:
        _publish(ids, {"type": EVENT_MESSAGE_TYPE, "event": event})
    except UNREACHABLE_ERRORS as exc:
        redis_failed(settings.REDIS_URL, "socket events", exc)
        logger.info("Redis unreachable: %s event to %d users skipped", event.get("type"), len(ids))
    except Exception:
        logger.exception("could not send %s event to %d users", event.get("type"), len(ids))


def send_events_now(events: list[tuple[Iterable[int], dict[str, Any]]]) -> None:
    """send_event_now for several events (each to its users), in one Redis round trip where the
    layer allows it (the socket's batched sends, messaging.send_batch); never raises."""
    messages = [(sorted(set(ids)), {"type": EVENT_MESSAGE_TYPE, "event": event}) for ids, event in events]
    messages = [(ids, message) for ids, message in messages if ids]
    if not messages:
        return
    publisher = _direct_publisher()
    if publisher is None:
        for ids, message in messages:
            send_event_now(ids, message["event"])
        return
    try:
        publisher.publish_many(messages)
    except UNREACHABLE_ERRORS as exc:
        redis_failed(settings.REDIS_URL, "socket events", exc)
        logger.info("Redis unreachable: %d events skipped", len(messages))
    except Exception:
        logger.exception("could not send %d events", len(messages))


def close_sockets_on_commit(
    user_id: int, *, token_id: int | None = None, session_key: str | None = None
) -> None:
    """After commit, close (4401) the user's sockets opened with this device token or this browser
    session: a socket's credentials are checked at the handshake only (PITFALLS: channels#1324)."""
    _close_on_commit(user_id, {"token_id": token_id, "session_key": session_key})


def close_other_sockets_on_commit(
    user_id: int,
    *,
    keep_token_id: int | None = None,
    keep_session_key: str | None = None,
    session_key_now: str | None = None,
) -> None:
    """After commit, close (4401) every socket of the user except those opened with the device
    token `keep_token_id` or the browser session `keep_session_key` (neither: close them all).
    For a password change, a deactivation, a revoked token whose id is unknown. `session_key_now`
    is the kept session's new key when the change rotated it: its sockets carry on under it."""
    fields: dict[str, Any] = {
        "all": True,
        "keep_token_id": keep_token_id,
        "keep_session_key": keep_session_key,
    }
    if session_key_now is not None:
        fields["session_key_now"] = session_key_now
    _close_on_commit(user_id, fields)


def _close_on_commit(user_id: int, fields: dict[str, Any]) -> None:
    def close() -> None:
        try:
            _publish([user_id], {"type": CLOSE_MESSAGE_TYPE, **fields})
        except Exception:
            logger.exception("could not close the sockets of user %s", user_id)

    transaction.on_commit(close)


def send_event_on_commit(user_ids: Iterable[int], event: dict[str, Any]) -> None:
    """Send `event` to every socket of `user_ids` once the current transaction commits."""
    ids = list(user_ids)
    transaction.on_commit(lambda: send_event_now(ids, event))
