"""Racing purchases on PostgreSQL (real threads, each with its own connection): of several
purchases of one non-consumable for one person exactly one is charged, through the service and
through HTTP; gifts racing from several friends all land."""

import uuid

import pytest
from rest_framework.test import APIClient

from store.errors import AlreadyOwned
from store.models import Entitlement, Purchase
from tests.concurrency import race
from tests.conftest import token_for
from tests.factories import make_friends
from tests.store.helpers import (
    buy,
    grant,
    ledger_check_ok,
    purchase_transactions,
    wallet_balance,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalog"),
]


def test_racing_purchases_of_a_non_consumable_charge_once(alice):
    grant(alice, 1000)
    results, errors = race(6, lambda i: buy(alice, "bubble-gold", idempotency_key=f"k{i}"))
    assert len(results) == 1
    assert len(errors) == 5 and all(isinstance(e, AlreadyOwned) for e in errors), errors
    assert wallet_balance(alice) == 880
    assert len(purchase_transactions(alice)) == 1
    assert Entitlement.objects.get(user=alice).quantity == 1
    ledger_check_ok()


def test_racing_gifts_and_own_purchase_of_the_same_pack(alice, bob, carol):
    make_friends(alice, carol)
    make_friends(bob, carol)
    for person in (alice, bob, carol):
        grant(person, 100)
    buyers = [(alice, carol.number), (bob, carol.number), (carol, None)]
    results, errors = race(3, lambda i: buy(buyers[i][0], "stickers-animals", gift_to=buyers[i][1]))
    assert len(results) == 1 and all(isinstance(e, AlreadyOwned) for e in errors), errors
    assert wallet_balance(alice) + wallet_balance(bob) + wallet_balance(carol) == 250
    ledger_check_ok()


def test_racing_http_purchases_charge_once(alice):
    grant(alice, 1000)
    token = token_for(alice)

    def post(i: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post(
            "/api/v1/store/purchases",
            {"sku": "name-emerald"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        return response.status_code

    statuses, errors = race(5, post)
    assert errors == []
    assert sorted(statuses) == [201, 409, 409, 409, 409]
    assert wallet_balance(alice) == 960
    assert Purchase.objects.count() == 1
    ledger_check_ok()


def test_racing_http_retries_with_one_key_buy_once(alice):
    grant(alice, 1000)
    token = token_for(alice)

    def post(i: int) -> tuple[int, int]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post(
            "/api/v1/store/purchases",
            {"sku": "gift-cake", "quantity": 2},
            format="json",
            HTTP_IDEMPOTENCY_KEY="one",
        )
        return response.status_code, response.json()["id"]

    results, errors = race(4, post)
    assert errors == []
    assert {status for status, _ in results} == {201} and len({pid for _, pid in results}) == 1
    assert wallet_balance(alice) == 900
    ledger_check_ok()
