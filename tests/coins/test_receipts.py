"""Receipts: one per top-up credit (or purchase), mailed once with text and HTML parts, never twice
however often the task runs; no address, no mail."""

import re
import smtplib
import threading

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection

from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import Receipt, Transaction
from coins.receipts import receipt_issue
from coins.tasks import send_receipt
from tests.coins.helpers import grant, transfer
from tests.coins.operator_support import paid_topup

# Tasks run in this process even when REDIS_URL is set (test_worker.py covers the broker).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


@pytest.fixture(autouse=True)
def _locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def buyer(make_user):
    return make_user(email="buyer@example.com")


def test_receipt_is_created_and_mailed_once_with_text_and_html(buyer):
    # given a credited top-up
    topup = paid_topup(buyer, coins=60, price_minor=600)

    # when the task runs (eagerly without Redis)
    send_receipt.delay(topup.credit_transaction_id)

    # then one receipt, one mail with both parts
    receipt = Receipt.objects.get(transaction=topup.credit_transaction)
    assert re.fullmatch(r"HD-\d{8}-\d{8,}", receipt.number)
    assert receipt.number.endswith(f"{topup.credit_transaction_id:08d}")
    assert (receipt.user, receipt.coins, receipt.amount_minor, receipt.currency) == (buyer, 60, 600, "CNY")
    assert receipt.emailed_at is not None and receipt.emailed_to == "buyer@example.com"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["buyer@example.com"]
    assert receipt.number in message.subject
    assert receipt.number in message.body and "6.00 CNY" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and receipt.number in html and "6.00 CNY" in html


def test_running_again_or_delivered_twice_mails_nothing_more(buyer):
    topup = paid_topup(buyer)
    first = receipt_issue(transaction_id=topup.credit_transaction_id)

    # when the task is delivered again, twice
    send_receipt.delay(topup.credit_transaction_id)
    send_receipt.delay(topup.credit_transaction_id)

    # then still one receipt, one mail, the same number
    assert Receipt.objects.count() == 1
    assert Receipt.objects.get().number == first.number
    assert Receipt.objects.get().emailed_at == first.emailed_at
    assert len(mail.outbox) == 1


def test_no_email_address_stores_the_receipt_and_mails_nothing(make_user):
    topup = paid_topup(make_user(email=""))

    send_receipt.delay(topup.credit_transaction_id)

    receipt = Receipt.objects.get()
    assert receipt.emailed_at is None and receipt.emailed_to == ""
    assert mail.outbox == []


def test_an_address_added_later_gets_the_receipt_on_the_next_run(make_user):
    user = make_user(email="")
    topup = paid_topup(user)
    receipt_issue(transaction_id=topup.credit_transaction_id)
    user.email = "later@example.com"
    user.save()

    receipt_issue(transaction_id=topup.credit_transaction_id)

    assert [m.to for m in mail.outbox] == [["later@example.com"]]


def test_a_transient_mail_error_is_retried_and_mails_once(buyer, monkeypatch):
    # given a mail server that drops the first attempt
    topup = paid_topup(buyer)
    real_send = EmailMultiAlternatives.send
    attempts = []

    def flaky_send(self, fail_silently=False):
        attempts.append(1)
        if len(attempts) == 1:
            raise smtplib.SMTPServerDisconnected("connection dropped")
        return real_send(self, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)

    # when the task runs (in-process, where Celery runs the retry at once)
    result = send_receipt.apply(args=[topup.credit_transaction_id], throw=False)

    # then it was tried twice and mailed once
    assert len(attempts) == 2
    assert len(mail.outbox) == 1
    assert Receipt.objects.get().emailed_at is not None
    assert result.get() == Receipt.objects.get().pk


def test_a_failed_mail_leaves_the_receipt_unmailed_for_the_retry(buyer, monkeypatch):
    topup = paid_topup(buyer)

    def broken_send(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", broken_send)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        receipt_issue(transaction_id=topup.credit_transaction_id)

    receipt = Receipt.objects.get()
    assert receipt.emailed_at is None


def test_a_purchase_gets_a_receipt_without_a_price(buyer):
    grant(buyer, 50)
    txn = ledger_post(
        kind=Transaction.Kind.PURCHASE,
        legs=[debit(wallet_for(buyer), 30), credit(system_account("store:revenue"), 30)],
        memo="Gift: rose",
    )

    receipt = receipt_issue(transaction_id=txn.pk)

    assert (receipt.user, receipt.coins, receipt.amount_minor, receipt.description) == (
        buyer,
        30,
        None,
        "Gift: rose",
    )
    assert len(mail.outbox) == 1 and "Paid" not in mail.outbox[0].body


def test_other_transactions_and_unknown_ids_get_no_receipt(buyer, make_user):
    grant(buyer, 10)
    txn = transfer(buyer, make_user(), 5)

    assert receipt_issue(transaction_id=txn.pk) is None
    assert send_receipt.delay(999_999).get() is None
    assert not Receipt.objects.exists()
    assert mail.outbox == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_mail_once(buyer):
    # given a credited top-up and eight deliveries of its task at once
    topup = paid_topup(buyer)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            receipt_issue(transaction_id=topup.credit_transaction_id)
        except BaseException as exc:  # collected and asserted on
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # then one receipt and one mail
    assert errors == []
    assert Receipt.objects.count() == 1
    assert len(mail.outbox) == 1
