"""The store's HTTP API (CONTRACT section 6): every endpoint and error code."""

import uuid

import pytest

from coins.receipts import receipt_number
from store.models import Entitlement, Purchase
from tests.api_helpers import assert_error, public
from tests.factories import make_friends
from tests.store.helpers import buy, grant, ledger_check_ok, wallet_balance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalog")]


def post_purchase(client, body: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())}
    return client.post("/api/v1/store/purchases", body, format="json", **headers)


def test_items_list_the_catalog_with_owned(alice, client_for):
    grant(alice, 100)
    buy(alice, "stickers-animals")
    response = client_for(alice).get("/api/v1/store/items")
    assert response.status_code == 200
    items = {item["sku"]: item for item in response.json()}
    assert items["stickers-animals"]["owned"] is True
    assert items["stickers-faces"]["owned"] is False
    faces = items["stickers-faces"]
    assert {k: faces[k] for k in ("name", "kind", "price", "image_url")} == {
        "name": "Happy Faces",
        "kind": "sticker_pack",
        "price": 30,
        "image_url": "/static/store/pack-faces.svg",
    }
    assert [s["name"] for s in faces["stickers"]][:2] == ["smile", "laugh"]
    assert faces["stickers"][0]["image_url"] == "/static/store/stickers/smile.svg"
    assert isinstance(faces["stickers"][0]["id"], int)
    assert "stickers" not in items["gift-rose"]
    assert {i["kind"] for i in items.values()} == {"sticker_pack", "bubble", "name_color", "vip", "gift"}


def test_the_images_are_served(alice, client):
    response = client.get("/static/store/vip-badge.svg")
    assert response.status_code == 200
    assert b"<svg" in b"".join(response.streaming_content)


def test_store_needs_a_login(anon):
    for path in ("items", "purchases", "inventory", "vip"):
        assert_error(anon.get(f"/api/v1/store/{path}"), 401, "not_authenticated")
    assert_error(post_purchase(anon, {"sku": "gift-rose"}), 401, "not_authenticated")


def test_purchase_201_and_its_shape(alice, client_for):
    grant(alice, 100)
    response = post_purchase(client_for(alice), {"sku": "gift-flowers", "quantity": 2})
    assert response.status_code == 201, response.content
    body = response.json()
    purchase = Purchase.objects.get()
    assert body["id"] == purchase.pk
    assert body["transaction"] == purchase.transaction_id
    assert {k: body[k] for k in ("sku", "quantity", "price_total", "gift_to")} == {
        "sku": "gift-flowers",
        "quantity": 2,
        "price_total": 40,
        "gift_to": None,
    }
    assert body["created_at"].endswith("Z")
    assert wallet_balance(alice) == 60


def test_purchase_needs_an_idempotency_key_and_replays(alice, client_for):
    grant(alice, 100)
    client = client_for(alice)
    response = client.post("/api/v1/store/purchases", {"sku": "gift-rose"}, format="json")
    assert_error(response, 400, "idempotency_key_required")
    first = post_purchase(client, {"sku": "gift-rose"}, key="same")
    again = post_purchase(client, {"sku": "gift-rose"}, key="same")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert_error(post_purchase(client, {"sku": "gift-heart"}, key="same"), 409, "idempotency_key_reused")
    assert wallet_balance(alice) == 95


def test_purchase_errors(alice, bob, client_for):
    grant(alice, 40)
    client = client_for(alice)
    assert_error(post_purchase(client, {"sku": "vip-month"}), 409, "insufficient_funds")
    assert_error(post_purchase(client, {"sku": "gift-rose", "gift_to": bob.number}), 403, "not_friends")
    assert_error(post_purchase(client, {"sku": "gift-rose", "gift_to": 99999999}), 404, "not_found")
    for bad in (
        {},
        {"sku": "nope"},
        {"sku": "gift-rose", "quantity": 0},
        {"sku": "gift-rose", "quantity": 100},
        {"sku": "gift-rose", "quantity": "1"},
        {"sku": "bubble-ocean", "quantity": 2},
        {"sku": "gift-rose", "gift_to": "x"},
    ):
        assert_error(post_purchase(client, bad), 400, "invalid")
    assert post_purchase(client, {"sku": "name-crimson"}).status_code == 201
    assert_error(post_purchase(client, {"sku": "name-crimson"}), 409, "already_owned")
    assert wallet_balance(alice) == 0
    ledger_check_ok()


def test_gift_over_http(alice, bob, client_for):
    make_friends(alice, bob)
    grant(alice, 100)
    response = post_purchase(client_for(alice), {"sku": "gift-rose", "quantity": 3, "gift_to": bob.number})
    assert response.status_code == 201, response.content
    assert response.json()["gift_to"] == public(bob)
    inventory = client_for(bob).get("/api/v1/store/inventory").json()
    assert inventory == [{"sku": "gift-rose", "kind": "gift", "quantity": 3, "expires_at": None}]
    assert client_for(alice).get("/api/v1/store/inventory").json() == []


def test_purchase_history_paginated_newest_first_with_receipts(alice, bob, client_for):
    grant(alice, 1000)
    bought = [buy(alice, "gift-rose") for _ in range(3)]
    client = client_for(alice)
    page = client.get("/api/v1/store/purchases?limit=2").json()
    assert [p["id"] for p in page["results"]] == [bought[2].pk, bought[1].pk]
    assert page["has_more"] is True
    assert page["results"][0]["receipt"] == receipt_number(bought[2].transaction)
    assert page["results"][0]["refunded"] is False
    rest = client.get(f"/api/v1/store/purchases?before={bought[1].pk}").json()
    assert [p["id"] for p in rest["results"]] == [bought[0].pk] and rest["has_more"] is False
    assert client_for(bob).get("/api/v1/store/purchases").json() == {"results": [], "has_more": False}
    assert_error(client.get("/api/v1/store/purchases?limit=0"), 400, "invalid")


def test_inventory_and_vip_status(alice, client_for):
    grant(alice, 1000)
    buy(alice, "vip-month")
    buy(alice, "bubble-gold")
    client = client_for(alice)
    inventory = {line["sku"]: line for line in client.get("/api/v1/store/inventory").json()}
    assert inventory["bubble-gold"] == {
        "sku": "bubble-gold",
        "kind": "bubble",
        "quantity": 1,
        "expires_at": None,
    }
    vip_row = Entitlement.objects.get(item__sku="vip-month")
    assert inventory["vip-month"]["expires_at"].startswith(vip_row.expires_at.strftime("%Y-%m-%dT%H:%M"))
    vip = client.get("/api/v1/store/vip").json()
    assert vip["active"] is True and vip["auto_renew"] is True and vip["sku"] == "vip-month"
    assert vip["lapsed_at"] is None


def test_vip_auto_renew_switch(alice, bob, client_for):
    grant(alice, 300)
    buy(alice, "vip-month")
    response = client_for(alice).patch("/api/v1/store/vip", {"auto_renew": False}, format="json")
    assert response.status_code == 200
    assert response.json()["auto_renew"] is False
    assert Entitlement.objects.get(user=alice).auto_renew is False
    assert_error(client_for(alice).patch("/api/v1/store/vip", {}, format="json"), 400, "invalid")
    assert_error(
        client_for(bob).patch("/api/v1/store/vip", {"auto_renew": True}, format="json"), 404, "not_found"
    )
    assert client_for(bob).get("/api/v1/store/vip").json()["active"] is False
