"""API authentication: per-device tokens first (so a missing login is 401), then the session.

A request with a Token header is authenticated by the token alone: DRF stops at the first class
that authenticates, so the session's CSRF check never runs for it (CONTRACT section 2).
"""

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request

from accounts.models import DeviceToken, User
from core.exceptions import CsrfFailed


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_token_key() -> str:
    return secrets.token_hex(20)


# One raw query per request: the same rows `DeviceToken.objects.select_related("user")` reads, but
# the ORM compiled that query on every API request (a sixth of a coin transfer's CPU,
# docs/PERFORMANCE.md). The token comes back with its id, digest and user; its other fields load if
# read (DeviceToken.from_db defers them).
_USER_BY_DIGEST_SQL = (
    "SELECT u.*, t.id AS huddle_token_id FROM accounts_user u "
    "JOIN accounts_devicetoken t ON t.user_id = u.id WHERE t.digest = %s"
)


def user_for_token(key: str) -> tuple[AbstractBaseUser, DeviceToken] | None:
    """The active user and device token behind `key`, or None."""
    digest = token_digest(key)
    user = next(iter(User.objects.raw(_USER_BY_DIGEST_SQL, [digest])), None)
    if user is None or not user.is_active:
        return None
    token = DeviceToken.from_db(
        DEFAULT_DB_ALIAS, ["id", "digest", "user_id"], [user.huddle_token_id, digest, user.pk]
    )
    DeviceToken.user.field.set_cached_value(token, user)
    return user, token


class DeviceTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, DeviceToken]:
        found = user_for_token(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return found


class CsrfSessionAuthentication(SessionAuthentication):
    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as exc:
            raise CsrfFailed(str(exc.detail)) from exc
