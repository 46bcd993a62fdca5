"""One send rule, proven twice: on PostgreSQL a send is one call of the `messaging_send` function
(messaging/sql/messaging_send.sql), on SQLite the ORM steps of `_store_message_orm`. One table of
cases runs through BOTH on PostgreSQL, each inside a savepoint rolled back afterwards, on the same
fixtures; the outcome (status or error class, the member ids) and the rows written (the message's
fields, the conversation's last_seq / last_message_id / last_activity) must be the same."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Block, Friendship, User
from messaging import conversations, services
from messaging.errors import Blocked, ConversationNotFound, NotFriends, SenderGone
from messaging.models import Conversation, Message
from tests.messaging.conftest import befriend

pytestmark = pytest.mark.postgres

PATHS = {"postgres": services._store_message_postgres, "orm": services._store_message_orm}
STICKER = {"sku": "cats", "sticker": 3}


@dataclass
class World:
    alice: User
    bob: User
    carol: User
    dave: User  # a friend of Alice's, added to the group after its first messages
    erin: User  # in no conversation
    direct: Conversation  # Alice and Bob
    group: Conversation  # Alice (owner), Bob, Carol, then Dave
    taken: Message  # Alice's message in the group with client_id "taken"
    people: dict[str, User] = field(default_factory=dict)


@pytest.fixture
def world(make_user) -> World:
    alice, bob, carol, dave, erin = (
        make_user(username=name, display_name=name.title())
        for name in ("alice", "bob", "carol", "dave", "erin")
    )
    for friend in (bob, carol, dave):
        befriend(alice, friend)
    direct, _ = conversations.conversation_direct_open(user=alice, number=bob.number)
    group = conversations.conversation_group_create(
        user=alice, title="Hikers", member_numbers=[bob.number, carol.number]
    )
    taken, _ = services.message_send(sender=alice, conversation_id=group.pk, body="first", client_id="taken")
    services.message_send(sender=bob, conversation_id=direct.pk, body="hello")
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[dave.number])
    people = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin}
    return World(alice, bob, carol, dave, erin, direct, group, taken, people)


@dataclass(frozen=True)
class Case:
    sender: str
    conversation: str  # "direct", "group" or "missing"
    kind: str = "text"
    body: str = "hi"
    data: dict | None = None
    client_id: str | None = None
    trusted: bool = False
    as_id: bool = False  # the sender given by id, as the socket does
    setup: Callable[[World], Any] | None = None


def block(blocker: str, blocked: str) -> Callable[[World], Any]:
    return lambda w: Block.objects.create(blocker=w.people[blocker], blocked=w.people[blocked])


def unfriend(w: World) -> None:
    Friendship.objects.filter(user__in=[w.alice, w.bob], friend__in=[w.alice, w.bob]).delete()


def deactivate(name: str) -> Callable[[World], Any]:
    return lambda w: User.objects.filter(pk=w.people[name].pk).update(is_active=False)


def styled(name: str, *, vip: timedelta | None = None) -> Callable[[World], Any]:
    """Give a person a bubble and a name colour, and VIP time ending `vip` from now."""
    return lambda w: User.objects.filter(pk=w.people[name].pk).update(
        chat_bubble="#336699",
        chat_name_color="#cc0000",
        vip_until=None if vip is None else timezone.now() + vip,
    )


def both(*steps: Callable[[World], Any]) -> Callable[[World], Any]:
    return lambda w: [step(w) for step in steps]


CASES = {
    "ok direct": Case("alice", "direct"),
    "ok direct, sender by id": Case("bob", "direct", as_id=True),
    "ok group": Case("carol", "group", client_id="c-1"),
    "ok group sticker": Case("bob", "group", kind="sticker", body="", data=STICKER),
    "group member joined later": Case("dave", "group", body="hello all"),
    "non-member direct": Case("carol", "direct"),
    "non-member group": Case("erin", "group", as_id=True),
    "missing conversation": Case("alice", "missing"),
    "blocked by the peer": Case("alice", "direct", setup=block("bob", "alice")),
    "blocked by the sender": Case("alice", "direct", setup=block("alice", "bob")),
    "not friends": Case("alice", "direct", setup=unfriend),
    "blocked wins over not friends": Case("bob", "direct", setup=both(unfriend, block("alice", "bob"))),
    "blocked people share a group": Case("alice", "group", setup=block("bob", "alice")),
    "deactivated sender": Case("alice", "direct", setup=deactivate("alice")),
    "deactivated sender by id": Case("alice", "group", as_id=True, setup=deactivate("alice")),
    "deactivated sender, missing conversation": Case("alice", "missing", setup=deactivate("alice")),
    "deactivated sender, system message": Case(
        "alice", "group", kind="system", trusted=True, setup=deactivate("alice")
    ),
    "duplicate client_id": Case("alice", "group", body="again", client_id="taken"),
    "duplicate client_id from another conversation": Case("alice", "direct", client_id="taken"),
    "duplicate client_id, blocked": Case("alice", "direct", client_id="taken", setup=block("bob", "alice")),
    "duplicate client_id, not a member": Case("alice", "missing", client_id="taken"),
    "same client_id, another sender": Case("bob", "group", client_id="taken"),
    "system message, sender not a member": Case(
        "erin", "group", kind="system", body="Erin left", trusted=True
    ),
    "system message into a blocked direct": Case(
        "alice",
        "direct",
        kind="system",
        body="notice",
        trusted=True,
        setup=both(unfriend, block("bob", "alice")),
    ),
    "trusted non-system kind, not a member": Case(
        "erin", "group", kind="red_packet", body="", data={"red_packet": 1}, trusted=True
    ),
    "trusted red packet": Case(
        "bob", "direct", kind="red_packet", body="", data={"red_packet": 7}, trusted=True
    ),
    "styled sender, VIP": Case("alice", "group", setup=styled("alice", vip=timedelta(days=3))),
    "styled sender by id, VIP over": Case(
        "alice", "direct", as_id=True, setup=styled("alice", vip=-timedelta(seconds=1))
    ),
    "styled sender, no VIP": Case("bob", "group", kind="sticker", body="", data=STICKER, setup=styled("bob")),
    "styled sender, gift": Case(
        "bob", "direct", kind="gift", body="Rose", data={"sku": "rose"}, trusted=True, setup=styled("bob")
    ),
    "styled sender, system message": Case(
        "alice",
        "group",
        kind="system",
        body="notice",
        trusted=True,
        setup=styled("alice", vip=timedelta(days=1)),
    ),
    "styled sender, duplicate client_id": Case(
        "alice", "group", client_id="taken", setup=styled("alice", vip=timedelta(days=1))
    ),
}


def _current_txid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return cursor.fetchone()[0]


def _conversation_state(conversation_id: int) -> tuple | None:
    return (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("last_seq", "last_message_id", "last_activity")
        .first()
    )


def _message_row(message_id: int, txid: int) -> dict[str, Any]:
    row = Message.objects.filter(pk=message_id).values().get()
    return {
        **{
            key: row[key]
            for key in (
                "conversation_id",
                "seq",
                "sender_id",
                "kind",
                "body",
                "client_id",
                "data",
                "sender_style",
            )
        },
        "recalled": row["recalled"],
        "edited_at": row["edited_at"],
        # this transaction's id and a snapshot from before the insert, for messaging.sync
        "txid_is_this_transaction": row["txid"] == txid,
        "has_snapshot": row["snapshot_xmin"] is not None
        and row["snapshot_xmin"] <= txid
        and bool(row["snapshot"]),
    }


def run(path: str, case: Case, w: World) -> dict[str, Any]:
    """The outcome of one send through one path, and what it wrote; everything is rolled back."""
    sender = w.people[case.sender]
    conversation_id = {"direct": w.direct.pk, "group": w.group.pk, "missing": 2**62}[case.conversation]
    before_ids = set(Message.objects.values_list("pk", flat=True))
    before = _conversation_state(conversation_id)
    with transaction.atomic():
        try:
            stored = PATHS[path](
                sender.pk if case.as_id else sender,
                conversation_id,
                case.kind,
                case.body,
                case.data or {},
                case.client_id,
                case.trusted,
            )
        except (SenderGone, ConversationNotFound, Blocked, NotFriends) as error:
            stored = error
        txid = _current_txid()
        new_ids = set(Message.objects.values_list("pk", flat=True)) - before_ids
        after = _conversation_state(conversation_id)
        outcome: dict[str, Any] = {"new_rows": len(new_ids)}
        if isinstance(stored, Exception):
            outcome["error"] = type(stored).__name__
        elif isinstance(stored, Message):
            outcome["duplicate_of"] = stored.pk
            outcome["returned"] = (stored.body, stored.sender_id, stored.conversation_id)
        else:
            message, member_ids = stored
            assert new_ids == {message.pk}
            last_seq, last_message_id, last_activity = after
            outcome.update(
                members=sorted(member_ids),
                returned=(
                    message.seq,
                    message.sender.pk,
                    message.sender.number,
                    message.kind,
                    message.data,
                    message.sender_style,
                ),
                row=_message_row(message.pk, txid),
                conversation=(
                    last_seq - before[0],
                    last_message_id == message.pk,
                    last_activity == Message.objects.get(pk=message.pk).created_at,
                ),
            )
        if not outcome.get("row"):
            outcome["conversation_unchanged"] = after == before
        transaction.set_rollback(True)
    return outcome


@pytest.mark.parametrize("name", list(CASES))
def test_both_send_paths_agree(world, name):
    case = CASES[name]
    if case.setup is not None:
        case.setup(world)
    postgres, orm = run("postgres", case, world), run("orm", case, world)
    assert postgres == orm
    # and nothing was left behind by either
    assert Message.objects.count() == 2


def test_the_expected_outcomes(world):
    """What the cases should answer (the paths agreeing is not enough: both could be wrong)."""
    expectations = {
        "ok direct": "ok",
        "group member joined later": "ok",
        "non-member direct": "ConversationNotFound",
        "missing conversation": "ConversationNotFound",
        "blocked by the sender": "Blocked",
        "blocked by the peer": "Blocked",
        "not friends": "NotFriends",
        "deactivated sender": "SenderGone",
        "blocked wins over not friends": "Blocked",
        "blocked people share a group": "ok",
        "deactivated sender, missing conversation": "SenderGone",
        "deactivated sender, system message": "SenderGone",
        "duplicate client_id": "duplicate",
        "duplicate client_id, blocked": "Blocked",
        "duplicate client_id, not a member": "ConversationNotFound",
        "same client_id, another sender": "ok",
        "system message, sender not a member": "ok",
        "system message into a blocked direct": "ok",
        "trusted non-system kind, not a member": "ConversationNotFound",
        "styled sender, VIP": "ok",
        "styled sender, system message": "ok",
    }
    # every status the function answers (messaging/sql/messaging_send.sql) is in the table
    assert set(expectations.values()) == {
        "ok",
        "duplicate",
        "SenderGone",
        "ConversationNotFound",
        "Blocked",
        "NotFriends",
    }
    for name, expected in expectations.items():
        case = CASES[name]
        with transaction.atomic():
            if case.setup is not None:
                case.setup(world)
            outcome = run("orm", case, world)
            transaction.set_rollback(True)
        got = outcome.get("error") or ("duplicate" if "duplicate_of" in outcome else "ok")
        assert (name, got) == (name, expected)
        if got == "duplicate":
            assert outcome["duplicate_of"] == world.taken.pk and outcome["new_rows"] == 0
        if got == "ok":
            assert outcome["conversation"] == (1, True, True)


def test_the_stamped_styles(world):
    """The style each case stamps on its message, through both paths."""
    styles = {
        "styled sender, VIP": {"bubble": "#336699", "name_color": "#cc0000", "vip": True},
        "styled sender by id, VIP over": {"bubble": "#336699", "name_color": "#cc0000", "vip": False},
        "styled sender, no VIP": {"bubble": "#336699", "name_color": "#cc0000", "vip": False},
        "styled sender, gift": {"bubble": "#336699", "name_color": "#cc0000", "vip": False},
        "styled sender, system message": {"bubble": None, "name_color": None, "vip": False},
        "ok direct": {"bubble": None, "name_color": None, "vip": False},
    }
    for name, style in styles.items():
        case = CASES[name]
        for path in PATHS:
            with transaction.atomic():
                if case.setup is not None:
                    case.setup(world)
                outcome = run(path, case, world)
                transaction.set_rollback(True)
            assert (name, path, outcome["row"]["sender_style"]) == (name, path, style)
            assert outcome["returned"][-1] == style
