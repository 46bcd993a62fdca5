"""API authentication: per-device tokens first (so a missing login is 401), then the session.

A request with a Token header is authenticated by the token alone: DRF stops at the first class
that authenticates, so the session's CSRF check never runs for it (CONTRACT section 2).
"""

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request

from accounts.models import DeviceToken
from core.exceptions import CsrfFailed


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_token_key() -> str:
    return secrets.token_hex(20)


def user_for_token(key: str) -> tuple[AbstractBaseUser, DeviceToken] | None:
    """The active user and device token behind `key`, or None."""
    token = DeviceToken.objects.select_related("user").filter(digest=token_digest(key)).first()
    if token is None or not token.user.is_active:
        return None
    return token.user, token


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
