"""The wallet page and the sandbox checkout page: buying coins in the browser goes through the
same signed-webhook path as the provider's real callback."""

import re

import pytest
from django.test import Client

from coins.ledger import wallet_balance
from coins.models import PaymentEvent, Topup
from tests.coins.helpers import grant, transfer
from tests.coins.payment_support import make_package, make_topup, record_receipt_dispatches

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receipts(monkeypatch) -> list[int]:
    return record_receipt_dispatches(monkeypatch)


@pytest.fixture
def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_wallet_needs_login():
    r = Client().get("/wallet/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_wallet_shows_balance_packages_and_statement(browser, user, make_user):
    make_package(60, 600)
    make_package(999, 1, active=False)
    grant(user, 100)
    friend = make_user(display_name="Bob Li")
    transfer(user, friend, 30)

    html = browser.get("/wallet/").content.decode()

    assert re.search(r'<span id="balance-label">Balance</span>', html)
    assert re.search(r'<output id="balance" aria-labelledby="balance-label">70</output>', html)
    assert "60 coins</strong> for 6.00 CNY" in html and "999 coins" not in html
    assert ">Buy</button>" in html
    assert "Bob Li" in html and "-30" in html and "+100" in html


def test_buy_creates_a_topup_and_goes_to_its_checkout(browser, user):
    package = make_package(300, 3000)

    r = browser.post("/wallet/topups/", {"package": package.pk})

    topup = Topup.objects.get()
    assert topup.user == user and topup.coins == 300 and topup.status == "pending"
    assert r.status_code == 302 and r["Location"] == f"/pay/sandbox/{topup.pk}/"


def test_buy_an_inactive_package_is_refused(browser):
    package = make_package(active=False)
    r = browser.post("/wallet/topups/", {"package": package.pk}, follow=True)
    assert not Topup.objects.exists()
    assert "Choose a package on sale" in r.content.decode() or "No such package" in r.content.decode()


def test_checkout_shows_the_package_and_buttons(browser, user):
    topup = make_topup(user, make_package(980, 9800))
    html = browser.get(f"/pay/sandbox/{topup.pk}/").content.decode()
    assert "980 coins" in html and "98.00 CNY" in html
    assert ">Pay</button>" in html and ">Fail payment</button>" in html


def test_checkout_is_only_for_the_owner(make_user):
    topup = make_topup(make_user())
    other = Client()
    other.force_login(make_user())
    assert other.get(f"/pay/sandbox/{topup.pk}/").status_code == 404
    assert other.post(f"/pay/sandbox/{topup.pk}/", {"outcome": "pay"}).status_code == 404
    assert Client().get(f"/pay/sandbox/{topup.pk}/").status_code == 302
    topup.refresh_from_db()
    assert topup.status == "pending"


def test_pay_delivers_the_signed_webhook_and_credits(browser, user, django_capture_on_commit_callbacks):
    topup = make_topup(user)

    with django_capture_on_commit_callbacks(execute=True):
        r = browser.post(f"/pay/sandbox/{topup.pk}/", {"outcome": "pay"})

    assert r.status_code == 302 and r["Location"] == "/wallet/"
    topup.refresh_from_db()
    assert topup.status == "paid" and topup.payment_id == f"sandbox_{topup.pk}"
    assert wallet_balance(user) == 60
    assert PaymentEvent.objects.get().outcome == "credited"
    page = browser.get("/wallet/").content.decode()
    assert f"Top-up #{topup.pk} is paid" in page
    # pressing Pay again delivers the same event again: nothing more
    browser.post(f"/pay/sandbox/{topup.pk}/", {"outcome": "pay"})
    assert wallet_balance(user) == 60


def test_pay_goes_through_signature_verification(browser, user, monkeypatch):
    from coins.payments.sandbox import SandboxProvider

    monkeypatch.setattr(SandboxProvider, "verify_signature", lambda self, raw, headers: False)
    topup = make_topup(user)

    r = browser.post(f"/pay/sandbox/{topup.pk}/", {"outcome": "pay"}, follow=True)

    topup.refresh_from_db()
    assert topup.status == "pending" and wallet_balance(user) == 0
    assert "callback was refused" in r.content.decode()


def test_fail_payment_marks_the_topup_failed(browser, user):
    topup = make_topup(user)
    r = browser.post(f"/pay/sandbox/{topup.pk}/", {"outcome": "fail"}, follow=True)
    topup.refresh_from_db()
    assert topup.status == "failed" and wallet_balance(user) == 0
    assert f"Top-up #{topup.pk}: the payment failed" in r.content.decode()


def test_checkout_with_the_provider_off_is_404(browser, user, settings):
    topup = make_topup(user)
    settings.PAYMENTS_SANDBOX_SECRET = ""
    assert browser.get(f"/pay/sandbox/{topup.pk}/").status_code == 404
