"""The sender's style travels in every message event (socket ack, message.new, message.edited,
message.recalled, sync) as stamped at the send; a client's frame cannot set it."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import User
from messaging import services

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
STYLE = {"bubble": "#3b82f6", "name_color": "#dc2626", "vip": True}


def _style(user: User) -> None:
    User.objects.filter(pk=user.pk).update(
        chat_bubble="#3b82f6", chat_name_color="#dc2626", vip_until=timezone.now() + timedelta(days=1)
    )


async def test_socket_events_carry_the_style_stamped_at_the_send(connect, alice, bob, direct):
    await db(_style)(alice)
    alice_tab, bob_tab = await connect(alice), await connect(bob)
    await alice_tab.send(
        {
            "type": "message.send",
            "conversation": direct.pk,
            "body": "styled",
            "client_id": "s-1",
            # a forged style in the frame is not taken
            "sender_style": {"bubble": "#000000", "name_color": None, "vip": False},
        }
    )
    frame = await alice_tab.expect("message.ack")
    assert frame["message"]["sender_style"] == STYLE
    assert (await bob_tab.expect("message.new"))["message"]["sender_style"] == STYLE

    # the style changes later: the message keeps the one it was sent with
    await db(User.objects.filter(pk=alice.pk).update)(chat_bubble="", chat_name_color="", vip_until=None)
    await db(services.message_edit)(user=alice, message_id=frame["message"]["id"], body="edited")
    assert (await bob_tab.expect("message.edited"))["message"]["sender_style"] == STYLE
    await db(services.message_recall)(user=alice, message_id=frame["message"]["id"])
    assert (await bob_tab.expect("message.recalled"))["message"]["sender_style"] == STYLE

    # sync replays it as well
    await bob_tab.send({"type": "sync", "after": 0})
    replayed = await bob_tab.expect("message.new")
    assert replayed["message"]["sender_style"] == STYLE
    # and a message sent now has none
    await alice_tab.send(
        {"type": "message.send", "conversation": direct.pk, "body": "plain", "client_id": "s-2"}
    )
    ack = await alice_tab.expect("message.ack", skip=("presence", "message.recalled", "message.edited"))
    assert ack["message"]["sender_style"] == {"bubble": None, "name_color": None, "vip": False}
