"""`peer_last_read_id` on the conversation object: after a reload a client shows what the other
person of a direct conversation has read, only when their read receipts are on (exactly as the
socket's `read` events), never in groups."""

import pytest

from messaging.conversations import conversation_direct_open
from messaging.services import conversation_read, message_send
from tests.messaging.conftest import befriend

pytestmark = pytest.mark.django_db


def listed(client, conversation_id: int) -> dict:
    return next(c for c in client.get("/api/v1/conversations").json() if c["id"] == conversation_id)


def detail(client, conversation_id: int) -> dict:
    response = client.get(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200
    return response.json()


def test_the_peers_marker_in_list_and_detail(alice, bob, direct, client_for):
    as_alice = client_for(alice)
    assert listed(as_alice, direct.pk)["peer_last_read_id"] == 0
    assert detail(as_alice, direct.pk)["peer_last_read_id"] == 0
    first, _ = message_send(sender=alice, conversation_id=direct.pk, body="one")
    second, _ = message_send(sender=alice, conversation_id=direct.pk, body="two")
    conversation_read(user=bob, conversation_id=direct.pk, up_to=first.pk)
    assert listed(as_alice, direct.pk)["peer_last_read_id"] == first.pk
    assert detail(as_alice, direct.pk)["peer_last_read_id"] == first.pk
    # Alice's own marker is not it; Bob sees Alice's
    conversation_read(user=bob, conversation_id=direct.pk, up_to=second.pk)
    assert detail(as_alice, direct.pk)["peer_last_read_id"] == second.pk
    as_bob = client_for(bob)
    assert detail(as_bob, direct.pk)["peer_last_read_id"] == 0
    assert detail(as_bob, direct.pk)["last_read_id"] == second.pk


def test_read_receipts_off_hides_it(alice, bob, direct, client_for):
    message, _ = message_send(sender=alice, conversation_id=direct.pk, body="one")
    conversation_read(user=bob, conversation_id=direct.pk, up_to=message.pk)
    assert client_for(bob).patch("/api/v1/me", {"read_receipts": False}, format="json").status_code == 200
    as_alice = client_for(alice)
    assert listed(as_alice, direct.pk)["peer_last_read_id"] is None
    assert detail(as_alice, direct.pk)["peer_last_read_id"] is None
    # Bob still sees Alice's (hers are on)
    conversation_read(user=alice, conversation_id=direct.pk, up_to=message.pk)
    assert detail(client_for(bob), direct.pk)["peer_last_read_id"] == message.pk
    client_for(bob).patch("/api/v1/me", {"read_receipts": True}, format="json")
    assert detail(as_alice, direct.pk)["peer_last_read_id"] == message.pk


def test_null_in_groups(alice, bob, group, client_for):
    message, _ = message_send(sender=alice, conversation_id=group.pk, body="hi all")
    conversation_read(user=bob, conversation_id=group.pk, up_to=message.pk)
    assert listed(client_for(alice), group.pk)["peer_last_read_id"] is None
    assert detail(client_for(alice), group.pk)["peer_last_read_id"] is None


def test_a_new_direct_conversation_announces_zero(
    alice, bob, captured_events, django_capture_on_commit_callbacks
):
    befriend(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_direct_open(user=alice, number=bob.number)
    announced = [e["conversation"] for _, e in captured_events if e["type"] == "conversation.new"]
    assert [c["peer_last_read_id"] for c in announced] == [0, 0]


def test_conversations_not_yours_are_404(carol, direct, client_for):
    response = client_for(carol).get(f"/api/v1/conversations/{direct.pk}")
    assert response.status_code == 404
    assert all(c["id"] != direct.pk for c in client_for(carol).get("/api/v1/conversations").json())
