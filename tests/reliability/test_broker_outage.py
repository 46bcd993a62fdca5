"""Celery's broker (Redis) down when a task is dispatched after commit: the request still succeeds
at once, and the work is not lost: the receipt sweep finds it in PostgreSQL once Redis is back and
a real worker issues it, once. (VIP renewal and red-packet expiry are beat-driven: they find their
work in the database at the next tick, so a broker outage only delays them.)

Real processes: a private redis-server, daphne and a Celery worker on it, and the sweep run in a
process of its own as beat would publish it."""

import json
import time

import pytest

from coins.models import Receipt, Topup
from tests.coins.payment_support import make_package, signature
from tests.conftest import token_for
from tests.reliability.faults import celery_worker, daphne, private_redis, run_beat_task, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.real_celery_worker,
    pytest.mark.django_db(transaction=True),
]

# The sweep as beat runs it, without its one-minute grace for dispatches still under way.
SWEEP = """
from datetime import timedelta
import coins.receipts
coins.receipts.SWEEP_MIN_AGE = timedelta(0)
from coins.tasks import sweep_receipts
print(sweep_receipts())
"""


def _paid_topup(server, token: str, package) -> tuple[int, float]:
    """A top-up through the API and its provider's webhook; (top-up id, the webhook's seconds)."""
    status, topup, _ = server.call(
        "POST",
        "/api/v1/coins/topups",
        token=token,
        body={"package": package.pk},
        headers={"Idempotency-Key": f"key-{time.monotonic_ns()}"},
    )
    assert status == 201, topup
    raw = json.dumps(
        {
            "event": "payment.succeeded",
            "payment_id": f"pay-{topup['id']}",
            "topup": topup["id"],
            "amount_minor": package.price_minor,
            "currency": package.currency,
        }
    ).encode()
    started = time.monotonic()
    status, answer, _ = server.call(
        "POST", "/api/v1/payments/webhook/sandbox", raw=raw, headers={"X-Sandbox-Signature": signature(raw)}
    )
    assert status == 200, answer
    return topup["id"], time.monotonic() - started


def test_a_receipt_dispatched_while_the_broker_is_down_is_issued_once_after_the_sweep(tmp_path, make_user):
    customer = make_user(email="customer@example.com")
    package = make_package(coins=60, price_minor=600)
    token = token_for(customer)
    with (
        private_redis(tmp_path) as redis_server,
        daphne(redis_server, tmp_path) as server,
        celery_worker(redis_server, tmp_path) as (mail_dir, _log),
    ):
        # when: the broker is down while a payment is credited (its receipt is dispatched on commit)
        redis_server.stop()
        topup_id, seconds = _paid_topup(server, token, package)
        # then: the webhook is answered at once and the coins are credited
        assert seconds < 3
        topup = Topup.objects.get(pk=topup_id)
        assert topup.status == Topup.Status.PAID
        assert not Receipt.objects.exists()

        # when: Redis is back (empty: the dispatch never reached it) and the sweep runs
        redis_server.start()
        assert run_beat_task(redis_server, SWEEP).strip() == "1"
        # then: the worker issues the receipt and mails it
        wait_for(
            lambda: Receipt.objects.filter(
                transaction_id=topup.credit_transaction_id, emailed_at__isnull=False
            ).exists(),
            "the swept receipt",
            timeout=60,
        )
        # and the next sweep finds nothing left
        assert run_beat_task(redis_server, SWEEP).strip() == "0"

        # and a dispatch now reaches the worker directly (daphne's producer connected again)
        second_id, _ = _paid_topup(server, token, package)
        second = Topup.objects.get(pk=second_id)
        wait_for(
            lambda: Receipt.objects.filter(transaction_id=second.credit_transaction_id).exists(),
            "the second receipt, without a sweep",
            timeout=60,
        )
        time.sleep(1)  # a duplicate, if any, would be done by now

    # then: one receipt per payment, each mailed once
    assert Receipt.objects.count() == 2
    assert len(list(mail_dir.iterdir())) == 2
    assert "Error calling" not in server.output()
