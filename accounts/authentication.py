"""API authentication: per-device tokens first (so a missing login is 401), then the session.

A request with a Token header is authenticated by the token alone: DRF stops at the first class
that authenticates, so the session's CSRF check never runs for it (CONTRACT section 2).
"""

import functools
import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, connection
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request

from accounts.models import DeviceToken, User
from core.exceptions import CsrfFailed


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_token_key() -> str:
    return secrets.token_hex(20)


# One query per request, read with a plain cursor: the same rows
# `DeviceToken.objects.select_related("user")` reads, but the ORM compiled that query on every API
# request (a sixth of a coin transfer's CPU, docs/PERFORMANCE.md), and a raw queryset still matched
# the result's columns to the model's fields on every call. The token comes back with its id,
# digest and user; its other fields load if read (DeviceToken.from_db defers them).
@functools.cache
def _user_by_digest_query() -> tuple[str, list[str]]:
    """The query (every column of the user, then the token's id) and the user's field names."""
    quote = connection.ops.quote_name
    fields = User._meta.concrete_fields
    columns = ", ".join(f"u.{quote(field.column)}" for field in fields)
    sql = (
        f"SELECT {columns}, t.{quote(DeviceToken._meta.pk.column)} "  # noqa: S608 - model names only
        f"FROM {quote(User._meta.db_table)} u JOIN {quote(DeviceToken._meta.db_table)} t "
        f"ON t.{quote(DeviceToken.user.field.column)} = u.{quote(User._meta.pk.column)} "
        f"WHERE t.{quote(DeviceToken._meta.get_field('digest').column)} = %s"
    )
    return sql, [field.attname for field in fields]


def user_for_token(key: str) -> tuple[AbstractBaseUser, DeviceToken] | None:
    """The active user and device token behind `key`, or None."""
    digest = token_digest(key)
    sql, field_names = _user_by_digest_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    user = User.from_db(DEFAULT_DB_ALIAS, field_names, row[:-1])
    if not user.is_active:
        return None
    token = DeviceToken.from_db(DEFAULT_DB_ALIAS, ["id", "digest", "user_id"], [row[-1], digest, user.pk])
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
