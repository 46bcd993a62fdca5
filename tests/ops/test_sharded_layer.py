"""Past one machine, checked on one: the channel layer sharded over two Redis hosts
(CHANNEL_LAYER_REDIS_URLS) and four server processes carry a group chat and direct chats — every
message reaches every other member's socket exactly once, whichever process each socket is on,
and both shards carry part of the traffic (docs/SCALING.md)."""

import asyncio
import json
import socket as socketlib

import pytest
import websockets

from messaging.conversations import conversation_direct_open, conversation_group_create
from tests.conftest import token_for
from tests.factories import UserFactory, make_friends
from tests.messaging.processes import RedisServer, expect, free_port, start_daphne, stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PEOPLE = 8
PROCESSES = 4


def redis_command(port: int, *words: str) -> bytes:
    """One command in Redis's inline protocol, the raw reply."""
    with socketlib.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall((" ".join(words) + "\r\n").encode())
        return conn.recv(65536)


def subscribed_channels(port: int) -> int:
    reply = redis_command(port, "PUBSUB", "CHANNELS", "*")
    return int(reply.split(b"\r\n", 1)[0].lstrip(b"*"))


def test_two_redis_shards_and_four_processes_carry_a_chat(tmp_path):
    shards = [RedisServer(tmp_path / "a"), RedisServer(tmp_path / "b")]
    for shard in shards:
        shard.dir.mkdir()
        shard.start()
    people = [UserFactory() for _ in range(PEOPLE)]
    owner, others = people[0], people[1:]
    for person in others:
        make_friends(owner, person)
    group = conversation_group_create(user=owner, title="Shards", member_numbers=[p.number for p in others])
    direct, _ = conversation_direct_open(user=owner, number=people[1].number)
    tokens = [token_for(p) for p in people]
    env = {
        "REDIS_URL": shards[0].url,
        "CHANNEL_LAYER_REDIS_URLS": f"{shards[0].url},{shards[1].url}",
    }
    ports = [free_port() for _ in range(PROCESSES)]
    servers = []
    try:
        for port in ports:
            servers.append(start_daphne(port, **env))

        async def chat() -> None:
            sockets = [
                await websockets.connect(
                    f"ws://127.0.0.1:{ports[i % PROCESSES]}/ws/",
                    additional_headers={"Authorization": f"Token {tokens[i]}"},
                )
                for i in range(PEOPLE)
            ]
            try:
                for ws in sockets:
                    await ws.send(json.dumps({"type": "ping"}))
                    await expect(ws, "pong", timeout=20)
                # Both shards hold subscriptions: the layer spread channels and groups over them.
                assert all(subscribed_channels(shard.port) > 0 for shard in shards)
                # Everyone says something in the group; everyone else receives each message once.
                for i, ws in enumerate(sockets):
                    frame = {"type": "message.send", "conversation": group.pk, "body": f"from {i}"}
                    await ws.send(json.dumps({**frame, "client_id": f"g{i}"}))

                async def collect(i: int, ws) -> tuple[int, list[str]]:
                    acks, bodies = 0, []
                    while acks < 1 or len(bodies) < PEOPLE - 1:
                        try:
                            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                        except TimeoutError:
                            raise AssertionError(f"socket {i} got {acks} ack(s) and only {bodies}") from None
                        if frame["type"] == "message.ack":
                            acks += 1
                        elif frame["type"] == "message.new":
                            bodies.append(frame["message"]["body"])
                    return acks, bodies

                results = await asyncio.gather(*(collect(i, ws) for i, ws in enumerate(sockets)))
                for i, (_, bodies) in enumerate(results):
                    assert sorted(bodies) == sorted(f"from {j}" for j in range(PEOPLE) if j != i)
                # A direct message between two processes.
                await sockets[0].send(
                    json.dumps(
                        {"type": "message.send", "conversation": direct.pk, "body": "psst", "client_id": "d"}
                    )
                )
                assert (await expect(sockets[1], "message.new", timeout=20))["message"]["body"] == "psst"
                # Nothing arrives twice.
                for ws in sockets:
                    with pytest.raises(TimeoutError):
                        await expect(ws, "message.new", timeout=0.5)
            finally:
                for ws in sockets:
                    await ws.close()

        asyncio.run(chat())
    finally:
        stop(*servers)
        for shard in shards:
            shard.stop()
