"""How people look in chat (store.styles): the active bubble and name colour, the VIP badge, the
`store/style` endpoint, and every message carrying the sender's style as it was when sent, kept
right by purchases, gifts, VIP renewal and lapse, and refunds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from messaging.conversations import conversation_direct_open
from messaging.models import Message
from messaging.rendering import message_payload
from messaging.services import message_send
from store.models import Entitlement
from store.operator_actions import purchase_refund
from store.services import vip_renew
from store.styles import chat_style_of
from tests.api_helpers import assert_error
from tests.factories import make_friends
from tests.store.helpers import buy, grant, ledger_check_ok

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalog")]

OCEAN, SAKURA = "#3b82f6", "#f472b6"
CRIMSON, EMERALD = "#dc2626", "#059669"
NONE = {"bubble": None, "name_color": None, "vip": False}


@pytest.fixture
def operator(make_user):
    return make_user(username="op", is_staff=True, is_superuser=True)


@pytest.fixture
def direct(alice, bob):
    make_friends(alice, bob)
    conversation, _ = conversation_direct_open(user=alice, number=bob.number)
    return conversation


def columns(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return user.chat_bubble, user.chat_name_color, user.vip_until


def style_sent(user: User, conversation) -> dict:
    """The sender_style of a message `user` sends now, as every member receives it."""
    message, _ = message_send(sender=user, conversation_id=conversation.pk, body="hi")
    stored = Message.objects.select_related("sender").get(pk=message.pk)
    assert message_payload(stored)["sender_style"] == message_payload(message)["sender_style"]
    return message_payload(stored)["sender_style"]


def test_nothing_bought_nothing_shown(alice, direct, client_for):
    assert style_sent(alice, direct) == NONE
    response = client_for(alice).get("/api/v1/store/style")
    assert response.status_code == 200
    assert response.json() == {"bubble": None, "name_color": None}


def test_the_last_acquired_is_shown_and_travels_in_messages(alice, direct, client_for):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")
    assert style_sent(alice, direct) == {"bubble": OCEAN, "name_color": None, "vip": False}
    buy(alice, "bubble-sakura")
    buy(alice, "name-crimson")
    assert columns(alice)[:2] == (SAKURA, CRIMSON)
    assert style_sent(alice, direct) == {"bubble": SAKURA, "name_color": CRIMSON, "vip": False}
    body = client_for(alice).get("/api/v1/store/style").json()
    assert body == {"bubble": "bubble-sakura", "name_color": "name-crimson"}
    ledger_check_ok()


def test_messages_keep_the_style_they_were_sent_with(alice, bob, direct, client_for):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")
    first, _ = message_send(sender=alice, conversation_id=direct.pk, body="before")
    buy(alice, "bubble-sakura")
    second, _ = message_send(sender=alice, conversation_id=direct.pk, body="after")
    history = client_for(bob).get(f"/api/v1/conversations/{direct.pk}/messages").json()["results"]
    by_id = {m["id"]: m["sender_style"] for m in history}
    assert by_id[first.pk]["bubble"] == OCEAN
    assert by_id[second.pk]["bubble"] == SAKURA
    # and Bob's own messages carry his (none)
    mine, _ = message_send(sender=bob, conversation_id=direct.pk, body="plain")
    assert message_payload(mine)["sender_style"] == NONE


def test_choose_with_patch(alice, direct, client_for):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")
    buy(alice, "bubble-sakura")
    buy(alice, "name-crimson")
    client = client_for(alice)
    response = client.patch("/api/v1/store/style", {"bubble": "bubble-ocean"}, format="json")
    assert response.status_code == 200, response.content
    # the field left out stays as it was
    assert response.json() == {"bubble": "bubble-ocean", "name_color": "name-crimson"}
    assert style_sent(alice, direct) == {"bubble": OCEAN, "name_color": CRIMSON, "vip": False}
    response = client.patch("/api/v1/store/style", {"name_color": None}, format="json")
    assert response.json() == {"bubble": "bubble-ocean", "name_color": None}
    assert client.get("/api/v1/store/style").json() == {"bubble": "bubble-ocean", "name_color": None}
    assert style_sent(alice, direct) == {"bubble": OCEAN, "name_color": None, "vip": False}
    # an empty PATCH changes nothing
    assert client.patch("/api/v1/store/style", {}, format="json").json() == {
        "bubble": "bubble-ocean",
        "name_color": None,
    }


def test_buying_a_new_one_shows_it_even_after_choosing_none(alice, client_for):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")
    client_for(alice).patch("/api/v1/store/style", {"bubble": None}, format="json")
    assert columns(alice)[0] == ""
    buy(alice, "bubble-sakura")
    assert columns(alice)[0] == SAKURA


def test_patch_errors(alice, bob, client_for, anon):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")
    grant(bob, 1000)
    buy(bob, "bubble-sakura")
    client = client_for(alice)
    # held by someone else, never bought, no such item: 403 not_owned
    for sku in ("bubble-sakura", "bubble-gold", "no-such-item"):
        assert_error(client.patch("/api/v1/store/style", {"bubble": sku}, format="json"), 403, "not_owned")
    # an item of another kind: 400 invalid with the field named
    body = assert_error(
        client.patch("/api/v1/store/style", {"bubble": "name-crimson"}, format="json"), 400, "invalid"
    )
    assert "bubble" in body["fields"]
    body = assert_error(
        client.patch("/api/v1/store/style", {"name_color": "bubble-ocean"}, format="json"), 400, "invalid"
    )
    assert "name_color" in body["fields"]
    assert_error(
        client.patch("/api/v1/store/style", {"bubble": ["bubble-ocean"]}, format="json"), 400, "invalid"
    )
    # nothing changed by the refused requests
    assert client.get("/api/v1/store/style").json() == {"bubble": "bubble-ocean", "name_color": None}
    assert columns(alice)[0] == OCEAN
    assert columns(bob)[0] == SAKURA
    assert_error(anon.get("/api/v1/store/style"), 401, "not_authenticated")
    assert_error(anon.patch("/api/v1/store/style", {"bubble": None}, format="json"), 401, "not_authenticated")


def test_a_gifted_bubble_is_the_recipients(alice, bob, direct):
    grant(alice, 1000)
    buy(alice, "bubble-gold", gift_to=bob.number)
    assert columns(bob)[0] == "#f59e0b"
    assert columns(alice)[0] == ""
    # the gift message itself carries the buyer's (empty) style
    gift = Message.objects.filter(kind="gift").select_related("sender").get()
    assert message_payload(gift)["sender_style"] == NONE


def test_refund_of_the_shown_bubble_falls_back_to_the_last_left(alice, operator, direct):
    grant(alice, 1000)
    buy(alice, "bubble-ocean")
    sakura = buy(alice, "bubble-sakura")
    buy(alice, "name-crimson")
    purchase_refund(operator=operator, purchase_id=sakura.pk, reason="mistake")
    assert columns(alice)[:2] == (OCEAN, CRIMSON)
    assert chat_style_of(alice).bubble.sku == "bubble-ocean"
    assert style_sent(alice, direct)["bubble"] == OCEAN
    ledger_check_ok()


def test_refund_of_a_bubble_not_shown_changes_nothing(alice, operator, client_for):
    grant(alice, 1000)
    ocean = buy(alice, "bubble-ocean")
    buy(alice, "bubble-sakura")
    client_for(alice).patch("/api/v1/store/style", {"bubble": None}, format="json")
    purchase_refund(operator=operator, purchase_id=ocean.pk, reason="mistake")
    assert columns(alice)[0] == ""
    assert client_for(alice).get("/api/v1/store/style").json()["bubble"] is None


def test_refund_of_the_last_name_colour_shows_none(alice, operator, direct):
    grant(alice, 1000)
    crimson = buy(alice, "name-crimson")
    purchase_refund(operator=operator, purchase_id=crimson.pk, reason="mistake")
    assert columns(alice)[:2] == ("", "")
    assert style_sent(alice, direct) == NONE


def test_vip_purchase_renewal_and_lapse(alice, direct):
    grant(alice, 600)
    buy(alice, "vip-month")
    row = Entitlement.objects.get(user=alice, item__sku="vip-month")
    assert columns(alice)[2] == row.expires_at
    assert style_sent(alice, direct)["vip"] is True
    # renewal: the badge runs on to the new end
    row.expires_at = timezone.now() + timedelta(minutes=30)
    row.save()
    assert vip_renew(entitlement_id=row.pk) == "renewed"
    row.refresh_from_db()
    assert columns(alice)[2] == row.expires_at
    assert row.expires_at > timezone.now() + timedelta(days=29)
    # lapse (too few coins now): the badge lasts as long as the paid time, then ends by itself
    row.expires_at = timezone.now() + timedelta(minutes=30)
    row.save()
    User.objects.filter(pk=alice.pk).update(vip_until=row.expires_at)
    assert vip_renew(entitlement_id=row.pk) == "lapsed"
    assert columns(alice)[2] == row.expires_at
    assert style_sent(alice, direct)["vip"] is True
    Entitlement.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    User.objects.filter(pk=alice.pk).update(vip_until=timezone.now() - timedelta(seconds=1))
    assert style_sent(alice, direct)["vip"] is False
    ledger_check_ok()


def test_messages_stored_before_styles_render_none(alice, direct):
    grant(alice, 300)
    buy(alice, "vip-month")
    message, _ = message_send(sender=alice, conversation_id=direct.pk, body="old")
    Message.objects.filter(pk=message.pk).update(sender_style={})
    assert (
        message_payload(Message.objects.select_related("sender").get(pk=message.pk))["sender_style"] == NONE
    )


def test_vip_refund_ends_the_badge(alice, operator, direct):
    grant(alice, 300)
    purchase = buy(alice, "vip-month")
    assert style_sent(alice, direct)["vip"] is True
    purchase_refund(operator=operator, purchase_id=purchase.pk, reason="mistake")
    assert columns(alice)[2] <= timezone.now()
    assert style_sent(alice, direct)["vip"] is False
    ledger_check_ok()


def test_a_vip_given_as_a_gift_is_the_recipients(alice, bob, direct):
    grant(alice, 300)
    buy(alice, "vip-month", gift_to=bob.number)
    assert columns(bob)[2] > timezone.now()
    assert columns(alice)[2] is None
    assert style_sent(bob, direct)["vip"] is True


def test_clients_cannot_forge_a_style(alice, direct, client_for):
    response = client_for(alice).post(
        f"/api/v1/conversations/{direct.pk}/messages",
        {"body": "hi", "sender_style": {"bubble": "#000000", "name_color": "#ffffff", "vip": True}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["sender_style"] == NONE
    assert Message.objects.get(pk=response.json()["id"]).sender_style == NONE
