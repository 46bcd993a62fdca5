"""The webhook refuses text the database cannot store: U+0000 in any field is 400 and changes
nothing (CONTRACT section 4: text anywhere in the API), even correctly signed."""

import pytest

from coins.models import PaymentEvent, Topup
from tests.coins.payment_support import deliver, event_for, make_topup, record_receipt_dispatches

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["payment_id", "event", "currency"])
def test_a_nul_character_in_a_signed_event_is_400_and_changes_nothing(monkeypatch, user, field):
    record_receipt_dispatches(monkeypatch)
    topup = make_topup(user)
    payload = event_for(topup)
    payload[field] = payload[field][:3] + "\x00" + payload[field][3:]

    response = deliver(payload)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"]
    topup.refresh_from_db()
    assert topup.status == Topup.Status.PENDING
    assert not PaymentEvent.objects.exists()
