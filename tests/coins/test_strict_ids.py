"""Ids and account numbers in money requests are JSON integers too (CONTRACT section 2): a string
is refused before anything moves."""

import pytest

from coins.models import Topup, Transaction
from tests.coins.helpers import grant
from tests.coins.payment_support import make_package

pytestmark = pytest.mark.django_db


def test_transfer_to_a_number_given_as_string_is_400(make_user, client_for, friends):
    alice, bob = make_user(), make_user()
    friends(alice, bob)
    grant(alice, 10)
    r = client_for(alice).post(
        "/api/v1/coins/transfers",
        {"to": str(bob.number), "amount": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="s1",
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid" and "to" in r.json()["fields"]
    assert not Transaction.objects.filter(kind="transfer").exists()


def test_topup_with_package_id_as_string_is_400(user, client_for):
    package = make_package()
    r = client_for(user).post(
        "/api/v1/coins/topups", {"package": str(package.pk)}, format="json", HTTP_IDEMPOTENCY_KEY="s2"
    )
    assert r.status_code == 400 and "package" in r.json()["fields"]
    assert not Topup.objects.exists()
