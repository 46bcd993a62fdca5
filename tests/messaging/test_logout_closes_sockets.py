"""Logging out closes the sockets opened with those credentials (a socket's credentials are only
checked at the handshake: PITFALLS, channels#1324); other devices' sockets stay open."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import DeviceToken
from tests.conftest import token_for
from tests.messaging.sockets import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


def _api_logout(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.post("/api/v1/auth/logout").status_code


async def test_api_logout_closes_that_devices_sockets_only(alice):
    # given: two devices of Alice, each with a socket
    phone, laptop = (
        await database_sync_to_async(token_for)(alice),
        await database_sync_to_async(token_for)(alice),
    )
    phone_socket = await open_socket(None, token=phone)
    laptop_socket = await open_socket(None, token=laptop)
    try:
        # when the phone logs out
        assert await database_sync_to_async(_api_logout)(phone) == 204
        # then the phone's socket is closed with 4401, and the laptop's still answers
        await phone_socket.closed_with(4401)
        await laptop_socket.send({"type": "ping"})
        assert (await laptop_socket.expect("pong"))["type"] == "pong"
        assert await database_sync_to_async(DeviceToken.objects.filter(user=alice).count)() == 1
    finally:
        await laptop_socket.close()
        await phone_socket.close()


def _browser_session(user) -> tuple[Client, str]:
    browser = Client()
    browser.force_login(user)
    return browser, browser.cookies["sessionid"].value


async def test_web_logout_closes_the_sessions_sockets(alice):
    browser, session_key = await database_sync_to_async(_browser_session)(alice)
    cookie = [(b"cookie", f"sessionid={session_key}".encode())]
    session_socket = await open_socket(None, headers=cookie)
    token_socket = await open_socket(alice)
    try:
        response = await database_sync_to_async(browser.post)("/logout/")
        assert response.status_code == 302
        await session_socket.closed_with(4401)
        await token_socket.send({"type": "ping"})
        assert (await token_socket.expect("pong"))["type"] == "pong"
    finally:
        await token_socket.close()
        await session_socket.close()
