"""A socket lives only as long as the credentials it was opened with (CONTRACT section 7): a
password change (through `me/password` or anywhere else), a deleted device token (by any means) and
a deactivated user close it with 4401; sockets opened with credentials that stay valid stay open."""

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import HASH_SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.authentication import token_digest
from accounts.models import DeviceToken, User
from messaging import realtime
from tests.conftest import token_for
from tests.factories import PASSWORD, UserFactory
from tests.messaging.sockets import Socket, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "Violet-Harbour-5930"


def _token(key: str) -> DeviceToken:
    return DeviceToken.objects.get(digest=token_digest(key))


def _change_with_token(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    return client.post("/api/v1/me/password", body, format="json").status_code


def _browser(user: User) -> tuple[Client, list[tuple[bytes, bytes]]]:
    browser = Client()
    browser.force_login(user)
    return browser, _cookie_header(browser)


def _cookie_header(browser: Client) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())]


async def _tokens(user: User, count: int) -> list[str]:
    return [await database_sync_to_async(token_for)(user) for _ in range(count)]


async def _still_open(socket: Socket) -> None:
    await socket.send({"type": "ping"})
    assert (await socket.expect("pong"))["type"] == "pong"


async def _close_all(*sockets: Socket) -> None:
    for socket in sockets:
        await socket.close()


async def test_password_change_with_a_token_closes_every_other_socket(alice, bob):
    # given: Alice on two devices and in a browser, and Bob
    used, other = await _tokens(alice, 2)
    _, cookie = await database_sync_to_async(_browser)(alice)
    used_socket = await open_socket(None, token=used)
    other_socket = await open_socket(None, token=other)
    browser_socket = await open_socket(None, headers=cookie)
    bob_socket = await open_socket(bob)
    try:
        # when Alice changes her password on the first device
        assert await database_sync_to_async(_change_with_token)(used) == 204
        # then the other device's and the browser's sockets close with 4401
        await other_socket.closed_with(4401)
        await browser_socket.closed_with(4401)
        # and the device used, and Bob, are still connected
        await _still_open(used_socket)
        await _still_open(bob_socket)
    finally:
        await _close_all(used_socket, other_socket, browser_socket, bob_socket)


async def test_password_change_in_a_browser_keeps_that_sessions_socket(alice):
    browser, cookie = await database_sync_to_async(_browser)(alice)
    _, other_cookie = await database_sync_to_async(_browser)(alice)
    here_socket = await open_socket(None, headers=cookie)
    elsewhere_socket = await open_socket(None, headers=other_cookie)
    token_socket = await open_socket(alice)
    try:
        body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        response = await database_sync_to_async(browser.post)(
            "/api/v1/me/password", body, content_type="application/json"
        )
        assert response.status_code == 204
        await elsewhere_socket.closed_with(4401)
        await token_socket.closed_with(4401)
        # The change closes nothing of this session. Its key is rotated (Django's
        # update_session_auth_hash, so a stolen copy of the old cookie stops working) and the
        # socket is told the new key: the credential re-check on ping still finds its session.
        await here_socket.nothing(timeout=0.5)
        await _still_open(here_socket)
        await here_socket.nothing(timeout=0.3)
        # and the browser can open a new socket with its (renewed) session
        new_socket = await open_socket(None, headers=_cookie_header(browser))
        await _still_open(new_socket)
        await new_socket.close()
    finally:
        await _close_all(here_socket, elsewhere_socket, token_socket)


async def test_password_set_anywhere_else_closes_every_socket_and_deletes_the_tokens(alice):
    # given
    token_socket = await open_socket(alice)
    _, cookie = await database_sync_to_async(_browser)(alice)
    browser_socket = await open_socket(None, headers=cookie)
    try:
        # when an operator sets a new password (as the admin does: set_password, then save)
        def set_password() -> None:
            user = User.objects.get(pk=alice.pk)
            user.set_password(NEW_PASSWORD)
            user.save()

        await database_sync_to_async(set_password)()
        # then
        await token_socket.closed_with(4401)
        await browser_socket.closed_with(4401)
        assert not await database_sync_to_async(DeviceToken.objects.filter(user=alice).exists)()
    finally:
        await _close_all(token_socket, browser_socket)


async def test_password_changed_in_the_admin_closes_every_socket(alice):
    operator = await database_sync_to_async(UserFactory)(is_staff=True, is_superuser=True)
    admin, _ = await database_sync_to_async(_browser)(operator)
    socket = await open_socket(alice)
    try:
        response = await database_sync_to_async(admin.post)(
            f"/admin/accounts/user/{alice.pk}/password/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        await socket.closed_with(4401)
        assert not await database_sync_to_async(DeviceToken.objects.filter(user=alice).exists)()
    finally:
        await socket.close()


async def test_saving_a_user_without_a_new_password_closes_nothing(alice):
    socket = await open_socket(alice)
    try:

        def touch() -> None:
            user = User.objects.get(pk=alice.pk)
            user.signature = "still here"
            user.save()
            services.profile_update(user=user, display_name="Alice L.")

        await database_sync_to_async(touch)()
        await socket.nothing()
        await _still_open(socket)
    finally:
        await socket.close()


async def test_deactivating_the_user_closes_every_socket(alice, bob):
    sockets = [await open_socket(alice), await open_socket(alice)]
    bob_socket = await open_socket(bob)
    try:

        def deactivate() -> None:
            user = User.objects.get(pk=alice.pk)
            user.is_active = False
            user.save()

        await database_sync_to_async(deactivate)()
        for socket in sockets:
            await socket.closed_with(4401)
        await _still_open(bob_socket)
    finally:
        await _close_all(*sockets, bob_socket)


async def test_deactivating_in_the_admin_closes_every_socket(alice):
    operator = await database_sync_to_async(UserFactory)(is_staff=True, is_superuser=True)
    admin, _ = await database_sync_to_async(_browser)(operator)
    socket = await open_socket(alice)
    try:

        def deactivate() -> Any:
            # the change form as the operator submits it with "Active" unticked
            data = {"username": "alice", "display_name": "Alice", "presence": "online", "read_receipts": "on"}
            return admin.post(f"/admin/accounts/user/{alice.pk}/change/", data)

        response = await database_sync_to_async(deactivate)()
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert not (await database_sync_to_async(User.objects.get)(pk=alice.pk)).is_active
        await socket.closed_with(4401)
    finally:
        await socket.close()


async def test_deleting_a_token_with_a_queryset_closes_its_sockets_only(alice):
    doomed, kept = await _tokens(alice, 2)
    doomed_socket = await open_socket(None, token=doomed)
    kept_socket = await open_socket(None, token=kept)
    try:
        await database_sync_to_async(
            lambda: DeviceToken.objects.filter(digest=token_digest(doomed)).delete()
        )()
        await doomed_socket.closed_with(4401)
        await _still_open(kept_socket)
    finally:
        await _close_all(doomed_socket, kept_socket)


async def test_deleting_a_token_in_the_admin_closes_its_sockets(alice):
    operator = await database_sync_to_async(UserFactory)(is_staff=True, is_superuser=True)
    admin, _ = await database_sync_to_async(_browser)(operator)
    doomed, kept = await _tokens(alice, 2)
    doomed_socket = await open_socket(None, token=doomed)
    kept_socket = await open_socket(None, token=kept)
    try:
        pk = (await database_sync_to_async(_token)(doomed)).pk
        response = await database_sync_to_async(admin.post)(
            f"/admin/accounts/devicetoken/{pk}/delete/", {"post": "yes"}
        )
        assert response.status_code == 302
        await doomed_socket.closed_with(4401)
        await _still_open(kept_socket)
    finally:
        await _close_all(doomed_socket, kept_socket)


async def test_bulk_deleting_tokens_in_the_admin_closes_their_sockets(alice, bob):
    operator = await database_sync_to_async(UserFactory)(is_staff=True, is_superuser=True)
    admin, _ = await database_sync_to_async(_browser)(operator)
    alice_key, bob_key, kept_key = (
        await database_sync_to_async(token_for)(alice),
        await database_sync_to_async(token_for)(bob),
        await database_sync_to_async(token_for)(bob),
    )
    alice_socket = await open_socket(None, token=alice_key)
    bob_socket = await open_socket(None, token=bob_key)
    kept_socket = await open_socket(None, token=kept_key)
    try:
        pks = [(await database_sync_to_async(_token)(key)).pk for key in (alice_key, bob_key)]
        response = await database_sync_to_async(admin.post)(
            "/admin/accounts/devicetoken/",
            {"action": "delete_selected", "_selected_action": pks, "post": "yes"},
        )
        assert response.status_code == 302
        await alice_socket.closed_with(4401)
        await bob_socket.closed_with(4401)
        await _still_open(kept_socket)
    finally:
        await _close_all(alice_socket, bob_socket, kept_socket)


def _closes_published(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    published: list[dict] = []
    original = realtime._publish

    def spy(user_ids: list[int], message: dict[str, Any]) -> None:
        if message["type"] == realtime.CLOSE_MESSAGE_TYPE:
            published.append(message)
        original(user_ids, message)

    monkeypatch.setattr(realtime, "_publish", spy)
    return published


def test_logout_closes_the_tokens_sockets_once(alice, monkeypatch):
    published = _closes_published(monkeypatch)
    token = _token(token_for(alice))

    services.device_token_delete(token=token)

    assert published == [{"type": realtime.CLOSE_MESSAGE_TYPE, "token_id": token.pk, "session_key": None}]


def test_password_change_closes_the_others_in_one_message(alice, monkeypatch):
    published = _closes_published(monkeypatch)
    used = _token(token_for(alice))
    token_for(alice)
    token_for(alice)

    services.password_change(
        user=alice, old_password=PASSWORD, new_password=NEW_PASSWORD, address="10.0.0.1", token_id=used.pk
    )

    assert published == [
        {"type": realtime.CLOSE_MESSAGE_TYPE, "all": True, "keep_token_id": used.pk, "keep_session_key": None}
    ]
    assert list(DeviceToken.objects.filter(user=alice)) == [used]


def test_a_session_logged_in_before_the_change_is_not_kept(alice):
    browser, _ = _browser(alice)
    old_hash = browser.session[HASH_SESSION_KEY]

    alice.set_password(NEW_PASSWORD)
    alice.save()

    assert browser.get("/api/v1/me").status_code in (401, 403)
    assert old_hash != alice.get_session_auth_hash()
