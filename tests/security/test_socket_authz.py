"""The socket half of the authorization matrix (CONTRACT section 7): every client frame type the
consumer handles, sent by a stranger, by former group members (one left, one was removed), by a
member and by the owner, about the same group. A former member is a stranger to the group: their
`message.send`, `typing` and `read` are refused with `not_found` (and change nothing), and `sync`
brings them nothing said there after they went. A frame type without a row fails
`test_every_frame_type_has_a_row`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async

from messaging.consumers import ChatConsumer
from messaging.models import Membership, Message
from tests.messaging.sockets import Socket, open_socket
from tests.security.world import AFTER_TEXT, OUTSIDERS, World, build_world

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
SOCKET_ACTORS = ("stranger", "left", "removed", "member", "owner")
# Frames a socket may receive unasked while the test runs (other people's presence and so on).
BACKGROUND = ("presence", "typing", "read", "message.new", "conversation.new", "coins.balance")


@dataclass(frozen=True)
class FrameRow:
    frame: Callable[[World], dict]
    # by actor: ("reply", type) the answer's type; ("error", code); ("silent", "") no answer
    expect: dict[str, tuple[str, str]]


def to_group(member: tuple[str, str]) -> dict[str, tuple[str, str]]:
    """Members get `member`; outsiders get `not_found`, as if the group did not exist."""
    return {
        **dict.fromkeys(OUTSIDERS, ("error", "not_found")),
        "member": member,
        "owner": member,
    }


def everyone(outcome: tuple[str, str]) -> dict[str, tuple[str, str]]:
    return dict.fromkeys(SOCKET_ACTORS, outcome)


FRAME_ROWS: dict[str, FrameRow] = {
    "message.send": FrameRow(
        lambda w: {
            "type": "message.send",
            "conversation": w.group.pk,
            "body": "let me in",
            "client_id": "c1",
        },
        to_group(("reply", "message.ack")),
    ),
    "typing": FrameRow(lambda w: {"type": "typing", "conversation": w.group.pk}, to_group(("silent", ""))),
    "read": FrameRow(
        lambda w: {"type": "read", "conversation": w.group.pk, "up_to": w.after.pk}, to_group(("silent", ""))
    ),
    # What sync brings is checked in test_sync_brings_outsiders_nothing_said_after_they_went.
    "sync": FrameRow(lambda w: {"type": "sync", "after": 0}, everyone(("reply", "sync.done"))),
    "presence.set": FrameRow(
        lambda w: {"type": "presence.set", "presence": "busy"}, everyone(("silent", ""))
    ),
    "ping": FrameRow(lambda w: {"type": "ping"}, everyone(("reply", "pong"))),
}


def test_every_frame_type_has_a_row() -> None:
    missing = sorted(set(ChatConsumer.HANDLERS) - set(FRAME_ROWS))
    assert not missing, "\n".join(
        f"add a row for the socket frame {kind!r} to FRAME_ROWS in tests/security/test_socket_authz.py"
        for kind in missing
    )
    assert not set(FRAME_ROWS) - set(ChatConsumer.HANDLERS), "rows for frame types that no longer exist"
    for kind, row in FRAME_ROWS.items():
        assert set(row.expect) == set(SOCKET_ACTORS), kind


async def _answer(socket: Socket, kind: str, expected: tuple[str, str]) -> None:
    outcome, detail = expected
    if outcome == "silent":
        await socket.nothing(timeout=0.5, skip=BACKGROUND)
        return
    frame = await socket.expect(
        "error" if outcome == "error" else detail,
        skip=tuple(t for t in BACKGROUND if t != detail),
        timeout=10,
    )
    if outcome == "error":
        assert frame["code"] == detail, frame
        if kind == "message.send":
            assert frame["client_id"] == "c1", frame  # the client knows which send failed


@pytest.mark.parametrize("kind", sorted(FRAME_ROWS))
async def test_frame_authorization(kind: str) -> None:
    w = await db(build_world)()
    row = FRAME_ROWS[kind]
    messages_before = await db(Message.objects.count)()
    failures = []
    for actor in SOCKET_ACTORS:  # outsiders first: what they try must leave nothing behind
        socket = await open_socket(getattr(w, actor))
        try:
            await socket.send(row.frame(w))
            await _answer(socket, kind, row.expect[actor])
        except AssertionError as exc:
            failures.append(f"{kind} as {actor}: {exc}")
        finally:
            await socket.close()
        if actor in OUTSIDERS:
            assert await db(Message.objects.count)() == messages_before, f"{actor}'s {kind} stored a message"
            membership = await db(
                Membership.objects.filter(conversation=w.group, user=getattr(w, actor)).exists
            )()
            assert not membership, f"{actor}'s {kind} made them a member"
    assert not failures, "\n".join(failures)


async def _synced(socket: Socket) -> list[dict]:
    await socket.send({"type": "sync", "after": 0})
    await socket.expect("sync.done", skip=("presence", "message.new"), timeout=10)
    return [f["message"] for f in socket.skipped if f["type"] == "message.new"]


async def test_sync_brings_outsiders_nothing_said_after_they_went() -> None:
    w = await db(build_world)()
    for actor in SOCKET_ACTORS:
        socket = await open_socket(getattr(w, actor))
        try:
            synced = await _synced(socket)
        finally:
            await socket.close()
        in_group = [m for m in synced if m["conversation"] == w.group.pk]
        if actor in OUTSIDERS:
            assert all(m["id"] <= w.before.pk for m in in_group), f"{actor} synced {in_group}"
            assert AFTER_TEXT not in {m["body"] for m in synced}
        else:
            assert AFTER_TEXT in {m["body"] for m in in_group}, actor


async def test_an_anonymous_socket_is_closed_4401() -> None:
    socket = await open_socket(None)
    try:
        await socket.closed_with(4401)
    finally:
        await socket.close()


async def test_a_former_member_gets_nothing_live_from_the_group() -> None:
    """Sockets of people who left get no event of the group: not its messages, typing or reads."""
    w = await db(build_world)()
    left, removed = await open_socket(w.left), await open_socket(w.removed)
    member = await open_socket(w.member)
    try:
        await member.send(
            {"type": "message.send", "conversation": w.group.pk, "body": "psst", "client_id": "m"}
        )
        await member.expect("message.ack", skip=BACKGROUND)
        await member.send({"type": "typing", "conversation": w.group.pk})
        for outsider in (left, removed):
            await outsider.nothing(timeout=0.5, skip=("presence",))
    finally:
        for socket in (left, removed, member):
            await socket.close()
