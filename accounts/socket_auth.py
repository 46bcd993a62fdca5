"""WebSocket handshake authentication: `Authorization: Token <key>` or the session cookie.

A socket that carries a Token header is authenticated by that token alone (an invalid token is
anonymous even with a valid session cookie), as on the HTTP API. The consumer closes anonymous
sockets with 4401.
"""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from accounts.authentication import user_for_token


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


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        key = _token_from_headers(scope)
        if key is not None:
            scope = dict(scope)
            scope["user"], scope["device_token_id"] = await _resolve_token(key)
        return await super().__call__(scope, receive, send)


def SocketAuthMiddlewareStack(inner: Any) -> Any:
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
