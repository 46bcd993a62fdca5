"""The store page `/store/`: catalog with images, buy and gift forms (a double submit buys once),
clear messages for too few coins and already owned, inventory and the VIP switch."""

import re

import pytest

from store.models import Entitlement, Purchase
from tests.factories import make_friends
from tests.store.helpers import buy, grant, wallet_balance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalog")]


def _key(page: bytes, sku: str) -> str:
    block = page.decode().split(f'id="item-{sku}"', 1)[1]
    return re.search(r'name="key" value="([^"]+)"', block).group(1)


def test_the_page_needs_a_login(client):
    response = client.get("/store/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_lists_the_catalog(alice, bob, client):
    make_friends(alice, bob)
    grant(alice, 100)
    buy(alice, "gift-rose", quantity=2)
    client.force_login(alice)
    page = client.get("/store/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Happy Faces" in html and "/static/store/pack-faces.svg" in html
    assert "/static/store/stickers/smile.svg" in html
    assert "Gift to a friend" in html and f'value="{bob.number}"' in html
    assert 'id="inventory-heading"' in html and "\u00d7 2" in html


def test_buy_with_a_double_submit_buys_once(alice, client):
    grant(alice, 100)
    client.force_login(alice)
    key = _key(client.get("/store/").content, "bubble-ocean")
    for _ in range(2):
        response = client.post("/store/buy/", {"sku": "bubble-ocean", "key": key}, follow=True)
    assert response.status_code == 200
    assert Purchase.objects.count() == 1
    assert wallet_balance(alice) == 40
    assert "You bought Ocean bubble." in response.content.decode()


def test_too_few_coins_and_already_owned_are_explained(alice, client):
    grant(alice, 70)
    buy(alice, "name-violet")
    client.force_login(alice)
    poor = client.post("/store/buy/", {"sku": "vip-month", "key": "k1"}, follow=True).content.decode()
    assert "You do not have enough coins for this." in poor
    owned = client.post("/store/buy/", {"sku": "name-violet", "key": "k2"}, follow=True).content.decode()
    assert "Already owned" in owned
    assert wallet_balance(alice) == 30


def test_gift_from_the_page(alice, bob, client):
    make_friends(alice, bob)
    grant(alice, 100)
    client.force_login(alice)
    response = client.post(
        "/store/buy/",
        {"sku": "gift-cake", "key": "g1", "quantity": "2", "gift_to": str(bob.number)},
        follow=True,
    )
    assert "You gave Birthday cake to Bob." in response.content.decode()
    assert Entitlement.objects.get(user=bob).quantity == 2


def test_vip_switch(alice, client):
    grant(alice, 300)
    buy(alice, "vip-month")
    client.force_login(alice)
    assert "Renew automatically" in client.get("/store/").content.decode()
    client.post("/store/vip/", {})
    assert Entitlement.objects.get(user=alice).auto_renew is False
    client.post("/store/vip/", {"auto_renew": "on"})
    assert Entitlement.objects.get(user=alice).auto_renew is True
