"""The only module that sends socket events.

Each user has one channel-layer group, `user.<id>`, which every socket of theirs joins; events go
to the users concerned, and only after the database transaction that caused them commits (an
event about something that then rolled back would be a lie). The channel layer is at-most-once:
PostgreSQL stays the source of truth and clients resync.
"""

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("huddle.realtime")

EVENT_MESSAGE_TYPE = "huddle.event"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def _group_send_all(user_ids: list[int], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    for user_id in user_ids:
        await layer.group_send(user_group(user_id), {"type": EVENT_MESSAGE_TYPE, "event": event})


async def send_event_async(user_ids: Iterable[int], event: dict[str, Any]) -> None:
    """Send from async code (the socket consumer's typing events, which are not stored). Errors of
    the channel layer (redis.ConnectionError) propagate: the consumer closes the socket with 1011
    and the client reconnects."""
    await _group_send_all(sorted(set(user_ids)), event)


def send_event_now(user_ids: Iterable[int], event: dict[str, Any]) -> None:
    """Send at once; a failing channel layer is logged, never raised (the data is committed)."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    try:
        async_to_sync(_group_send_all)(ids, event)
    except Exception:
        logger.exception("could not send %s event to %d users", event.get("type"), len(ids))


def send_event_on_commit(user_ids: Iterable[int], event: dict[str, Any]) -> None:
    """Send `event` to every socket of `user_ids` once the current transaction commits."""
    ids = list(user_ids)
    transaction.on_commit(lambda: send_event_now(ids, event))
