"""WebSocket authentication: `Authorization: Token <key>` or the session cookie at the handshake,
and the re-check of those credentials while the socket is open.

A socket that carries a Token header is authenticated by that token alone (an invalid token is
anonymous even with a valid session cookie), as on the HTTP API. The consumer closes anonymous
sockets with 4401.

A socket lives only as long as its credentials (CONTRACT section 7). Logout and password changes
close sockets by message (messaging.realtime); `socket_credentials_valid` is the check the consumer
runs on `ping`, which also catches what no message announced (a token deleted in bulk, a user
deactivated by a queryset update, a session expired or cleared). It reads the session's current
data, not the socket's copy from the handshake (channels#1324): the session that changed the
password has its stored hash updated and stays valid.
"""

from importlib import import_module
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.db.models import Subquery
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.authentication import user_for_token
from accounts.models import DeviceToken, User


def _token_from_headers(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin1").partition(" ")
            if scheme.lower() == "token":
                return key.strip()
            return ""
    return None


@database_sync_to_async
def _resolve_token(key: str) -> tuple[Any, int | None]:
    found = user_for_token(key) if key else None
    if found is None:
        return AnonymousUser(), None
    user, token = found
    return user, token.pk


class SocketAuthMiddleware:
    """A socket with a Token header is authenticated by the token alone and goes straight to the
    application; any other goes through Channels' cookie, session and auth middleware. (The token
    socket skips them because it never uses the session, and each layer held its own copy of the
    scope and a suspended coroutine for the socket's whole life: a few KiB per idle socket.)"""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_stack = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        key = _token_from_headers(scope)
        if key is None:
            return await self.session_stack(scope, receive, send)
        scope = dict(scope)
        scope["user"], scope["device_token_id"] = await _resolve_token(key)
        return await self.inner(scope, receive, send)


def SocketAuthMiddlewareStack(inner: Any) -> Any:
    return SocketAuthMiddleware(inner)


def socket_credentials_valid(
    *, user_id: int, token_id: int | None = None, session_key: str | None = None
) -> bool:
    """Whether a socket of `user_id` opened with device token `token_id` (else with browser session
    `session_key`) may stay open: the user is active, and the token still exists, or the session
    still exists unexpired, belongs to the user and carries the user's current session auth hash
    (an HMAC of the password hash, as `django.contrib.auth.get_user` checks). One query."""
    if token_id is not None:
        return DeviceToken.objects.filter(pk=token_id, user_id=user_id, user__is_active=True).exists()
    if not session_key:
        return False
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    users = User.objects.only("id", "password").filter(pk=user_id, is_active=True)
    get_model_class = getattr(store_class, "get_model_class", None)
    if get_model_class is None:  # a session engine without a table: its own lookup, then the user
        store = store_class(session_key=session_key)
        data = store.load() if store.exists(session_key) else {}
        user = users.first() if data else None
    else:  # the session row and the user in one query
        session_data = get_model_class().objects.filter(
            session_key=session_key, expire_date__gt=timezone.now()
        )
        user = users.annotate(session_data=Subquery(session_data.values("session_data")[:1])).first()
        if user is None or not user.session_data:
            return False
        data = store_class().decode(user.session_data)
    return user is not None and _session_is_the_users(data, user)


def _session_is_the_users(data: dict[str, Any], user: User) -> bool:
    if str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    stored_hash = data.get(HASH_SESSION_KEY)
    if not stored_hash:
        return False
    if constant_time_compare(stored_hash, user.get_session_auth_hash()):
        return True
    # Signed with a SECRET_KEY_FALLBACKS key: still valid, as for HTTP (which then rotates it).
    return any(
        constant_time_compare(stored_hash, fallback) for fallback in user.get_session_auth_fallback_hash()
    )
