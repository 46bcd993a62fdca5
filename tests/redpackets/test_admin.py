"""The read-only admin of red packets and shares: operators look, nobody changes anything."""

import pytest
from django.test import Client

from accounts.models import User
from redpackets.services import red_packet_claim, red_packet_send
from tests.coins.helpers import grant
from tests.redpackets.helpers import group_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", password="Root-Pass-5151"))
    return client


@pytest.fixture
def packet(alice, bob, carol):
    grant(alice, 100)
    group = group_of(alice, bob, carol)
    packet = red_packet_send(sender=alice, conversation_id=group.pk, total=100, count=2, mode="random")
    red_packet_claim(user=bob, red_packet_id=packet.pk)
    return packet


def test_lists_details_and_search(root, packet, alice, bob):
    assert root.get("/admin/redpackets/redpacket/").status_code == 200
    assert root.get("/admin/redpackets/redpacketshare/").status_code == 200
    page = root.get(f"/admin/redpackets/redpacket/{packet.pk}/change/")
    assert page.status_code == 200 and str(bob) in page.content.decode()
    for term in (str(packet.pk), str(alice.number), "alice"):
        found = root.get("/admin/redpackets/redpacket/", {"q": term})
        assert f"/admin/redpackets/redpacket/{packet.pk}/change/" in found.content.decode(), term
    found = root.get("/admin/redpackets/redpacketshare/", {"q": str(bob.number)})
    assert found.status_code == 200 and "1 result" in found.content.decode()


def test_nothing_can_be_added_changed_or_deleted(root, packet):
    share = packet.shares.first()
    assert root.get("/admin/redpackets/redpacket/add/").status_code == 403
    assert root.get(f"/admin/redpackets/redpacket/{packet.pk}/delete/").status_code == 403
    assert root.get("/admin/redpackets/redpacketshare/add/").status_code == 403
    assert root.get(f"/admin/redpackets/redpacketshare/{share.pk}/delete/").status_code == 403
    packet.refresh_from_db()
    before = packet.remaining_amount
    root.post(f"/admin/redpackets/redpacket/{packet.pk}/change/", {"remaining_amount": 0})
    packet.refresh_from_db()
    assert packet.remaining_amount == before
