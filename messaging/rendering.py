"""The contract's JSON shapes of messages and conversations (CONTRACT section 4).

Messages are rendered by a plain function, not a DRF serializer: the same dict is sent to every
member of a conversation on the hot send path, and the API answers the very same shape
(messaging.serializers describes it for the OpenAPI schema).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from messaging.models import Message


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, as DRF renders times ("...Z")."""
    if moment is None:
        return None
    value = moment.isoformat()
    return value[:-6] + "Z" if value.endswith("+00:00") else value


NO_STYLE: dict[str, Any] = {"bubble": None, "name_color": None, "vip": False}


def _style_payload(style: Any) -> dict[str, Any]:
    style = style or NO_STYLE
    return {
        "bubble": style.get("bubble") or None,
        "name_color": style.get("name_color") or None,
        "vip": style.get("vip") is True,
    }


def sender_style_payload(message: Message) -> dict[str, Any]:
    """`sender_style`: the sender's chat bubble colour, name colour (each "#rrggbb" or null) and
    VIP badge when they sent the message, stamped by the server at the send (messaging.services);
    all empty for system messages and for messages stored before styles existed."""
    return _style_payload(message.sender_style)


# The columns of a message row (`Message.objects.values_list(*MESSAGE_ROW)`), in the order
# message_row_payload reads them: pages and lists render from these tuples without building model
# instances (a tenth of the cost per message; docs/PERFORMANCE.md, Reads).
MESSAGE_ROW = (
    "id",
    "conversation_id",
    "seq",
    "sender__number",
    "sender__display_name",
    "kind",
    "body",
    "client_id",
    "created_at",
    "edited_at",
    "recalled",
    "data",
    "sender_style",
)


def message_row_payload(row: tuple) -> dict[str, Any]:
    """The message object of one MESSAGE_ROW tuple: the one place its shape is built."""
    (
        pk,
        conversation_id,
        seq,
        sender_number,
        sender_display_name,
        kind,
        body,
        client_id,
        created_at,
        edited_at,
        recalled,
        data,
        sender_style,
    ) = row
    return {
        "id": pk,
        "conversation": conversation_id,
        "seq": seq,
        "sender": None
        if sender_number is None
        else {"number": sender_number, "display_name": sender_display_name},
        "kind": kind,
        "body": body,
        "client_id": client_id,
        "created_at": iso(created_at),
        "edited_at": iso(edited_at),
        "recalled": recalled,
        "data": data,
        "sender_style": _style_payload(sender_style),
    }


def message_payload(message: Message) -> dict[str, Any]:
    """`message.sender` should be loaded (select_related) or None for system messages."""
    sender = message.sender
    return message_row_payload(
        (
            message.pk,
            message.conversation_id,
            message.seq,
            None if sender is None else sender.number,
            None if sender is None else sender.display_name,
            message.kind,
            message.body,
            message.client_id,
            message.created_at,
            message.edited_at,
            message.recalled,
            message.data,
            message.sender_style,
        )
    )


def message_rows_payload(rows: Sequence[tuple]) -> list[dict[str, Any]]:
    return [message_row_payload(row) for row in rows]


def messages_payload(messages: list[Message]) -> list[dict[str, Any]]:
    return [message_payload(m) for m in messages]
