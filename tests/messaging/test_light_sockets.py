"""The lighter per-socket objects: core.light_queue (what the channel layer and uvicorn's protocol
use instead of asyncio.Queue / asyncio.Event), core.channel_layer (channels-redis' pub/sub layer
with that queue per channel: every message reaches the channel and the group, in order) and
core.websocket_protocol (uvicorn's sans-I/O protocol dropping the handshake's headers once
accepted, frames and flow still uvicorn's)."""

import asyncio
import json

import pytest
import uvicorn
import websockets
from channels.layers import get_channel_layer

from core.channel_layer import PubSubChannelLayer
from core.light_queue import LightEvent, LightQueue
from tests.messaging.processes import free_port

# --- LightQueue / LightEvent -------------------------------------------------------------------


async def test_queue_is_fifo_and_wakes_a_waiting_getter():
    queue = LightQueue()
    assert queue.empty() and queue.qsize() == 0
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    for item in range(3):
        queue.put_nowait(item)
    assert await getter == 0
    assert [await queue.get(), queue.get_nowait()] == [1, 2]
    assert queue.empty()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_queue_serves_getters_in_order_and_a_cancelled_getter_loses_nothing():
    queue = LightQueue()
    first, second = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("a")
    first.cancel()  # woken, then cancelled before it ran: "a" goes to the next getter
    await asyncio.sleep(0)
    assert first.cancelled()
    assert await asyncio.wait_for(second, 1) == "a"
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    waiting.cancel()  # cancelled while waiting: nothing is taken
    await asyncio.sleep(0)
    queue.put_nowait("b")
    assert await asyncio.wait_for(queue.get(), 1) == "b"


async def test_event_set_clear_wait():
    event = LightEvent(True)
    assert await event.wait()
    event.clear()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    event.set()
    assert await asyncio.gather(*waiters) == [True, True]
    assert event.is_set()


# --- The channel layer ---------------------------------------------------------------------------


@pytest.mark.redis
async def test_the_configured_layer_delivers_to_a_channel_and_a_group_in_order():
    layer = get_channel_layer()
    assert isinstance(layer, PubSubChannelLayer)
    one, two = await layer.new_channel(), await layer.new_channel()
    group = "light-layer-test"
    await layer.group_add(group, one)
    await layer.group_add(group, two)
    try:
        for n in range(50):
            await layer.group_send(group, {"type": "test.event", "n": n})
        await layer.send(one, {"type": "test.direct", "n": 50})
        for channel, last in ((one, 50), (two, 49)):
            got = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(last + 1)]
            assert got == list(range(last + 1))
    finally:
        await layer.group_discard(group, one)
        await layer.group_discard(group, two)
        await layer.flush()


@pytest.mark.redis
async def test_a_cancelled_receive_leaves_the_channel():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.05)
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert channel not in layer._get_layer().channels
    await layer.flush()


# --- uvicorn's protocol, lighter -----------------------------------------------------------------


async def test_the_lean_protocol_serves_a_socket_and_drops_the_handshake_headers():
    seen: dict = {}

    async def app(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        seen["header"] = dict(scope["headers"]).get(b"x-probe")
        await send({"type": "websocket.accept"})
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": event["text"].upper()})

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws="core.websocket_protocol:LeanWebSocketProtocol",
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        async with websockets.connect(f"ws://127.0.0.1:{port}/", additional_headers={"X-Probe": "yes"}) as ws:
            big = json.dumps({"text": "x" * 200_000})  # more than one transport write buffer
            for text in ("hello", big, "again"):
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), 5) == text.upper()
            (protocol,) = server.server_state.connections
            assert protocol.request is None and protocol.response is None
            assert isinstance(protocol.queue, LightQueue)
        assert seen["header"] == b"yes"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
