"""A socket lives only as long as its credentials (CONTRACT section 7). Besides the close messages
sent when credentials end (logout, password change: messaging.realtime), every `ping` re-checks
them, which also catches changes made behind the services' back (a raw delete, a bulk update):
a deactivated user, a deleted device token, a browser session that is gone or whose password hash
no longer matches closes with 4401 instead of `pong`."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from accounts.models import DeviceToken, User
from accounts.presence import online_user_ids
from accounts.socket_auth import socket_credentials_valid
from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def ping_closes_4401(socket) -> None:
    await socket.send({"type": "ping"})
    await socket.closed_with(4401)


async def pong(socket) -> None:
    await socket.send({"type": "ping"})
    assert await socket.expect("pong") == {"type": "pong"}


def raw_delete_token(key_owner: User) -> None:
    """Delete the user's tokens without any signal (as a bulk clean-up or a DBA would)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DeviceToken._meta.db_table} WHERE user_id = %s", [key_owner.pk])


def browser_session(user: User) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.cookies["sessionid"].value


async def session_socket(connect, user: User) -> tuple[object, str]:
    session_key = await db(browser_session)(user)
    socket = await connect(None, headers=[(b"cookie", f"sessionid={session_key}".encode())])
    return socket, session_key


async def test_a_deleted_token_closes_the_socket_on_ping(connect, alice):
    socket = await connect(alice)
    await pong(socket)
    await db(raw_delete_token)(alice)
    await ping_closes_4401(socket)
    await socket.close()
    assert await db(online_user_ids)([alice.pk]) == set()


async def test_only_the_deleted_tokens_socket_closes(connect, alice):
    phone_key, laptop_key = await db(token_for)(alice), await db(token_for)(alice)
    phone, laptop = await connect(None, token=phone_key), await connect(None, token=laptop_key)
    phone_token = await db(DeviceToken.objects.order_by("pk").first)()
    await db(DeviceToken.objects.filter(pk=phone_token.pk)._raw_delete)("default")
    await ping_closes_4401(phone)
    await pong(laptop)


async def test_a_deactivated_user_is_closed_on_ping(connect, alice):
    socket = await connect(alice)
    await db(User.objects.filter(pk=alice.pk).update)(is_active=False)
    await ping_closes_4401(socket)


async def test_a_deactivated_session_user_is_closed_on_ping(connect, alice):
    socket, _ = await session_socket(connect, alice)
    await pong(socket)
    await db(User.objects.filter(pk=alice.pk).update)(is_active=False)
    await ping_closes_4401(socket)


async def test_a_session_socket_closes_when_the_password_hash_changes(connect, alice):
    socket, _ = await session_socket(connect, alice)
    token_socket = await connect(alice)
    await pong(socket)
    await db(User.objects.filter(pk=alice.pk).update)(password=make_password("something else"))
    await ping_closes_4401(socket)
    await pong(token_socket)  # tokens do not depend on the password hash (their closing is the service's)


async def test_a_session_socket_closes_when_its_session_is_gone(connect, alice):
    socket, session_key = await session_socket(connect, alice)
    await db(Session.objects.filter(session_key=session_key).delete)()
    await ping_closes_4401(socket)


async def test_a_session_socket_closes_when_its_session_expired(connect, alice):
    from django.utils import timezone

    socket, session_key = await session_socket(connect, alice)
    await db(Session.objects.filter(session_key=session_key).update)(expire_date=timezone.now())
    await ping_closes_4401(socket)


async def test_the_session_that_changed_the_password_keeps_its_socket(connect, alice):
    """The session used for a password change stays valid (its stored hash is updated, as
    `update_session_auth_hash` does): the check reads the session's current data, not the
    socket's copy from the handshake."""
    socket, session_key = await session_socket(connect, alice)

    def change_password_keeping_this_session() -> None:
        # A queryset update: no signal closes sockets, only the ping's check is tested here.
        User.objects.filter(pk=alice.pk).update(password=make_password("a new one"))
        user = User.objects.get(pk=alice.pk)
        store = SessionStore(session_key=session_key)
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()

    await db(change_password_keeping_this_session)()
    await pong(socket)


async def test_a_session_now_of_another_user_closes(connect, alice, bob):
    socket, session_key = await session_socket(connect, alice)

    def hand_the_session_to_bob() -> None:
        store = SessionStore(session_key=session_key)
        store["_auth_user_id"] = str(bob.pk)
        store[HASH_SESSION_KEY] = bob.get_session_auth_hash()
        store.save()

    await db(hand_the_session_to_bob)()
    await ping_closes_4401(socket)


def test_the_check_is_one_query(alice, django_assert_num_queries):
    token_key = token_for(alice)
    token = DeviceToken.objects.get(user=alice)
    assert token_key
    with django_assert_num_queries(1):
        assert socket_credentials_valid(user_id=alice.pk, token_id=token.pk)
    session_key = browser_session(alice)
    with django_assert_num_queries(1):
        assert socket_credentials_valid(user_id=alice.pk, session_key=session_key)
    with django_assert_num_queries(0):
        assert not socket_credentials_valid(user_id=alice.pk)
