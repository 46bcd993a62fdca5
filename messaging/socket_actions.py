"""What each client frame of the socket does, as plain sync functions the consumer runs through
`channels.db.database_sync_to_async` (one thread hop per frame; querysets are evaluated here).

Each works with the current user, not the socket's copy from the handshake (it goes stale:
display name, read receipts, deactivation): a send passes only the user's id and the send reads
the rest in the same statement; the others re-read the user. A deactivated user gets SenderGone,
and the consumer closes the socket with 4401. They return JSON-ready dicts.

Every frame but `ping` is rate limited per user, in the buckets the HTTP API counts in
(settings.RATE_LIMITS: `messages`, `typing`, `actions`), checked first: a frame past its limit
raises RateLimited before any database work and does nothing.
"""

from typing import Any

from accounts import services as account_services
from accounts.models import Presence, User
from accounts.presence import socket_count_refresh
from accounts.socket_auth import socket_credentials_valid
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


def typing_rate_check(user_id: int) -> None:
    """Every typing frame counts, also one the consumer folds into the last (sent within 2 s)."""
    rate_check("typing", f"user:{user_id}")


def action_rate_check(user_id: int) -> None:
    """Read markers, presence and sync: the HTTP API's `actions` bucket."""
    rate_check("actions", f"user:{user_id}")


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
    typing_rate_check(user_id)
    user = fresh_user(user_id)
    membership = membership_get(user=user, conversation_id=conversation_id)
    member_ids = member_ids_of(conversation_id)
    if membership.conversation.kind == Conversation.Kind.DIRECT:
        peer = next((uid for uid in member_ids if uid != user.pk), user.pk)
        services.direct_peer_check(user, peer)
    return [uid for uid in member_ids if uid != user.pk], user.number


def read(user_id: int, conversation_id: int, up_to: int) -> int:
    action_rate_check(user_id)
    return services.conversation_read(user=fresh_user(user_id), conversation_id=conversation_id, up_to=up_to)


def sync(user_id: int, after: int) -> dict[str, Any]:
    action_rate_check(user_id)
    result = sync_for_user(user=fresh_user(user_id), after=after)
    return {
        "messages": [message_payload(m) for m in result.messages],
        "changes": [message_payload(m) for m in result.changes],
        "last": result.last,
        "has_more": result.has_more,
    }


def presence_set(user_id: int, presence: Any) -> None:
    """Set the user's presence; the one they already have is a no-op (no write, no event)."""
    action_rate_check(user_id)
    if not isinstance(presence, str) or presence not in Presence.values:
        raise InvalidInput(fields={"presence": ["One of online, away, busy, invisible."]})
    user = fresh_user(user_id)
    if user.presence != presence:
        account_services.profile_update(user=user, presence=presence)


def ping(user_id: int, *, token_id: int | None, session_key: str | None, refresh_presence: bool) -> bool:
    """The socket's heartbeat: False when its credentials ended (accounts.socket_auth; the consumer
    closes it with 4401); else, when `refresh_presence`, keep the user's online count alive
    (accounts.presence). Never rate limited."""
    if not socket_credentials_valid(user_id=user_id, token_id=token_id, session_key=session_key):
        return False
    if refresh_presence:
        socket_count_refresh(user_id)
    return True
