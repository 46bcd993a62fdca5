"""No frame a client can send closes the socket (CONTRACT section 7): whatever the JSON, however
nested or typed, the answer is an `error` frame, the socket keeps answering `ping`, and when it
closes, the user's presence count goes back to zero (a socket that died without `disconnect()`
would leave the user online to their friends for up to a day)."""

import json

import pytest
from channels.db import database_sync_to_async

from accounts.presence import online_user_ids
from messaging.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def assert_still_answers(socket) -> None:
    await socket.send({"type": "ping"})
    assert await socket.expect("pong") == {"type": "pong"}


async def assert_offline_after_close(socket, user) -> None:
    await socket.close()
    assert await db(online_user_ids)([user.pk]) == set()


@pytest.mark.parametrize(
    "text",
    [
        '{"type": []}',
        '{"type": {}}',
        '{"type": {"a": 1}}',
        '{"type": null}',
        '{"type": 1.5}',
        '{"type": true}',
        "[]",
        '"x"',
        "123",
        "null",
        " ",
        "[" * 60_000,
        '{"a":' * 12_000,
        '{"type": "ping", "x": ' + "[" * 60_000,
        "[" * 5_000 + "]" * 5_000,
        '{"type": "ping"',
    ],
    ids=lambda text: text[:24],
)
async def test_a_bad_frame_gets_bad_frame_and_the_socket_lives_on(connect, alice, text):
    socket = await connect(alice)
    await socket.communicator.send_to(text_data=text)
    assert (await socket.expect("error"))["code"] == "bad_frame"
    await assert_still_answers(socket)
    await assert_offline_after_close(socket, alice)


async def test_deep_nesting_past_64_kib_closes_1009_and_counts_the_socket_closed(connect, alice):
    socket = await connect(alice)
    await socket.communicator.send_to(text_data="[" * 100_000)
    await socket.closed_with(1009)
    await assert_offline_after_close(socket, alice)


@pytest.mark.parametrize(
    ("frame", "codes"),
    [
        ({"type": "sync", "after": 1e400}, ("invalid",)),
        ({"type": "sync", "after": -1e400}, ("invalid",)),
        ({"type": "sync", "after": 2**64}, ("invalid",)),
        ({"type": "sync", "after": 2**63}, ("invalid",)),
        ({"type": "sync", "after": "1"}, ("invalid",)),
        ({"type": "sync", "after": [1]}, ("invalid",)),
        ({"type": "sync"}, ("invalid",)),
        ({"type": "typing", "conversation": "1"}, ("invalid",)),
        ({"type": "typing", "conversation": 99999999999999999999999}, ("invalid", "not_found")),
        ({"type": "typing", "conversation": {}}, ("invalid",)),
        ({"type": "read", "conversation": 2**63, "up_to": 1}, ("invalid", "not_found")),
        ({"type": "read", "conversation": 1, "up_to": 2**70}, ("invalid", "not_found")),
        ({"type": "presence.set", "presence": []}, ("invalid",)),
        ({"type": "presence.set", "presence": {"a": 1}}, ("invalid",)),
        ({"type": "presence.set"}, ("invalid",)),
    ],
    ids=str,
)
async def test_odd_fields_get_an_error_and_the_socket_lives_on(connect, alice, frame, codes):
    socket = await connect(alice)
    await socket.send(frame)
    assert (await socket.expect("error"))["code"] in codes
    await assert_still_answers(socket)
    await assert_offline_after_close(socket, alice)


@pytest.mark.parametrize(
    ("extra", "codes"),
    [
        ({"conversation": 99999999999999999999999}, ("invalid", "not_found")),
        ({"conversation": 2**63}, ("invalid", "not_found")),
        ({"conversation": 2**63 - 1}, ("not_found",)),
        ({"conversation": -1}, ("invalid",)),
        ({"conversation": 1e400}, ("invalid",)),
        ({"body": []}, ("invalid",)),
        ({"body": {"x": 1}}, ("invalid",)),
        ({"body": 5}, ("invalid",)),
        ({"kind": []}, ("invalid",)),
        ({"kind": {}}, ("invalid",)),
        ({"data": "x"}, ("invalid",)),
        ({"data": [1]}, ("invalid",)),
        ({"data": {"a": 2**70}}, ("invalid",)),
        ({"data": json.loads("[" * 500 + "]" * 500)}, ("invalid",)),
        ({"kind": "sticker", "body": "", "data": {"sku": [], "sticker": {}}}, ("invalid", "not_owned")),
    ],
    ids=str,
)
async def test_odd_sends_get_an_error_with_the_client_id(connect, alice, direct, extra, codes):
    socket = await connect(alice)
    await socket.send(
        {"type": "message.send", "conversation": direct.pk, "body": "x", "client_id": "k1", **extra}
    )
    error = await socket.expect("error")
    assert error["code"] in codes and error["client_id"] == "k1"
    await assert_still_answers(socket)
    assert not await db(Message.objects.filter(conversation=direct).exists)()
    await assert_offline_after_close(socket, alice)


@pytest.mark.parametrize("client_id", [[], {}, 5, None])
async def test_a_send_with_an_odd_client_id_is_answered(connect, alice, direct, client_id):
    socket = await connect(alice)
    await socket.send(
        {"type": "message.send", "conversation": direct.pk, "body": "x", "client_id": client_id}
    )
    while (frame := await socket.receive())["type"] == "message.new":
        pass
    assert frame["type"] in {"error", "message.ack"}, frame
    await assert_still_answers(socket)
    await assert_offline_after_close(socket, alice)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message.send", "conversation": 1, "body": "a\x00b", "client_id": "n1"},
        {"type": "message.send", "conversation": 1, "body": "ok", "client_id": "n1", "data": {"k": "\x00"}},
        {"type": "message.send", "conversation": 1, "body": "ok", "client_id": "n1", "data": {"\x00": 1}},
        {"type": "message.send", "conversation": 1, "body": "ok", "client_id": "n1", "kind": "te\x00xt"},
        {"type": "presence.set", "presence": "online\x00"},
        {"type": "ping", "note": "\x00"},
        {"type": "sync", "after": 0, "deep": [[["\x00"]]]},
    ],
    ids=str,
)
async def test_nul_anywhere_is_invalid(connect, alice, direct, frame):
    socket = await connect(alice)
    if frame.get("conversation") == 1:
        frame = {**frame, "conversation": direct.pk}
    await socket.send(frame)
    error = await socket.expect("error")
    assert error["code"] == "invalid" and error["fields"]
    if "client_id" in frame:
        assert error["client_id"] == frame["client_id"]
    await assert_still_answers(socket)
    assert not await db(Message.objects.filter(conversation=direct).exists)()
    await assert_offline_after_close(socket, alice)


async def test_lone_surrogates_are_invalid(connect, alice, direct):
    socket = await connect(alice)
    text = f'{{"type":"message.send","conversation":{direct.pk},"body":"a\\ud800b","client_id":"s\\udfff"}}'
    await socket.communicator.send_to(text_data=text)
    error = await socket.expect("error")
    assert error["code"] == "invalid" and "client_id" not in error
    await assert_still_answers(socket)
    # a proper surrogate pair (how ASCII-only JSON writes an emoji) is fine
    await socket.communicator.send_to(
        text_data=f'{{"type":"message.send","conversation":{direct.pk},"body":"\\ud83d\\ude00","client_id":"e"}}'
    )
    assert (await socket.expect("message.ack"))["message"]["body"] == "😀"
    # the client_id is echoed when it is fine, never when it is not text
    await socket.communicator.send_to(
        text_data=f'{{"type":"message.send","conversation":{direct.pk},"body":"\\udfff","client_id":"ok"}}'
    )
    assert (await socket.expect("error"))["client_id"] == "ok"
    for client_id in ("\\ud800", "\\u0000\\ud800"):
        await socket.communicator.send_to(
            text_data=f'{{"type":"message.send","conversation":{direct.pk},"body":"\\udfff","client_id":"{client_id}"}}'
        )
        error = await socket.expect("error")
        assert error["code"] == "invalid" and "client_id" not in error
    await assert_offline_after_close(socket, alice)


async def test_a_failing_handler_answers_server_error_and_the_socket_lives_on(
    connect, alice, direct, monkeypatch
):
    from messaging import send_batch, socket_actions

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(socket_actions, "sync", broken)
    monkeypatch.setattr(socket_actions, "send_message", broken)
    monkeypatch.setattr(send_batch, "store_sends", broken)  # sends go through the batch
    socket = await connect(alice)
    await socket.send({"type": "sync", "after": 0})
    assert (await socket.expect("error"))["code"] == "server_error"
    await socket.send({"type": "message.send", "conversation": direct.pk, "body": "x", "client_id": "b"})
    error = await socket.expect("error")
    assert error["code"] == "server_error" and error["client_id"] == "b"
    # the send queue still works after a failure
    await socket.send({"type": "message.send", "conversation": direct.pk, "body": "x", "client_id": "c"})
    assert (await socket.expect("error"))["client_id"] == "c"
    await assert_still_answers(socket)
    await assert_offline_after_close(socket, alice)


async def test_a_failure_in_frame_parsing_answers_server_error(connect, alice, monkeypatch):
    """The last line of defence in `receive` itself (before any handler runs)."""
    from messaging import consumers

    def broken(text: str) -> object:
        raise KeyError("bug")

    socket = await connect(alice)
    monkeypatch.setattr(consumers, "_parse_frame", broken)
    await socket.communicator.send_to(text_data='{"type":"sync"}')
    assert (await socket.expect("error"))["code"] == "server_error"
    monkeypatch.undo()
    await assert_still_answers(socket)
    await assert_offline_after_close(socket, alice)


async def test_many_bad_frames_in_a_row(connect, alice, bob, direct):
    socket = await connect(alice)
    frames = ['{"type": []}', "[" * 3000, '{"type":"sync","after":1e400}', '{"type":"x"}'] * 10
    for text in frames:
        await socket.communicator.send_to(text_data=text)
    for _ in frames:
        assert (await socket.expect("error"))["type"] == "error"
    await assert_still_answers(socket)
    await assert_offline_after_close(socket, alice)


# --- Over a real socket -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
async def test_nasty_frames_over_a_real_socket(alice, direct):
    """Through daphne's WebSocket layer too: each nasty frame is answered, the socket lives on,
    and after it closes the user is offline; a ping after the token is gone closes 4401 on the wire."""
    import asyncio

    import websockets

    from accounts.models import DeviceToken
    from tests.conftest import token_for
    from tests.messaging.processes import expect, free_port, start_daphne, stop

    port = free_port()
    server = await asyncio.to_thread(start_daphne, port)
    try:
        token = await db(token_for)(alice)
        url, headers = f"ws://127.0.0.1:{port}/ws/", {"Authorization": f"Token {token}"}
        nasty = [
            '{"type": []}',
            "[" * 60_000,
            '{"type":"sync","after":1e400}',
            f'{{"type":"message.send","conversation":{direct.pk},"body":"a\\u0000","client_id":"n"}}',
            f'{{"type":"message.send","conversation":{direct.pk},"body":"\\ud800","client_id":"\\udc00"}}',
            '{"type":"ping","raw":"\x00"}',
            '{"type":"typing","conversation":99999999999999999999999}',
        ]
        async with websockets.connect(url, additional_headers=headers) as ws:
            for text in nasty:
                await ws.send(text)
                assert (await expect(ws, "error"))["code"] in {"bad_frame", "invalid"}, text
                await ws.send('{"type":"ping"}')
                await expect(ws, "pong")
        await asyncio.sleep(0.5)  # the server's disconnect() runs after the close handshake
        assert await db(online_user_ids)([alice.pk]) == set()
        async with websockets.connect(url, additional_headers=headers) as ws:
            await ws.send('{"type":"ping"}')
            await expect(ws, "pong")
            await db(DeviceToken.objects.filter(user=alice)._raw_delete)("default")
            await ws.send('{"type":"ping"}')
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    finally:
        await asyncio.to_thread(stop, server)
