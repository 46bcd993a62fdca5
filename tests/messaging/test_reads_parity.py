"""The conversation list and history pages are rendered from rows (`conversation_list_payload`,
`message_history_rows` + `message_rows_payload`) instead of model instances, for speed
(docs/PERFORMANCE.md, Reads). The model path stays for one conversation's detail and the
`conversation.new` event. Both must give the same JSON for the same data, on SQLite and on
PostgreSQL: read markers anywhere, unread counts with own and recalled messages, a late joiner
whose conversation's last message predates them, a peer with read receipts off, a direct
conversation whose peer left, a deleted sender, edits, stickers' data, senders' styles, a
conversation without messages."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from messaging import conversations, selectors, services
from messaging.errors import ConversationNotFound
from messaging.models import Conversation, Membership, Message
from messaging.rendering import message_rows_payload, messages_payload
from tests.messaging.conftest import befriend

pytestmark = pytest.mark.django_db


def _list_by_models(user: User) -> list[dict]:
    return [selectors.conversation_payload(v) for v in selectors.conversation_list_for_user(user)]


def _same(a: object, b: object) -> None:
    # Compared as the JSON clients receive (key order included).
    assert json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False)


@pytest.fixture
def world(alice, bob, carol, make_user, send) -> dict:
    dave = make_user(username="dave", display_name="Dave")
    erin = make_user(username="erin", display_name="Erin")
    for friend in (bob, carol, dave, erin):
        befriend(alice, friend)
    # Styles: Bob a bubble and VIP, Carol a name colour.
    User.objects.filter(pk=bob.pk).update(chat_bubble="#ffd6e0", vip_until=timezone.now() + timedelta(days=3))
    User.objects.filter(pk=carol.pk).update(chat_name_color="#1e6fd9")
    bob.refresh_from_db()
    carol.refresh_from_db()

    with_bob, _ = conversations.conversation_direct_open(user=alice, number=bob.number)
    with_carol, _ = conversations.conversation_direct_open(user=alice, number=carol.number)
    with_dave, _ = conversations.conversation_direct_open(user=alice, number=dave.number)
    conversations.conversation_direct_open(user=alice, number=erin.number)  # no messages
    group = conversations.conversation_group_create(
        user=alice, title="Hikers <b>&</b> 好友", member_numbers=[bob.number, carol.number]
    )
    send(bob, with_bob, "hello")
    read_up_to = send(alice, with_bob, "hi")
    send(bob, with_bob, "unread 1")
    recalled = send(bob, with_bob, "oops")
    services.message_recall(user=bob, message_id=recalled.pk)
    send(alice, with_bob, "mine after the marker")
    services.conversation_read(user=alice, conversation_id=with_bob.pk, up_to=read_up_to.pk)
    services.conversation_read(user=bob, conversation_id=with_bob.pk, up_to=read_up_to.pk)

    send(carol, with_carol, 'quotes " and \\ and \u2028 and emoji 👍')
    User.objects.filter(pk=carol.pk).update(read_receipts=False)

    edited = send(alice, group, "plans")
    services.message_edit(user=alice, message_id=edited.pk, body="plans, edited")
    send(bob, group, "明天见")
    # Dave joins after the group's last message: it is not his to see.
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[dave.number])

    send(dave, with_dave, "from dave")
    # A later group with Dave from the start, whose last message is by someone deleted.
    befriend(alice, make_user(username="frank", display_name="Frank"))
    frank = User.objects.get(username="frank")
    crew = conversations.conversation_group_create(
        user=alice, title="Crew", member_numbers=[dave.number, frank.number]
    )
    send(frank, crew, "bye all")
    frank.delete()
    # Erin's account goes: Alice's direct conversation with her has no peer left.
    erin.delete()
    Membership.objects.filter(user=alice, conversation=with_dave).update(muted=True)
    return {
        "people": [alice, bob, carol, dave],
        "conversations": list(Conversation.objects.order_by("id")),
    }


def test_the_conversation_list_is_the_same_from_rows_and_from_models(world):
    for user in world["people"]:
        rows = selectors.conversation_list_payload(user)
        assert rows  # everyone here has conversations
        _same(rows, _list_by_models(user))


def test_the_list_json_is_the_same_as_the_rows(world):
    # On PostgreSQL built by the database in one statement, elsewhere encoded from the rows.
    for user in world["people"]:
        _same(json.loads(selectors.conversation_list_json(user)), selectors.conversation_list_payload(user))


def test_the_list_json_renders_times_and_styles_as_python_does(alice, bob, direct, send):
    # Whole seconds (no fraction), a fraction, styles with every falsy JSON value and a truthy one.
    message = send(bob, direct, "t")
    Message.objects.filter(pk=message.pk).update(
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        edited_at=datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC),
    )
    Conversation.objects.filter(pk=direct.pk).update(
        created_at=datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    )
    for style in (
        {},
        {"bubble": "", "name_color": 0, "vip": 1},
        {"bubble": [], "name_color": {}, "vip": "true"},
        {"bubble": False, "name_color": None, "vip": True},
        {"bubble": "#ffffff", "name_color": "#000000"},
    ):
        Message.objects.filter(pk=message.pk).update(sender_style=style)
        payload = json.loads(selectors.conversation_list_json(alice))
        _same(payload, selectors.conversation_list_payload(alice))
        _same(payload, _list_by_models(alice))
    assert payload[0]["last_message"]["created_at"] == "2026-01-02T03:04:05Z"
    assert payload[0]["last_message"]["edited_at"] == "2026-01-02T03:04:05.000120Z"
    assert payload[0]["created_at"] == "2025-12-31T23:59:59.999999Z"


def test_the_list_over_http(alice, bob, direct, send, client_for):
    send(bob, direct, "over http")
    response = client_for(alice).get("/api/v1/conversations")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    _same(response.json(), _list_by_models(alice))


def test_the_list_covers_the_cases(world):
    alice, _bob, _carol, dave = world["people"]
    by_title = {c["title"]: c for c in selectors.conversation_list_payload(alice)}
    assert by_title["Bob"]["unread_count"] == 1  # not the recalled one, nor her own
    assert by_title["Bob"]["peer_last_read_id"] is not None
    assert by_title["Carol"]["peer_last_read_id"] is None  # read receipts off
    assert by_title["Crew"]["last_message"]["sender"] is None  # a deleted sender
    assert by_title["Hikers <b>&</b> 好友"]["last_message"]["sender_style"]["vip"] is True
    assert "" in by_title and by_title[""]["peer"] is None  # a direct conversation without peer
    assert by_title["Dave"]["muted"] is True
    hikers = next(
        c for c in selectors.conversation_list_payload(dave) if c["kind"] == "group" and c["title"] != "Crew"
    )
    assert hikers["last_message"] is None


@pytest.mark.parametrize("cursor", ["none", "before", "after"])
def test_history_pages_are_the_same_from_rows_and_from_models(world, cursor):
    for user in world["people"]:
        for conversation in world["conversations"]:
            try:
                models = selectors.message_history(user=user, conversation_id=conversation.pk)
            except ConversationNotFound:  # not a member: both refuse alike
                with pytest.raises(ConversationNotFound):
                    selectors.message_history_rows(user=user, conversation_id=conversation.pk)
                continue
            rows = selectors.message_history_rows(user=user, conversation_id=conversation.pk)
            ids = list(models.order_by("id").values_list("id", flat=True))
            if cursor == "before" and ids:
                models, rows = models.filter(id__lt=ids[-1]), rows.filter(id__lt=ids[-1])
            elif cursor == "after" and ids:
                models, rows = models.filter(id__gt=ids[0]), rows.filter(id__gt=ids[0])
            _same(
                message_rows_payload(list(rows.order_by("id"))), messages_payload(list(models.order_by("id")))
            )


def _page_by_models(user: User, conversation_id: int, params: dict) -> dict:
    """The page as the API built it before (core.pagination's rules over model instances)."""
    messages = selectors.message_history(user=user, conversation_id=conversation_id)
    limit = params.get("limit", 50)
    if "after" in params:
        rows = list(messages.filter(id__gt=params["after"]).order_by("id")[: limit + 1])
        has_more, rows = len(rows) > limit, rows[:limit]
    else:
        if "before" in params:
            messages = messages.filter(id__lt=params["before"])
        rows = list(messages.order_by("-id")[: limit + 1])
        has_more, rows = len(rows) > limit, rows[:limit]
        rows.reverse()
    return {"results": messages_payload(rows), "has_more": has_more}


@pytest.mark.postgres
def test_history_pages_built_by_the_database_are_the_same(world, send):
    alice, bob = world["people"][:2]
    with_bob = next(
        c for c in world["conversations"] if c.direct_key and str(bob.pk) in c.direct_key.split(":")
    )
    for n in range(7):
        send(alice if n % 2 else bob, with_bob, f"more {n}")
    for user in world["people"]:
        for conversation in world["conversations"]:
            try:
                ids = list(
                    selectors.message_history(user=user, conversation_id=conversation.pk)
                    .order_by("id")
                    .values_list("id", flat=True)
                )
            except ConversationNotFound:
                with pytest.raises(ConversationNotFound):
                    selectors.message_history_page_json(user=user, conversation_id=conversation.pk, limit=50)
                continue
            cursors = [{}, {"limit": 1}, {"limit": 3}, {"before": 1}, {"after": 0, "limit": 2}]
            for index in {0, len(ids) // 2, len(ids) - 1} if ids else ():
                cursors += [{"before": ids[index], "limit": 2}, {"after": ids[index], "limit": 2}]
            for params in cursors:
                page = json.loads(
                    selectors.message_history_page_json(
                        user=user, conversation_id=conversation.pk, **{"limit": 50, **params}
                    )
                )
                _same(page, _page_by_models(user, conversation.pk, params))


def test_history_over_http(alice, bob, direct, send, client_for):
    sent = [send(bob, direct, f"m{n}") for n in range(3)]
    client = client_for(alice)
    response = client.get(f"/api/v1/conversations/{direct.pk}/messages?limit=2")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    _same(response.json(), _page_by_models(alice, direct.pk, {"limit": 2}))
    assert [m["id"] for m in response.json()["results"]] == [sent[1].pk, sent[2].pk]
    response = client.get(f"/api/v1/conversations/{direct.pk}/messages?after={sent[0].pk}")
    _same(response.json(), _page_by_models(alice, direct.pk, {"after": sent[0].pk}))
