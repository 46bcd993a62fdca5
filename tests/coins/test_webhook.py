"""The sandbox provider's webhook (CONTRACT section 5): signature, validation, the allowed
transitions, replays, refunds of spent coins, and simultaneous deliveries on PostgreSQL."""

import json
import threading

import pytest
from django.test import Client

from coins.ledger import wallet_balance
from coins.models import PaymentEvent, Topup, Transaction
from tests.coins.payment_support import (
    deliver,
    event_for,
    make_package,
    make_topup,
    record_receipt_dispatches,
    signature,
)
from tests.concurrency import run_threads

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receipts(monkeypatch) -> list[int]:
    return record_receipt_dispatches(monkeypatch)


@pytest.fixture
def topup(user):
    return make_topup(user)


def pay(topup, payment_id: str | None = None):
    return deliver(event_for(topup, "payment.succeeded", payment_id))


def assert_untouched(topup, user):
    topup.refresh_from_db()
    assert topup.status == Topup.Status.PENDING
    assert topup.credit_transaction is None and topup.payment_id == ""
    assert not PaymentEvent.objects.exists()
    assert wallet_balance(user) == 0


# --- success ---------------------------------------------------------------------------------------


def test_payment_succeeded_credits_the_wallet_before_answering(
    topup, user, receipts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = pay(topup, "pay_1")

    assert r.status_code == 200
    assert r.json() == {"status": "paid", "outcome": "credited"}
    assert wallet_balance(user) == 60
    topup.refresh_from_db()
    assert topup.status == "paid" and topup.payment_id == "pay_1"
    txn = topup.credit_transaction
    assert txn.kind == Transaction.Kind.TOPUP and txn.idempotency_key == f"topup:{topup.pk}:credit"
    sides = {(e.account.purpose or "wallet", e.side, e.amount) for e in txn.entries.select_related("account")}
    assert sides == {("provider:sandbox", "debit", 60), ("wallet", "credit", 60)}
    event = PaymentEvent.objects.get()
    assert (event.payment_id, event.event, event.outcome) == ("pay_1", "payment.succeeded", "credited")
    assert receipts == [txn.pk]


def test_receipt_is_dispatched_only_after_commit(topup, receipts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pay(topup)
    assert receipts == []
    for callback in callbacks:
        callback()
    topup.refresh_from_db()
    assert receipts == [topup.credit_transaction_id]


def test_no_receipt_for_a_failed_payment_or_a_replay(topup, receipts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pay(topup, "pay_1")
        pay(topup, "pay_1")
    assert len(receipts) == 1
    other = make_topup(topup.user)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event_for(other, "payment.failed"))
    assert len(receipts) == 1


def test_a_replayed_event_is_applied_once(topup, user):
    first, second = pay(topup, "pay_1"), pay(topup, "pay_1")

    assert first.status_code == second.status_code == 200
    assert second.json() == {"status": "paid", "outcome": "duplicate"}
    assert wallet_balance(user) == 60
    assert PaymentEvent.objects.count() == 1
    assert Transaction.objects.filter(kind="topup").count() == 1


def test_a_second_payment_of_a_paid_topup_changes_nothing(topup, user):
    pay(topup, "pay_1")
    r = pay(topup, "pay_2")

    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert wallet_balance(user) == 60
    topup.refresh_from_db()
    assert topup.payment_id == "pay_1"
    assert PaymentEvent.objects.count() == 2


# --- refused deliveries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig",
    [
        None,  # missing header
        "",
        "sha256=" + "0" * 64,
        "deadbeef",
        signature(b"{}"),  # a valid signature of another body
        "sha256=wrong-secret",
    ],
)
def test_bad_or_missing_signature_changes_nothing(topup, user, sig):
    payload = event_for(topup)
    r = deliver(payload, signed=sig is not None, sig=sig)

    assert r.status_code == 400
    assert r.json()["code"] == "bad_signature"
    assert_untouched(topup, user)


def test_signature_with_another_secret_is_refused(topup, user):
    raw = json.dumps(event_for(topup)).encode()
    r = deliver(raw=raw, sig=signature(raw, "not-the-secret"))
    assert r.status_code == 400 and r.json()["code"] == "bad_signature"
    assert_untouched(topup, user)


def test_a_tampered_body_is_refused(topup, user):
    raw = json.dumps(event_for(topup)).encode()
    sig = signature(raw)
    tampered = raw.replace(b'"amount_minor": 600', b'"amount_minor": 6')
    r = deliver(raw=tampered, sig=sig)
    assert r.status_code == 400 and r.json()["code"] == "bad_signature"
    assert_untouched(topup, user)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"event": "payment.succeeded"}',
        b"",
    ],
)
def test_malformed_bodies_are_400(topup, user, raw):
    r = deliver(raw=raw)
    assert r.status_code == 400 and r.json()["code"] == "malformed"
    assert_untouched(topup, user)


@pytest.mark.parametrize(
    "override",
    [{"topup": "1"}, {"amount_minor": "600"}, {"amount_minor": True}, {"payment_id": ""}, {"event": None}],
)
def test_fields_of_the_wrong_type_are_malformed(topup, user, override):
    r = deliver(event_for(topup, **override))
    assert r.status_code == 400 and r.json()["code"] == "malformed"
    assert_untouched(topup, user)


def test_unknown_topup(topup, user):
    r = deliver(event_for(topup, topup=topup.pk + 1000))
    assert r.status_code == 400 and r.json()["code"] == "unknown_topup"
    assert_untouched(topup, user)


@pytest.mark.parametrize(
    "override", [{"amount_minor": 599}, {"amount_minor": 60000}, {"currency": "USD"}, {"currency": "cny"}]
)
def test_amount_or_currency_mismatch_changes_nothing(topup, user, override):
    r = deliver(event_for(topup, **override))
    assert r.status_code == 400 and r.json()["code"] == "amount_mismatch"
    assert_untouched(topup, user)


def test_provider_switched_off_answers_404(topup, user, settings):
    settings.PAYMENTS_SANDBOX_SECRET = ""
    r = deliver(event_for(topup), sig="sha256=" + "0" * 64)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert_untouched(topup, user)


def test_get_is_405_json():
    r = Client().get("/api/v1/payments/webhook/sandbox")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_unknown_provider_is_404(topup):
    r = Client().post("/api/v1/payments/webhook/nope", data=b"{}", content_type="application/json")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_webhook_needs_no_csrf_token(topup, user):
    raw = json.dumps(event_for(topup)).encode()
    r = Client(enforce_csrf_checks=True).post(
        "/api/v1/payments/webhook/sandbox",
        data=raw,
        content_type="application/json",
        headers={"X-Sandbox-Signature": signature(raw)},
    )
    assert r.status_code == 200
    assert wallet_balance(user) == 60


# --- failures, refunds and transitions that are not allowed ---------------------------------------


def test_payment_failed_marks_the_topup_failed(topup, user):
    r = deliver(event_for(topup, "payment.failed"))
    assert r.status_code == 200 and r.json() == {"status": "failed", "outcome": "failed"}
    topup.refresh_from_db()
    assert topup.status == "failed" and topup.credit_transaction is None
    assert wallet_balance(user) == 0


def test_refund_takes_the_coins_back(topup, user):
    pay(topup, "pay_1")
    r = deliver(event_for(topup, "payment.refunded", "pay_1"))

    assert r.status_code == 200 and r.json() == {"status": "refunded", "outcome": "refunded"}
    assert wallet_balance(user) == 0
    topup.refresh_from_db()
    assert topup.status == "refunded" and topup.refund_status == "refunded"
    refund = topup.refund_transaction
    assert refund.kind == Transaction.Kind.TOPUP_REFUND and refund.reverses == topup.credit_transaction
    # replayed: nothing more
    again = deliver(event_for(topup, "payment.refunded", "pay_1"))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert Transaction.objects.filter(kind="topup_refund").count() == 1


def test_refund_of_spent_coins_keeps_the_topup_paid(topup, user, make_user):
    from tests.coins.helpers import transfer

    pay(topup, "pay_1")
    transfer(user, make_user(), 50)  # only 10 of the 60 coins are left

    r = deliver(event_for(topup, "payment.refunded", "pay_1"))

    assert r.status_code == 200 and r.json() == {"status": "paid", "outcome": "refund_failed"}
    assert wallet_balance(user) == 10
    topup.refresh_from_db()
    assert topup.status == "paid" and topup.refund_status == "failed" and topup.refund_transaction is None
    assert PaymentEvent.objects.filter(event="payment.refunded", outcome="refund_failed").count() == 1
    assert not Transaction.objects.filter(kind="topup_refund").exists()


def test_refund_after_an_operator_reversal_records_the_refund(topup, user):
    from coins.ledger import ledger_reverse

    pay(topup, "pay_1")
    topup.refresh_from_db()
    reversal = ledger_reverse(original=topup.credit_transaction, reason="chargeback")

    r = deliver(event_for(topup, "payment.refunded", "pay_1"))

    assert r.status_code == 200 and r.json()["status"] == "refunded"
    topup.refresh_from_db()
    assert topup.refund_transaction == reversal
    assert wallet_balance(user) == 0


def _to_state(topup, state: str) -> None:
    if state in ("paid", "refunded"):
        pay(topup, "pay_1")
    if state == "refunded":
        deliver(event_for(topup, "payment.refunded", "pay_1"))
    if state == "failed":
        deliver(event_for(topup, "payment.failed", "pay_1"))


@pytest.mark.parametrize(
    ("state", "event"),
    [
        ("failed", "payment.succeeded"),
        ("failed", "payment.refunded"),
        ("refunded", "payment.succeeded"),
        ("refunded", "payment.failed"),
        ("paid", "payment.failed"),
        ("pending", "payment.refunded"),
        ("pending", "payment.disputed"),
    ],
)
def test_transitions_not_allowed_answer_200_and_change_nothing(topup, user, state, event):
    _to_state(topup, state)
    balance = wallet_balance(user)
    transactions = Transaction.objects.count()

    r = deliver(event_for(topup, event, "pay_other"))

    assert r.status_code == 200 and r.json() == {"status": state, "outcome": "ignored"}
    topup.refresh_from_db()
    assert topup.status == state
    assert wallet_balance(user) == balance and Transaction.objects.count() == transactions


# --- concurrency -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_identical_deliveries_credit_once(make_user):
    user = make_user()
    topup = make_topup(user, make_package())
    raw = json.dumps(event_for(topup, payment_id="pay_race")).encode()
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def deliver_once(i: int) -> None:
        r = deliver(raw=raw)
        with lock:
            answers.append((r.status_code, r.json()["outcome"]))

    errors = run_threads(8, deliver_once)

    assert errors == []
    assert len(answers) == 8 and {code for code, _ in answers} == {200}
    assert sorted(outcome for _, outcome in answers) == ["credited"] + ["duplicate"] * 7
    assert wallet_balance(user) == 60
    assert Transaction.objects.filter(kind="topup").count() == 1
    assert PaymentEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_success_and_failure_apply_exactly_one(make_user):
    user = make_user()
    topup = make_topup(user, make_package())
    events = ["payment.succeeded", "payment.failed"] * 4

    errors = run_threads(8, lambda i: deliver(event_for(topup, events[i], f"pay_{i % 2}")))

    assert errors == []
    topup.refresh_from_db()
    assert topup.status in ("paid", "failed")
    assert wallet_balance(user) == (60 if topup.status == "paid" else 0)
    assert Transaction.objects.filter(kind="topup").count() == (1 if topup.status == "paid" else 0)
    assert PaymentEvent.objects.count() == 2
