"""What each client frame of the socket does, as plain sync functions the consumer runs through
`channels.db.database_sync_to_async` (one thread hop per frame; querysets are evaluated here).

Each works with the current user, not the socket's copy from the handshake (it goes stale:
display name, read receipts, deactivation): a send passes only the user's id and the send reads
the rest in the same statement; the others re-read the user. A deactivated user gets SenderGone,
and the consumer closes the socket with 4401. They return JSON-ready dicts.
"""

from typing import Any

from accounts import services as account_services
from accounts.models import Presence, User
from core.exceptions import InvalidInput
from core.throttling import rate_check
from messaging import services
from messaging.errors import SenderGone
from messaging.models import Conversation
from messaging.rendering import message_payload
from messaging.selectors import member_ids_of, membership_get
from messaging.sync import sync_for_user


def fresh_user(user_id: int) -> User:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise SenderGone()
    return user


def message_rate_check(user_id: int) -> None:
    """The same per-user bucket as the HTTP API's MessageThrottle (settings.RATE_LIMITS)."""
    rate_check("messages", f"user:{user_id}")


def send_message(user_id: int, frame: dict[str, Any]) -> dict[str, Any]:
    message_rate_check(user_id)
    message, _ = services.message_send(
        sender=user_id,
        conversation_id=frame["conversation"],
        body=frame.get("body", ""),
        kind=frame.get("kind", "text"),
        data=frame.get("data"),
        client_id=frame.get("client_id"),
    )
    return message_payload(message)


def typing_recipients(user_id: int, conversation_id: int) -> tuple[list[int], int]:
    """(other members, the typist's number); NotFound for non-members, and the send rules of a
    direct conversation (blocked, not friends) apply to typing too."""
    user = fresh_user(user_id)
    membership = membership_get(user=user, conversation_id=conversation_id)
    member_ids = member_ids_of(conversation_id)
    if membership.conversation.kind == Conversation.Kind.DIRECT:
        peer = next((uid for uid in member_ids if uid != user.pk), user.pk)
        services.direct_peer_check(user, peer)
    return [uid for uid in member_ids if uid != user.pk], user.number


def read(user_id: int, conversation_id: int, up_to: int) -> int:
    return services.conversation_read(user=fresh_user(user_id), conversation_id=conversation_id, up_to=up_to)


def sync(user_id: int, after: int) -> dict[str, Any]:
    result = sync_for_user(user=fresh_user(user_id), after=after)
    return {
        "messages": [message_payload(m) for m in result.messages],
        "changes": [message_payload(m) for m in result.changes],
        "last": result.last,
        "has_more": result.has_more,
    }


def presence_set(user_id: int, presence: Any) -> None:
    if presence not in Presence.values:
        raise InvalidInput(fields={"presence": ["One of online, away, busy, invisible."]})
    account_services.profile_update(user=fresh_user(user_id), presence=presence)
