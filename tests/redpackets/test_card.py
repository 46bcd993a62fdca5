"""What a red-packet card in the chat needs from the server: its message cannot be recalled, the
detail says everything a card shows, and `red_packet.claimed` / `red_packet.expired` reach every
member who sees the card (not those who joined after it was sent), with enough to update it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.conversations import conversation_direct_open, member_remove
from messaging.models import Message
from redpackets.models import RedPacket
from redpackets.services import red_packet_claim, red_packet_expire, red_packet_send
from tests.api_helpers import assert_error, public
from tests.coins.helpers import grant
from tests.redpackets.helpers import add_to_group, group_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(make_user):
    return make_user(username="dave", display_name="Dave")


@pytest.fixture
def group(alice, bob, carol):
    grant(alice, 1000)
    return group_of(alice, bob, carol)


def send(sender, conversation, total=100, count=2, mode="random", greeting="恭喜发财"):
    return red_packet_send(
        sender=sender, conversation_id=conversation.pk, total=total, count=count, mode=mode, greeting=greeting
    )


def events_of(captured, kind):
    return [(ids, event) for ids, event in captured if event["type"] == kind]


# --- Recall -------------------------------------------------------------------------------------------


def test_a_red_packet_message_cannot_be_recalled(alice, bob, group, client_for):
    packet = send(alice, group)
    # neither by its sender within the recall window (who is the group's owner too)
    response = client_for(alice).delete(f"/api/v1/messages/{packet.message_id}")
    assert_error(response, 409, "not_recallable")
    message = Message.objects.get(pk=packet.message_id)
    assert (message.recalled, message.data, message.body) == (False, {"red_packet": packet.pk}, "恭喜发财")
    # nor by a member, nor in a direct conversation
    assert_error(client_for(bob).delete(f"/api/v1/messages/{packet.message_id}"), 409, "not_recallable")
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    other = send(alice, direct, count=1)
    assert_error(client_for(alice).delete(f"/api/v1/messages/{other.message_id}"), 409, "not_recallable")
    # the packet is still claimable from its card
    assert red_packet_claim(user=bob, red_packet_id=packet.pk).share.amount >= 1


def test_recalling_one_you_cannot_see_is_still_404(alice, group, make_user, client_for):
    packet = send(alice, group)
    stranger = make_user(username="stranger")
    assert_error(client_for(stranger).delete(f"/api/v1/messages/{packet.message_id}"), 404, "not_found")


def test_text_messages_are_still_recalled(alice, group, client_for):
    from messaging.services import message_send

    message, _ = message_send(sender=alice, conversation_id=group.pk, body="oops")
    assert client_for(alice).delete(f"/api/v1/messages/{message.pk}").status_code == 204


# --- The detail ----------------------------------------------------------------------------------------


def test_the_detail_has_what_a_card_shows(alice, bob, carol, group, client_for):
    packet = send(alice, group, total=100, count=2, mode="equal")
    body = client_for(bob).get(f"/api/v1/red-packets/{packet.pk}").json()
    assert {k: body[k] for k in ("id", "conversation", "message", "greeting", "mode", "total", "count")} == {
        "id": packet.pk,
        "conversation": group.pk,
        "message": packet.message_id,
        "greeting": "恭喜发财",
        "mode": "equal",
        "total": 100,
        "count": 2,
    }
    assert body["sender"] == public(alice)
    assert (body["expired"], body["luckiest"], body["my_claim"], body["my_amount"]) == (
        False,
        None,
        None,
        None,
    )
    assert body["can_claim"] is True

    red_packet_claim(user=bob, red_packet_id=packet.pk)
    body = client_for(bob).get(f"/api/v1/red-packets/{packet.pk}").json()
    assert (body["my_claim"], body["my_amount"], body["luckiest"], body["remaining_count"]) == (
        50,
        50,
        None,
        1,
    )
    assert body["can_claim"] is False
    # the last share: the luckiest is named (equal shares: the earliest claim)
    red_packet_claim(user=carol, red_packet_id=packet.pk)
    body = client_for(carol).get(f"/api/v1/red-packets/{packet.pk}").json()
    assert body["luckiest"]["number"] == bob.number
    assert (body["status"], body["expired"], body["my_claim"]) == ("exhausted", False, 50)
    # an exhausted packet never turns expired
    RedPacket.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert client_for(carol).get(f"/api/v1/red-packets/{packet.pk}").json()["expired"] is False


def test_the_detail_says_expired_before_and_after_the_task(alice, bob, group, client_for):
    packet = send(alice, group)
    RedPacket.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = client_for(bob).get(f"/api/v1/red-packets/{packet.pk}").json()
    assert (body["status"], body["expired"], body["can_claim"]) == ("open", True, False)
    red_packet_expire(red_packet_id=packet.pk)
    body = client_for(alice).get(f"/api/v1/red-packets/{packet.pk}").json()
    assert (body["status"], body["expired"], body["refunded_amount"], body["my_claim"]) == (
        "expired",
        True,
        100,
        None,
    )


# --- Live events -----------------------------------------------------------------------------------------


def test_claimed_reaches_the_members_who_see_the_card(
    alice, bob, carol, dave, group, captured_events, django_capture_on_commit_callbacks
):
    packet = send(alice, group, count=2)
    add_to_group(alice, group, dave)  # joined after: the card is not theirs
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = red_packet_claim(user=carol, red_packet_id=packet.pk)
    assert events_of(captured_events, "red_packet.claimed") == [
        (
            sorted([alice.pk, bob.pk, carol.pk]),
            {
                "type": "red_packet.claimed",
                "red_packet": packet.pk,
                "conversation": group.pk,
                "user": carol.number,
                "amount": result.share.amount,
                "remaining_count": 1,
            },
        )
    ]


def test_expired_reaches_the_members_and_the_sender_who_left(
    alice, bob, carol, dave, captured_events, django_capture_on_commit_callbacks
):
    grant(bob, 100)
    group = group_of(alice, bob, carol)
    packet = send(bob, group, total=60, count=2)
    red_packet_claim(user=carol, red_packet_id=packet.pk)
    member_remove(user=bob, conversation_id=group.pk, number=bob.number)  # the sender leaves
    add_to_group(alice, group, dave)
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at)
    packet.refresh_from_db()
    assert events_of(captured_events, "red_packet.expired") == [
        (
            sorted([alice.pk, bob.pk, carol.pk]),
            {
                "type": "red_packet.expired",
                "red_packet": packet.pk,
                "conversation": group.pk,
                "refunded": packet.refunded_amount,
            },
        )
    ]
    assert packet.refunded_amount > 0
    # and the task run again tells nobody anything
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at) is None
    assert captured_events == []
