"""The red-packet API over HTTP (CONTRACT section 6): every endpoint's success and error codes,
the Idempotency-Key on sending, and 404 for what the caller may not see."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coins.ledger import wallet_balance
from coins.models import Transaction
from messaging.models import Message
from redpackets.models import RedPacket
from tests.api_helpers import assert_error, public
from tests.coins.helpers import grant
from tests.redpackets.helpers import add_to_group, direct_between, group_of

pytestmark = pytest.mark.django_db

BODY = {"total": 100, "count": 2, "mode": "random", "greeting": "新年快乐"}


@pytest.fixture
def group(alice, bob, carol):
    grant(alice, 1000)
    return group_of(alice, bob, carol)


@pytest.fixture
def as_alice(alice, client_for):
    return client_for(alice)


@pytest.fixture
def as_bob(bob, client_for):
    return client_for(bob)


def send(client, conversation, body=BODY, key="k-1", slash=""):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        f"/api/v1/conversations/{conversation.pk}/red-packets{slash}", body, format="json", **headers
    )


def claim(client, packet_id):
    return client.post(f"/api/v1/red-packets/{packet_id}/claim")


def detail(client, packet_id):
    return client.get(f"/api/v1/red-packets/{packet_id}")


def test_send_answers_201_with_the_packet(alice, group, as_alice):
    response = send(as_alice, group)

    assert response.status_code == 201, response.content
    body = response.json()
    packet = RedPacket.objects.get()
    assert body == {
        "id": packet.pk,
        "conversation": group.pk,
        "message": packet.message_id,
        "sender": {**public(alice), "presence": body["sender"]["presence"]},
        "mode": "random",
        "greeting": "新年快乐",
        "total": 100,
        "count": 2,
        "remaining_amount": 100,
        "remaining_count": 2,
        "refunded_amount": 0,
        "status": "open",
        "claims": [],
        "luckiest": None,
        "my_amount": None,
        "my_claim": None,
        "expired": False,
        "can_claim": False,
        "created_at": body["created_at"],
        "expires_at": body["expires_at"],
    }
    assert wallet_balance(alice) == 900
    history = as_alice.get(f"/api/v1/conversations/{group.pk}/messages").json()["results"]
    assert history[-1]["kind"] == "red_packet"
    assert history[-1]["data"] == {"red_packet": packet.pk}
    assert history[-1]["body"] == "新年快乐"


def test_send_needs_an_idempotency_key(group, as_alice):
    assert_error(send(as_alice, group, key=None), 400, "idempotency_key_required")
    assert not RedPacket.objects.exists()


def test_send_is_idempotent(alice, group, as_alice):
    first = send(as_alice, group, key="same")
    again = send(as_alice, group, key="same", slash="/")  # both spellings are one route

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert RedPacket.objects.count() == 1 and Message.objects.filter(kind="red_packet").count() == 1
    assert Transaction.objects.filter(kind="red_packet").count() == 1
    assert wallet_balance(alice) == 900
    assert_error(
        send(as_alice, group, body={**BODY, "total": 101}, key="same"), 409, "idempotency_key_reused"
    )
    assert send(as_alice, group, key="other").status_code == 201
    assert wallet_balance(alice) == 800


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": "100"}, "total"),
        ({"total": 10.5}, "total"),
        ({"total": 0}, "total"),
        ({"total": -1}, "total"),
        ({"total": 1_000_001}, "total"),
        ({"total": None}, "total"),
        ({"count": 0}, "count"),
        ({"count": "2"}, "count"),
        ({"count": 3}, "count"),  # two others in the group
        ({"total": 1, "count": 2}, "total"),
        ({"total": 101, "mode": "equal"}, "total"),
        ({"mode": "lucky"}, "mode"),
        ({"greeting": "x" * 101}, "greeting"),
    ],
)
def test_send_validation(alice, group, as_alice, change, field):
    body = assert_error(send(as_alice, group, body={**BODY, **change}), 400, "invalid")
    assert field in body["fields"]
    assert wallet_balance(alice) == 1000 and not RedPacket.objects.exists()


def test_send_missing_fields(group, as_alice):
    body = assert_error(send(as_alice, group, body={}), 400, "invalid")
    assert {"total", "count", "mode"} <= set(body["fields"])


def test_send_insufficient_funds(group, as_alice):
    assert_error(send(as_alice, group, body={**BODY, "total": 1001}), 409, "insufficient_funds")


def test_send_into_someone_elses_conversation_is_404(group, make_user, client_for):
    outsider = make_user()
    grant(outsider, 100)
    assert_error(send(client_for(outsider), group), 404, "not_found")
    assert_error(send(client_for(outsider), group.__class__(pk=group.pk + 999)), 404, "not_found")


def test_send_in_a_direct_chat(alice, bob, as_alice):
    grant(alice, 10)
    chat = direct_between(alice, bob)
    assert_error(send(as_alice, chat, body={**BODY, "total": 10}), 400, "invalid")  # count 2 > 1
    assert send(as_alice, chat, body={"total": 10, "count": 1, "mode": "equal"}, key="k-2").status_code == 201


def test_unauthenticated(group, anon):
    assert_error(send(anon, group), 401, "not_authenticated")
    assert_error(claim(anon, 1), 401, "not_authenticated")
    assert_error(detail(anon, 1), 401, "not_authenticated")


def test_claim_and_detail(alice, bob, carol, group, as_alice, as_bob, client_for):
    packet_id = send(as_alice, group).json()["id"]
    shares = list(RedPacket.objects.get().shares.order_by("position").values_list("amount", flat=True))

    response = claim(as_bob, packet_id)
    assert response.status_code == 200
    assert response.json() == {"amount": shares[0], "balance": shares[0], "red_packet": packet_id}
    assert_error(claim(as_bob, packet_id), 409, "already_claimed")
    assert_error(claim(as_alice, packet_id), 403, "sender_cannot_claim")

    as_carol = client_for(carol)
    seen = detail(as_carol, packet_id).json()
    assert seen["can_claim"] is True and seen["my_amount"] is None
    assert (seen["remaining_amount"], seen["remaining_count"]) == (shares[1], 1)
    assert [(c["user"]["number"], c["amount"]) for c in seen["claims"]] == [(bob.number, shares[0])]
    assert set(seen["claims"][0]) == {"user", "amount", "at"}
    assert seen["claims"][0]["user"] == {**public(bob), "presence": seen["claims"][0]["user"]["presence"]}

    assert claim(as_carol, packet_id).json()["amount"] == shares[1]
    assert_error(claim(client_for(alice), packet_id), 403, "sender_cannot_claim")
    done = detail(as_bob, packet_id).json()
    assert (done["status"], done["remaining_amount"], done["remaining_count"]) == ("exhausted", 0, 0)
    assert done["my_amount"] == shares[0] and done["can_claim"] is False
    luckiest = bob if shares[0] >= shares[1] else carol
    assert done["luckiest"]["number"] == luckiest.number


def test_claim_exhausted(alice, bob, carol, make_user, client_for):
    grant(alice, 10)
    dave = make_user()
    group = group_of(alice, bob, carol, dave)
    packet_id = send(client_for(alice), group, body={"total": 10, "count": 2, "mode": "equal"}).json()["id"]
    claim(client_for(bob), packet_id)
    claim(client_for(carol), packet_id)
    assert_error(claim(client_for(dave), packet_id), 410, "exhausted")


def test_claim_expired(alice, group, as_alice, as_bob, monkeypatch):
    packet_id = send(as_alice, group).json()["id"]
    packet = RedPacket.objects.get()
    later = packet.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert_error(claim(as_bob, packet_id), 410, "expired")
    assert detail(as_bob, packet_id).json()["can_claim"] is False

    from redpackets.tasks import expire_red_packets

    assert expire_red_packets.delay().get() == 1
    assert_error(claim(as_bob, packet_id), 410, "expired")
    gone = detail(as_alice, packet_id).json()
    assert (gone["status"], gone["refunded_amount"], gone["remaining_amount"]) == ("expired", 100, 0)
    assert wallet_balance(alice) == 1000


def test_what_the_caller_may_not_see_is_404(alice, group, as_alice, make_user, client_for):
    packet_id = send(as_alice, group).json()["id"]
    outsider, late = make_user(), make_user()
    add_to_group(alice, group, late)
    for person in (outsider, late):
        assert_error(claim(client_for(person), packet_id), 404, "not_found")
        assert_error(detail(client_for(person), packet_id), 404, "not_found")
    assert_error(detail(as_alice, packet_id + 1000), 404, "not_found")
    assert_error(claim(as_alice, packet_id + 1000), 404, "not_found")
    assert_error(detail(as_alice, 10**25), 404, "not_found")  # past 64 bits: no route


def test_the_schema_documents_the_endpoints(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    send_op = paths["/api/v1/conversations/{conversation_id}/red-packets"]["post"]
    assert {"201", "400", "403", "404", "409", "429"} <= set(send_op["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in send_op["parameters"])
    claim_op = paths["/api/v1/red-packets/{red_packet_id}/claim"]["post"]
    assert {"200", "403", "404", "409", "410"} <= set(claim_op["responses"])
    assert "200" in paths["/api/v1/red-packets/{red_packet_id}"]["get"]["responses"]
