"""Gifts given in chat from the inventory (store.gifts, `POST conversations/<id>/gifts`): one gift
used and one `gift` message in one transaction, idempotent by client_id, every error code, the
direct-chat rules, refunds of used gifts refused, and racing sends of the last gift on PostgreSQL."""

import pytest
from django.db import connection

from accounts.models import Block, Friendship
from messaging.conversations import conversation_direct_open, conversation_group_create
from messaging.models import Message
from store.errors import NotOwned, NotRefundable
from store.gifts import gift_send
from store.models import Entitlement
from store.operator_actions import purchase_refund
from tests.api_helpers import assert_error
from tests.concurrency import race
from tests.factories import make_friends
from tests.store.helpers import buy, grant, ledger_check_ok

pytestmark = pytest.mark.usefixtures("catalog")

ROSE_DATA = {
    "purchase": None,
    "sku": "gift-rose",
    "name": "Rose",
    "quantity": 1,
    "image_url": "/static/store/gift-rose.svg",
}


@pytest.fixture
def direct(alice, bob):
    make_friends(alice, bob)
    conversation, _ = conversation_direct_open(user=alice, number=bob.number)
    return conversation


def roses(user) -> int:
    row = Entitlement.objects.filter(user=user, item__sku="gift-rose").first()
    return row.quantity if row else 0


def post_gift(client, conversation_id: int, body: dict):
    return client.post(f"/api/v1/conversations/{conversation_id}/gifts", body, format="json")


@pytest.mark.django_db
def test_gift_sent_in_chat(
    alice, bob, direct, client_for, captured_events, django_capture_on_commit_callbacks
):
    grant(alice, 100)
    buy(alice, "gift-rose", quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_gift(client_for(alice), direct.pk, {"sku": "gift-rose", "client_id": "g-1"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["body"], body["data"], body["client_id"]) == ("gift", "Rose", ROSE_DATA, "g-1")
    assert body["sender"] == {"number": alice.number, "display_name": alice.display_name}
    assert body["sender_style"] == {"bubble": None, "name_color": None, "vip": False}
    assert roses(alice) == 1
    # pushed to both members like any message
    assert captured_events == [(sorted([alice.pk, bob.pk]), {"type": "message.new", "message": body})]
    # Bob sees it in the history; the inventory shows one left
    history = client_for(bob).get(f"/api/v1/conversations/{direct.pk}/messages").json()["results"]
    assert history[-1] == body
    inventory = client_for(alice).get("/api/v1/store/inventory").json()
    assert {"sku": "gift-rose", "kind": "gift", "quantity": 1, "expires_at": None} in inventory
    ledger_check_ok()


@pytest.mark.django_db
def test_a_repeated_client_id_uses_nothing(alice, direct, client_for):
    grant(alice, 100)
    buy(alice, "gift-rose", quantity=2)
    client = client_for(alice)
    first = post_gift(client, direct.pk, {"sku": "gift-rose", "client_id": "same"})
    again = post_gift(client, direct.pk, {"sku": "gift-rose", "client_id": "same"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert roses(alice) == 1
    assert Message.objects.filter(kind="gift", sender=alice, client_id="same").count() == 1
    # also when none are left: the repeat still answers the first message
    post_gift(client, direct.pk, {"sku": "gift-rose"})
    assert roses(alice) == 0
    assert post_gift(client, direct.pk, {"sku": "gift-rose", "client_id": "same"}).json() == first.json()
    # without a client_id every send is a new gift
    assert_error(post_gift(client, direct.pk, {"sku": "gift-rose"}), 403, "not_owned")


@pytest.mark.django_db
def test_in_a_group(alice, bob, carol, client_for):
    make_friends(alice, bob)
    make_friends(alice, carol)
    group = conversation_group_create(user=alice, title="Party", member_numbers=[bob.number, carol.number])
    grant(bob, 100)
    buy(bob, "gift-cake")
    response = post_gift(client_for(bob), group.pk, {"sku": "gift-cake"})
    assert response.status_code == 201, response.content
    assert response.json()["data"]["sku"] == "gift-cake"
    assert response.json()["conversation"] == group.pk
    assert Entitlement.objects.get(user=bob, item__sku="gift-cake").quantity == 0


@pytest.mark.django_db
def test_not_owned(alice, bob, direct, client_for):
    grant(bob, 100)
    buy(bob, "gift-rose")  # Bob's roses are not Alice's
    client = client_for(alice)
    for sku in ("gift-rose", "gift-heart", "no-such-gift"):
        assert_error(post_gift(client, direct.pk, {"sku": sku}), 403, "not_owned")
    grant(alice, 100)
    buy(alice, "gift-heart")
    assert post_gift(client, direct.pk, {"sku": "gift-heart"}).status_code == 201
    assert_error(post_gift(client, direct.pk, {"sku": "gift-heart"}), 403, "not_owned")  # used up
    assert Message.objects.filter(kind="gift", sender=alice).count() == 1
    ledger_check_ok()


@pytest.mark.django_db
def test_invalid_input(alice, direct, client_for):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")  # owned, but not a gift
    client = client_for(alice)
    body = assert_error(post_gift(client, direct.pk, {"sku": "bubble-ocean"}), 400, "invalid")
    assert "sku" in body["fields"]
    assert "sku" in assert_error(post_gift(client, direct.pk, {}), 400, "invalid")["fields"]
    assert_error(post_gift(client, direct.pk, {"sku": ["gift-rose"]}), 400, "invalid")
    buy(alice, "gift-rose")
    body = assert_error(
        post_gift(client, direct.pk, {"sku": "gift-rose", "client_id": "x" * 65}), 400, "invalid"
    )
    assert "client_id" in body["fields"]
    assert roses(alice) == 1


@pytest.mark.django_db
def test_conversations_not_yours_are_404(alice, bob, carol, direct, client_for, anon):
    grant(carol, 100)
    buy(carol, "gift-rose")
    assert_error(post_gift(client_for(carol), direct.pk, {"sku": "gift-rose"}), 404, "not_found")
    assert_error(post_gift(client_for(carol), 987654, {"sku": "gift-rose"}), 404, "not_found")
    # 404 before anything about the gift: a non-member learns nothing
    assert_error(post_gift(client_for(carol), direct.pk, {"sku": "gift-heart"}), 404, "not_found")
    assert roses(carol) == 1
    assert_error(post_gift(anon, direct.pk, {"sku": "gift-rose"}), 401, "not_authenticated")


@pytest.mark.django_db
def test_direct_chat_rules(alice, bob, direct, client_for):
    grant(alice, 100)
    buy(alice, "gift-rose", quantity=3)
    client = client_for(alice)
    Friendship.objects.filter(user__in=[alice, bob]).delete()
    assert_error(post_gift(client, direct.pk, {"sku": "gift-rose"}), 403, "not_friends")
    make_friends(alice, bob)
    Block.objects.create(blocker=bob, blocked=alice)
    assert_error(post_gift(client, direct.pk, {"sku": "gift-rose"}), 403, "blocked")
    assert roses(alice) == 3
    assert not Message.objects.filter(kind="gift").exists()


@pytest.mark.django_db
def test_clients_cannot_send_gift_messages_themselves(alice, direct, client_for):
    grant(alice, 100)
    buy(alice, "gift-rose")
    response = client_for(alice).post(
        f"/api/v1/conversations/{direct.pk}/messages",
        {"kind": "gift", "body": "Rose", "data": ROSE_DATA},
        format="json",
    )
    assert_error(response, 400, "invalid")
    assert not Message.objects.filter(kind="gift").exists()
    assert roses(alice) == 1


@pytest.mark.django_db
def test_a_gift_used_in_chat_cannot_be_refunded(alice, direct, make_user):
    operator = make_user(username="op", is_staff=True, is_superuser=True)
    grant(alice, 100)
    purchase = buy(alice, "gift-rose", quantity=2)
    gift_send(sender=alice, conversation_id=direct.pk, sku="gift-rose")
    with pytest.raises(NotRefundable):
        purchase_refund(operator=operator, purchase_id=purchase.pk, reason="changed my mind")
    assert roses(alice) == 1
    ledger_check_ok()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_sends_of_the_last_gift_use_it_once(alice, bob):
    assert connection.vendor == "postgresql"
    make_friends(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    grant(alice, 100)
    buy(alice, "gift-rose", quantity=2)
    results, errors = race(5, lambda i: gift_send(sender=alice, conversation_id=direct.pk, sku="gift-rose"))
    assert len(results) == 2
    assert len(errors) == 3 and all(isinstance(e, NotOwned) for e in errors), errors
    assert roses(alice) == 0
    assert Message.objects.filter(kind="gift", sender=alice).count() == 2
    # the same client_id racing: one message, one gift used
    buy(alice, "gift-rose", quantity=2)
    results, errors = race(
        4, lambda i: gift_send(sender=alice, conversation_id=direct.pk, sku="gift-rose", client_id="one")
    )
    assert not errors, errors
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({message.pk for message, _ in results}) == 1
    assert roses(alice) == 1
    ledger_check_ok()
