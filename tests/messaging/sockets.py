"""Helpers for socket tests on the real router (`config.asgi.application`)."""

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import User
from config.asgi import application
from tests.conftest import token_for

# Channels' default of 1 s for a connect or a disconnect to finish is short on a loaded machine
# (both go to Redis and to the database): a timeout there fails a test that proves nothing about time.
HANDSHAKE_TIMEOUT = 10
# How long a frame the test expects may take. Only a failing test waits this long; CI's busy
# machine once took over 3 s to answer a ping.
FRAME_TIMEOUT = 10


class Socket:
    """A WebsocketCommunicator with a Token header, and frame helpers."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.skipped: list[dict] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_json_to(frame)

    async def receive(self, timeout: float = FRAME_TIMEOUT) -> dict[str, Any]:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def expect(
        self, type_: str, timeout: float = FRAME_TIMEOUT, skip: tuple[str, ...] = ("presence",)
    ) -> dict:
        """The next frame, which must be of `type_` (frames of the `skip` types are set aside)."""
        while True:
            frame = await self.receive(timeout)
            if frame["type"] == type_ or frame["type"] not in skip:
                assert frame["type"] == type_, frame
                return frame
            self.skipped.append(frame)

    async def nothing(self, timeout: float = 0.3, skip: tuple[str, ...] = ("presence",)) -> None:
        """No frame (of a type not in `skip`) within `timeout`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while (left := end - loop.time()) > 0:
            if await self.communicator.receive_nothing(timeout=left):
                return
            frame = await self.receive()
            assert frame["type"] in skip, f"unexpected frame {frame}"
            self.skipped.append(frame)

    async def closed_with(self, code: int, timeout: float = FRAME_TIMEOUT) -> None:
        output = await self.communicator.receive_output(timeout)
        assert output == {"type": "websocket.close", "code": code}, output

    async def close(self) -> None:
        """Disconnect, unless the application already ended (closed the socket, failed, or was
        cancelled by a receive that timed out: its error is the test's, not the teardown's)."""
        if self.communicator.future.done():
            return
        await self.communicator.disconnect(timeout=HANDSHAKE_TIMEOUT)


async def open_socket(user: User | None, *, token: str | None = None, headers: list | None = None) -> Socket:
    if user is not None and token is None:
        token = await database_sync_to_async(token_for)(user)
    headers = list(headers or [])
    if token is not None:
        headers.append((b"authorization", f"Token {token}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await communicator.connect(timeout=HANDSHAKE_TIMEOUT)
    assert connected
    return Socket(communicator)
