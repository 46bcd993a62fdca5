"""The chat benchmark's two baselines, speaking Huddle's frames to the same client driver:

- `relay`: a bare `websockets` server in one process. It stores nothing: a `message.send` gets a
  `message.ack` and every other member's socket a `message.new`. The ceiling of this machine.
- `channels`: a minimal Channels chat, what a typical Django chat does: an
  AsyncJsonWebsocketConsumer under daphne, the channels-redis default layer (RedisChannelLayer),
  one group per conversation that each member's socket joins, `group_send` per message, no
  database and no authentication beyond the token header naming the person.

Both identify a socket's person by `Authorization: Token <index>` and take the conversations'
members from a JSON file ({conversation id: [person index, ...]}).

    python bench/chat_baselines.py relay --port 8001 --members members.json
    REDIS_URL=redis://... python bench/chat_baselines.py channels --port 8002 --members members.json
"""

import argparse
import asyncio
import itertools
import json
import os
import sys
from pathlib import Path

# --- The bare relay --------------------------------------------------------------------------------


async def relay(port: int, members: dict[int, list[int]]) -> None:
    import websockets

    sockets: dict[int, set] = {}
    ids = itertools.count(1)

    async def handle(ws) -> None:
        person = int(ws.request.headers["Authorization"].removeprefix("Token "))
        sockets.setdefault(person, set()).add(ws)
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") != "message.send":
                    continue
                conversation = frame["conversation"]
                message = {
                    "id": next(ids),
                    "conversation": conversation,
                    "client_id": frame["client_id"],
                    "body": frame["body"],
                    "sender": {"number": person},
                }
                await ws.send(
                    json.dumps({"type": "message.ack", "client_id": frame["client_id"], "message": message})
                )
                new = json.dumps({"type": "message.new", "message": message})
                for member in members.get(conversation, ()):
                    for other in sockets.get(member, ()):
                        if other is not ws:
                            await other.send(new)
        except websockets.ConnectionClosed:
            pass
        finally:
            sockets[person].discard(ws)

    async with websockets.serve(handle, "127.0.0.1", port, max_queue=None):
        await asyncio.Future()


# --- The minimal Channels chat ---------------------------------------------------------------------

MEMBERS: dict[int, list[int]] = {}


def _channels_settings() -> None:
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # The pool and timeout PITFALLS.md asks for (the defaults lose sockets).
                    "hosts": [
                        {
                            "address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                            "max_connections": 1000,
                            "socket_timeout": 30,
                        }
                    ],
                    "prefix": os.environ.get("REDIS_KEY_PREFIX", "bench") + ":minimal",
                },
            }
        },
    )
    import django

    django.setup()


def channels_application():
    _channels_settings()
    from channels.generic.websocket import AsyncJsonWebsocketConsumer
    from channels.routing import URLRouter
    from django.urls import path

    ids = itertools.count(1)

    class MinimalChat(AsyncJsonWebsocketConsumer):
        async def connect(self) -> None:
            headers = dict(self.scope["headers"])
            self.person = int(headers[b"authorization"].decode().removeprefix("Token "))
            self.rooms = [f"conv.{c}" for c, people in MEMBERS.items() if self.person in people]
            for room in self.rooms:
                await self.channel_layer.group_add(room, self.channel_name)
            await self.accept()

        async def disconnect(self, code: int) -> None:
            for room in getattr(self, "rooms", []):
                await self.channel_layer.group_discard(room, self.channel_name)

        async def receive_json(self, content: dict, **kwargs: object) -> None:
            if content.get("type") != "message.send":
                return
            message = {
                "id": next(ids),
                "conversation": content["conversation"],
                "client_id": content["client_id"],
                "body": content["body"],
                "sender": {"number": self.person},
            }
            await self.send_json(
                {"type": "message.ack", "client_id": content["client_id"], "message": message}
            )
            await self.channel_layer.group_send(
                f"conv.{content['conversation']}", {"type": "chat.message", "message": message}
            )

        async def chat_message(self, event: dict) -> None:
            # Every member's socket gets it, the sender's too; the driver ignores an echo.
            await self.send_json({"type": "message.new", "message": event["message"]})

    return URLRouter([path("ws/", MinimalChat.as_asgi())])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["relay", "channels"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--members", type=Path, required=True)
    args = parser.parse_args()
    members = {int(c): people for c, people in json.loads(args.members.read_text()).items()}
    if args.kind == "relay":
        asyncio.run(relay(args.port, members))
        return
    MEMBERS.update(members)
    application = channels_application()
    from daphne.server import Server  # installs Twisted's asyncio reactor

    Server(application=application, endpoints=[f"tcp:port={args.port}:interface=127.0.0.1"]).run()


if __name__ == "__main__":
    sys.exit(main())
