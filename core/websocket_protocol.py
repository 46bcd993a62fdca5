"""uvicorn's `websockets-sansio` WebSocket protocol, keeping less per open socket (bin/serve).

What the pinned uvicorn 0.55.0 keeps for a connection's whole life that an idle socket never uses
again after its handshake (tracemalloc, per socket):
- the handshake's request and response objects with their headers (about 4 KiB): once the
  accept has been sent they are only read again by nothing; the request also stays referenced
  by websockets' parser, so its headers are emptied in place;
- an `asyncio.Queue` for the events waiting for the application (about 3 KiB) and an
  `asyncio.Event` for write flow control (about 0.8 KiB): replaced by core.light_queue's
  equivalents, which allocate only while something waits.
Behaviour on the wire and towards the application is uvicorn's own (tests/core/test_serve.py,
tests/messaging/test_light_sockets.py).
"""

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from core.light_queue import LightEvent, LightQueue


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LightQueue()  # type: ignore[assignment]
        self.writable = LightEvent(True)  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            request, response = getattr(self, "request", None), getattr(self, "response", None)
            if request is not None:
                request.headers.clear()
                self.request = None  # type: ignore[assignment]
            if response is not None:
                response.headers.clear()
                self.response = None  # type: ignore[assignment]
