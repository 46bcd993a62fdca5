"""The contract's JSON shapes of messages and conversations (CONTRACT section 4).

Messages are rendered by a plain function, not a DRF serializer: the same dict is sent to every
member of a conversation on the hot send path, and the API answers the very same shape
(messaging.serializers describes it for the OpenAPI schema).
"""

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


def sender_style_payload(message: Message) -> dict[str, Any]:
    """`sender_style`: the sender's chat bubble colour, name colour (each "#rrggbb" or null) and
    VIP badge when they sent the message, stamped by the server at the send (messaging.services);
    all empty for system messages and for messages stored before styles existed."""
    style = message.sender_style or NO_STYLE
    return {
        "bubble": style.get("bubble") or None,
        "name_color": style.get("name_color") or None,
        "vip": style.get("vip") is True,
    }


def message_payload(message: Message) -> dict[str, Any]:
    """`message.sender` should be loaded (select_related) or None for system messages."""
    sender = message.sender
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": None if sender is None else {"number": sender.number, "display_name": sender.display_name},
        "kind": message.kind,
        "body": message.body,
        "client_id": message.client_id,
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "recalled": message.recalled,
        "data": message.data,
        "sender_style": sender_style_payload(message),
    }


def messages_payload(messages: list[Message]) -> list[dict[str, Any]]:
    return [message_payload(m) for m in messages]
