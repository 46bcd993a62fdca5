"""The receipt sweep: a receipt whose dispatch after commit was lost (the broker down at that
moment: `on_commit(..., robust=True)` only logs) is issued by the periodic sweep, once, however
often the sweep runs."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from coins.ledger import credit, debit, ledger_post, system_account, wallet_balance, wallet_for
from coins.models import Receipt, Transaction
from coins.receipts import SWEEP_MAX_AGE, receipts_missing
from coins.tasks import send_receipt, sweep_receipts
from config.celery import app as celery_app
from tests.coins.helpers import grant
from tests.coins.operator_support import paid_topup
from tests.coins.payment_support import deliver, event_for, make_topup

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


@pytest.fixture(autouse=True)
def _locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def buyer(make_user):
    return make_user(email="buyer@example.com")


@pytest.fixture
def two_minutes_pass(monkeypatch):
    """Call to move the clock on, past the minute the sweep leaves to the dispatch after commit."""

    def advance() -> None:
        later = timezone.now() + timedelta(minutes=2)
        monkeypatch.setattr(timezone, "now", lambda: later)

    return advance


def broker_down(*args, **kwargs):
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_receipt_lost_to_a_broker_outage_is_issued_by_the_sweep(
    buyer, monkeypatch, two_minutes_pass, django_capture_on_commit_callbacks
):
    # given a top-up paid while the broker is down when the webhook's transaction commits
    topup = make_topup(buyer)
    with monkeypatch.context() as outage:
        outage.setattr(send_receipt, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            answer = deliver(event_for(topup, "payment.succeeded", "pay_1"))
    assert answer.status_code == 200 and wallet_balance(buyer) == 60
    assert len(callbacks) >= 1  # the dispatch ran, and its error was only logged
    assert not Receipt.objects.exists() and mail.outbox == []

    # when, a few minutes later, the sweep runs
    two_minutes_pass()
    swept = sweep_receipts.delay().get()

    # then the receipt is issued and mailed once
    topup.refresh_from_db()
    receipt = Receipt.objects.get()
    assert swept == 1
    assert receipt.transaction_id == topup.credit_transaction_id
    assert receipt.emailed_to == "buyer@example.com"
    assert len(mail.outbox) == 1 and receipt.number in mail.outbox[0].subject

    # and running it again does nothing more
    assert sweep_receipts.delay().get() == 0
    assert Receipt.objects.count() == 1 and len(mail.outbox) == 1


def test_within_the_first_minute_the_sweep_leaves_it_to_the_dispatch_after_commit(buyer):
    paid_topup(buyer)

    assert receipts_missing() == []
    assert sweep_receipts.delay().get() == 0
    assert not Receipt.objects.exists()


def test_the_sweep_looks_back_a_few_days_only(buyer):
    topup = paid_topup(buyer)
    created = topup.credit_transaction.created_at

    assert receipts_missing(now=created + timedelta(minutes=2)) == [topup.credit_transaction_id]
    assert receipts_missing(now=created + SWEEP_MAX_AGE - timedelta(minutes=1)) == [
        topup.credit_transaction_id
    ]
    assert receipts_missing(now=created + SWEEP_MAX_AGE + timedelta(minutes=1)) == []


def test_top_up_credits_and_purchases_are_swept_other_kinds_are_not(buyer, make_user, two_minutes_pass):
    # given: a top-up credit and a purchase without receipts, and transactions that get none
    topup = paid_topup(buyer)
    grant(buyer, 50)
    purchase = ledger_post(
        kind=Transaction.Kind.PURCHASE,
        legs=[debit(wallet_for(buyer), 30), credit(system_account("store:revenue"), 30)],
        memo="Sticker pack: cats",
    )
    ledger_post(  # a top-up kind no top-up row points at: nothing to put on a receipt
        kind=Transaction.Kind.TOPUP,
        legs=[debit(system_account("provider:sandbox"), 5), credit(wallet_for(make_user()), 5)],
    )

    # when
    two_minutes_pass()
    assert sweep_receipts.delay().get() == 2

    # then
    receipted = set(Receipt.objects.values_list("transaction_id", flat=True))
    assert receipted == {topup.credit_transaction_id, purchase.pk}
    assert len(mail.outbox) == 2


def test_a_transaction_that_has_its_receipt_is_not_swept(buyer, two_minutes_pass):
    topup = paid_topup(buyer)
    send_receipt.delay(topup.credit_transaction_id)
    assert len(mail.outbox) == 1
    two_minutes_pass()

    assert sweep_receipts.delay().get() == 0
    assert Receipt.objects.count() == 1 and len(mail.outbox) == 1


def test_one_failing_dispatch_does_not_stop_the_others(make_user, monkeypatch, two_minutes_pass):
    first, second = paid_topup(make_user(email="a@example.com")), paid_topup(make_user(email="b@example.com"))
    real_delay = send_receipt.delay
    tried: list[int] = []

    def flaky_delay(transaction_id: int):
        tried.append(transaction_id)
        if transaction_id == first.credit_transaction_id:
            raise OperationalError("broker hiccup")
        return real_delay(transaction_id)

    monkeypatch.setattr(send_receipt, "delay", flaky_delay)
    two_minutes_pass()

    assert sweep_receipts.delay().get() == 1
    assert tried == [first.credit_transaction_id, second.credit_transaction_id]
    assert list(Receipt.objects.values_list("transaction_id", flat=True)) == [second.credit_transaction_id]


def test_beat_runs_the_sweep_every_ten_minutes():
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "coins.tasks.sweep_receipts"]
    assert entry["schedule"] == timedelta(minutes=10)
    assert "coins.tasks.sweep_receipts" in celery_app.tasks
