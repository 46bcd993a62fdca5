"""Sticker messages need the pack (CONTRACT section 6): over HTTP and over the socket, both
through messaging.services.message_send and the store's content rule."""

import uuid

import pytest
from channels.db import database_sync_to_async

from messaging.conversations import conversation_direct_open
from messaging.models import Message
from store.demo import seed_store_catalog
from store.models import Sticker
from tests.api_helpers import assert_error
from tests.factories import make_friends
from tests.messaging.conftest import connect  # noqa: F401 - the socket fixture
from tests.store.helpers import buy, grant

db = database_sync_to_async


def _direct(alice, bob):
    make_friends(alice, bob)
    conversation, _ = conversation_direct_open(user=alice, number=bob.number)
    return conversation


def _sticker(sku: str = "stickers-faces", name: str = "smile") -> dict:
    return {"sku": sku, "sticker": Sticker.objects.get(pack__sku=sku, name=name).pk}


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_http_sticker_refused_unless_the_pack_is_owned(alice, bob, client_for):
    conversation = _direct(alice, bob)
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    body = {"kind": "sticker", "body": "", "data": _sticker()}
    assert_error(client_for(alice).post(url, body, format="json"), 403, "not_owned")
    missing_pack = {"kind": "sticker", "body": "", "data": {"sku": "no-such-pack", "sticker": 1}}
    assert_error(client_for(alice).post(url, missing_pack, format="json"), 403, "not_owned")
    assert not Message.objects.filter(kind="sticker").exists()

    grant(alice, 30)
    buy(alice, "stickers-faces")
    response = client_for(alice).post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["data"] == body["data"]
    # Bob does not own it: he cannot send it back.
    assert_error(client_for(bob).post(url, body, format="json"), 403, "not_owned")


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_a_sticker_of_another_pack_or_by_name(alice, bob, client_for):
    conversation = _direct(alice, bob)
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    grant(alice, 30)
    buy(alice, "stickers-faces")
    other = {
        "kind": "sticker",
        "body": "",
        "data": {"sku": "stickers-faces", "sticker": _sticker("stickers-animals", "cat")["sticker"]},
    }
    assert_error(client_for(alice).post(url, other, format="json"), 400, "invalid")
    by_name = {"kind": "sticker", "body": "", "data": {"sku": "stickers-faces", "sticker": "wink"}}
    assert client_for(alice).post(url, by_name, format="json").status_code == 201


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_a_pack_given_as_a_gift_is_the_recipients(alice, bob, client_for):
    conversation = _direct(alice, bob)
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    body = {"kind": "sticker", "body": "", "data": _sticker("stickers-animals", "panda")}
    grant(alice, 50)
    buy(alice, "stickers-animals", gift_to=bob.number)
    assert client_for(bob).post(url, body, format="json").status_code == 201
    assert_error(client_for(alice).post(url, body, format="json"), 403, "not_owned")


@pytest.mark.django_db(transaction=True)
async def test_socket_sticker_refused_unless_owned(alice, bob, connect):  # noqa: F811
    await db(seed_store_catalog)()
    conversation = await db(_direct)(alice, bob)
    data = await db(_sticker)()
    socket = await connect(alice)
    frame = {
        "type": "message.send",
        "conversation": conversation.pk,
        "kind": "sticker",
        "body": "",
        "data": data,
        "client_id": "s1",
    }
    await socket.send(frame)
    error = await socket.expect("error")
    assert (error["code"], error["client_id"]) == ("not_owned", "s1")

    await db(grant)(alice, 30)
    await db(buy)(alice, "stickers-faces", idempotency_key=str(uuid.uuid4()))
    await socket.send({**frame, "client_id": "s2"})
    ack = await socket.expect("message.ack", skip=("presence", "coins.balance"))
    assert ack["client_id"] == "s2"
    assert ack["message"]["kind"] == "sticker" and ack["message"]["data"] == data
