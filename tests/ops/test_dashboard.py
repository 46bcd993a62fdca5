"""The operators' dashboard in admin: the day's figures from the ledger and the messages, cached,
for operators who may read statements only."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import Transaction
from dashboard.figures import CACHE_KEY, DAYS, dashboard_figures
from messaging.models import Message
from tests.coins.helpers import grant
from tests.coins.operator_support import groups_migration, staff_in
from tests.factories import make_friends

pytestmark = pytest.mark.django_db


def series(figures: dict, title: str):
    return next(s for s in figures["series"] if s.title == title)


def test_figures_count_issued_spent_messages_and_active_people(alice, bob, client_for):
    make_friends(alice, bob)
    grant(alice, 100)
    grant(bob, 30)
    ledger_post(
        kind=Transaction.Kind.PURCHASE,
        legs=[debit(wallet_for(alice), 25), credit(system_account("store:revenue"), 25)],
        memo="a sticker pack",
    )
    chat = client_for(alice).post("/api/v1/conversations/direct", {"user": bob.number}, format="json").json()
    for who, body in ((alice, "one"), (alice, "two"), (bob, "three")):
        sent = client_for(who).post(
            f"/api/v1/conversations/{chat['id']}/messages", {"body": body}, format="json"
        )
        assert sent.status_code == 201
    # Yesterday's message counts on yesterday.
    Message.objects.filter(body="one").update(created_at=timezone.now() - timedelta(days=1))

    figures = dashboard_figures(today=timezone.now().date())

    assert figures["circulation"] == 100 + 30 - 25
    assert series(figures, "Coins issued").today == 130
    assert series(figures, "Coins spent").today == 25
    messages = series(figures, "Messages")
    assert (messages.today, messages.total) == (2, 3)
    assert series(figures, "Active people").today == 2
    assert len(messages.bars) == DAYS
    assert messages.bars[-1].height > 0 and messages.bars[-2].height > 0 and messages.bars[0].height == 0


def test_page_for_operators_cached_and_refused_to_others(alice, client_for):
    cache.delete(CACHE_KEY)
    operator = staff_in(groups_migration.AUDITORS, "auditor1")
    browser = Client()
    browser.force_login(operator)
    page = browser.get("/admin/dashboard/")
    assert page.status_code == 200
    assert b"Coins in circulation" in page.content and b"<svg" in page.content
    grant(alice, 7)
    assert browser.get("/admin/dashboard/").context["figures"]["circulation"] == 0  # cached
    cache.delete(CACHE_KEY)
    assert browser.get("/admin/dashboard/").context["figures"]["circulation"] == 7
    assert b"/admin/dashboard/" in browser.get("/admin/").content

    plain_staff = Client()
    plain_staff.force_login(
        type(operator).objects.create_user("staff2", password="x-Staff-42", is_staff=True)
    )
    assert plain_staff.get("/admin/dashboard/").status_code == 403
    member = Client()
    member.force_login(alice)
    assert member.get("/admin/dashboard/").status_code == 302  # to the admin login
    assert Client().get("/admin/dashboard/").status_code == 302
