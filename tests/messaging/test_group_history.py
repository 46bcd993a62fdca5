"""A group member sees messages from the moment they (last) joined (CONTRACT section 4): history,
search, sync, unread counts, the conversation's last message, changes to a message by id, and
the `message.edited` / `message.recalled` events of earlier messages."""

import pytest

from core.exceptions import NotFound
from messaging import conversations, selectors, services
from messaging.models import Membership
from messaging.sync import sync_for_user
from tests.api_helpers import assert_error
from tests.messaging.conftest import befriend


@pytest.fixture
def dave(make_user, alice):
    dave = make_user(username="dave", display_name="Dave")
    befriend(alice, dave)
    return dave


@pytest.fixture
def before(alice, bob, group, send):
    """Two messages said in the group before Dave joins."""
    return [send(alice, group, "early plans"), send(bob, group, "early secret")]


@pytest.fixture
def joined(alice, dave, group, before):
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[dave.number])
    return Membership.objects.get(conversation=group, user=dave)


def test_a_new_member_starts_at_the_last_message(group, before, joined):
    assert joined.history_from_id == before[-1].pk


def test_founding_members_and_direct_conversations_see_everything(alice, bob, group, direct):
    assert set(Membership.objects.values_list("history_from_id", flat=True)) == {0}


def test_history_starts_when_they_joined(alice, dave, group, before, joined, send):
    after = send(alice, group, "welcome Dave")
    history = selectors.message_history(user=dave, conversation_id=group.pk)
    assert [m.pk for m in history] == [after.pk]
    assert [m.pk for m in history.filter(id__lt=after.pk)] == []
    everything = selectors.message_history(user=alice, conversation_id=group.pk)
    assert [m.pk for m in everything] == [*(m.pk for m in before), after.pk]


def test_search_starts_when_they_joined(alice, dave, group, before, joined, send):
    after = send(alice, group, "early birds welcome")
    assert [m.pk for m in selectors.message_search(user=dave, query="early")] == [after.pk]
    scoped = selectors.message_search(user=dave, query="early", conversation_id=group.pk)
    assert [m.pk for m in scoped] == [after.pk]
    assert len(selectors.message_search(user=alice, query="early")) == 3


def test_sync_starts_when_they_joined(alice, dave, group, before, joined, send):
    after = send(alice, group, "welcome")
    assert [m.pk for m in sync_for_user(user=dave, after=0).messages] == [after.pk]
    # an edit of an earlier message is not Dave's to hear about
    services.message_edit(user=alice, message_id=before[0].pk, body="edited plans")
    assert sync_for_user(user=dave, after=after.pk).changes == []


def test_unread_counts_and_last_message_start_when_they_joined(alice, dave, group, before, joined, send):
    view = selectors.conversation_view(user=dave, conversation_id=group.pk)
    assert (view.unread_count, view.last_message) == (0, None)
    # even with the read marker at 0, nothing before joining is unread
    Membership.objects.filter(pk=joined.pk).update(last_read_id=0)
    view = selectors.conversation_view(user=dave, conversation_id=group.pk)
    assert view.unread_count == 0
    assert selectors.conversation_payload(view)["last_message"] is None
    after = send(alice, group, "welcome")
    views = {v.membership.conversation_id: v for v in selectors.conversation_list_for_user(dave)}
    assert (views[group.pk].unread_count, views[group.pk].last_message.pk) == (1, after.pk)


def test_earlier_messages_cannot_be_changed_by_id(alice, dave, group, before, joined):
    # given: Dave is even made an admin (admins recall anyone's messages)
    conversations.member_role_set(user=alice, conversation_id=group.pk, number=dave.number, role="admin")
    with pytest.raises(NotFound):
        services.message_recall(user=dave, message_id=before[0].pk)
    assert (
        selectors.message_history(user=alice, conversation_id=group.pk).get(pk=before[0].pk).recalled is False
    )


def test_rejoining_starts_again_from_the_last_join(alice, bob, group, before, send):
    own = send(bob, group, "mine")
    conversations.member_remove(user=bob, conversation_id=group.pk, number=bob.number)
    gone = send(alice, group, "while Bob was away")
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[bob.number])
    back = send(alice, group, "welcome back")
    assert [m.pk for m in selectors.message_history(user=bob, conversation_id=group.pk)] == [back.pk]
    with pytest.raises(NotFound):
        services.message_edit(user=bob, message_id=own.pk, body="edited")
    with pytest.raises(NotFound):
        services.message_recall(user=bob, message_id=own.pk)
    assert gone.pk not in [m.pk for m in sync_for_user(user=bob, after=0).messages]


def test_edits_and_recalls_of_earlier_messages_skip_later_members(
    alice, bob, carol, dave, group, before, joined, send, captured_events, django_capture_on_commit_callbacks
):
    after = send(alice, group, "welcome")
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(user=alice, message_id=before[0].pk, body="edited")
        services.message_recall(user=bob, message_id=before[1].pk)
        services.message_edit(user=alice, message_id=after.pk, body="welcome, Dave")
    founders = sorted([alice.pk, bob.pk, carol.pk])
    assert [(ids, event["type"]) for ids, event in captured_events] == [
        (founders, "message.edited"),
        (founders, "message.recalled"),
        (sorted([*founders, dave.pk]), "message.edited"),
    ]


def test_members_add_takes_the_last_message_under_the_conversations_lock(alice, dave, group, send):
    """A message sent in the same transaction before the add is the new member's starting point."""
    first = send(alice, group, "first")
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[dave.number])
    membership = Membership.objects.get(conversation=group, user=dave)
    assert membership.history_from_id == first.pk == membership.last_read_id


# --- Over HTTP ----------------------------------------------------------------------------------------


def test_over_http(alice, dave, group, before, joined, send, client_for):
    api = client_for(dave)
    base = f"/api/v1/conversations/{group.pk}"
    assert api.get(f"{base}/messages").json() == {"results": [], "has_more": False}
    detail = api.get(base).json()
    assert (detail["last_message"], detail["unread_count"]) == (None, 0)
    assert api.get("/api/v1/messages/search", {"q": "early"}).json()["results"] == []
    assert_error(api.delete(f"/api/v1/messages/{before[0].pk}"), 404, "not_found")
    after = send(alice, group, "early welcome")
    assert [m["id"] for m in api.get(f"{base}/messages").json()["results"]] == [after.pk]
    assert [m["id"] for m in api.get(f"{base}/messages", {"before": after.pk + 1}).json()["results"]] == [
        after.pk
    ]
    assert [m["id"] for m in api.get("/api/v1/messages/search", {"q": "early"}).json()["results"]] == [
        after.pk
    ]


def test_read_markers_and_search_are_rate_limited(alice, direct, send, client_for, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "actions": "2/minute"}
    message = send(alice, direct)
    api = client_for(alice)
    read = f"/api/v1/conversations/{direct.pk}/read"
    assert [api.post(read, {"up_to": message.pk}, format="json").status_code for _ in range(2)] == [204, 204]
    response = api.post(read, {"up_to": message.pk}, format="json")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    # one bucket for the user's actions: search is over it too
    assert_error(api.get("/api/v1/messages/search", {"q": "hi"}), 429, "rate_limited")
