"""Editing follows the sending rules of the conversation (CONTRACT section 4): after a block or an
unfriend the other side cannot edit old direct messages (which would push text to the blocker's
sockets); recalling one's own message stays allowed (it removes content). Edits and recalls count
against the sender's message rate limit over HTTP."""

import pytest

from accounts.models import Block, Friendship
from messaging import services
from messaging.errors import Blocked, NotFriends
from messaging.models import Message
from tests.api_helpers import assert_error


def message_url(message: Message) -> str:
    return f"/api/v1/messages/{message.pk}"


@pytest.mark.parametrize("blocker", ["alice", "bob"])
def test_no_edits_into_a_direct_conversation_after_a_block_either_way(
    alice, bob, direct, send, blocker, captured_events, django_capture_on_commit_callbacks
):
    # given
    message = send(alice, direct, "before")
    people = {"alice": alice, "bob": bob}
    Block.objects.create(blocker=people[blocker], blocked=bob if blocker == "alice" else alice)
    # when / then
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Blocked):
        services.message_edit(user=alice, message_id=message.pk, body="pushed to the blocker")
    assert Message.objects.get(pk=message.pk).body == "before"
    assert captured_events == []


def test_no_edits_after_an_unfriend(alice, bob, direct, send):
    message = send(alice, direct, "before")
    Friendship.objects.all().delete()
    with pytest.raises(NotFriends):
        services.message_edit(user=alice, message_id=message.pk, body="after")
    assert Message.objects.get(pk=message.pk).body == "before"


def test_blocked_wins_over_not_friends_for_edits(alice, bob, direct, send):
    message = send(bob, direct, "before")
    Friendship.objects.all().delete()
    Block.objects.create(blocker=alice, blocked=bob)
    with pytest.raises(Blocked):
        services.message_edit(user=bob, message_id=message.pk, body="after")


def test_own_messages_can_still_be_recalled_after_a_block(
    alice, bob, direct, send, captured_events, django_capture_on_commit_callbacks
):
    message = send(alice, direct, "regret")
    Block.objects.create(blocker=bob, blocked=alice)
    with django_capture_on_commit_callbacks(execute=True):
        recalled = services.message_recall(user=alice, message_id=message.pk)
    assert recalled.recalled and recalled.body == ""
    assert [event["type"] for _, event in captured_events] == ["message.recalled"]


def test_people_who_block_each_other_may_still_edit_in_a_group(alice, bob, group, send):
    message = send(bob, group, "typo")
    Block.objects.create(blocker=alice, blocked=bob)
    assert services.message_edit(user=bob, message_id=message.pk, body="fixed").body == "fixed"


def test_edits_after_a_block_or_unfriend_over_http(alice, bob, direct, send, client_for):
    message = send(alice, direct, "before")
    Friendship.objects.all().delete()
    assert_error(
        client_for(alice).patch(message_url(message), {"body": "x"}, format="json"), 403, "not_friends"
    )
    Block.objects.create(blocker=bob, blocked=alice)
    assert_error(client_for(alice).patch(message_url(message), {"body": "x"}, format="json"), 403, "blocked")
    assert client_for(alice).delete(message_url(message)).status_code == 204


def test_edits_and_recalls_count_against_the_message_rate_limit(alice, group, send, client_for, settings):
    # given: 3 a minute, shared by sends, edits and recalls
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "messages": "3/minute"}
    api = client_for(alice)
    first, second = send(alice, group, "a"), send(alice, group, "b")  # the service: not counted
    # when
    assert (
        api.post(f"/api/v1/conversations/{group.pk}/messages", {"body": "c"}, format="json").status_code
        == 201
    )
    assert api.patch(message_url(first), {"body": "a2"}, format="json").status_code == 200
    assert api.delete(message_url(second)).status_code == 204
    # then
    edit = api.patch(message_url(first), {"body": "a3"}, format="json")
    assert_error(edit, 429, "rate_limited")
    assert int(edit["Retry-After"]) >= 1
    assert_error(api.delete(message_url(first)), 429, "rate_limited")
    assert Message.objects.get(pk=first.pk).body == "a2" and not Message.objects.get(pk=first.pk).recalled
