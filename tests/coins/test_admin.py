"""The operators' admin of the coins app: the ledger searchable and view-only for everyone
(CONTRACT section 1), statements, the trial balance, and the actions that post new transactions
with a written reason, allowed to operators and refused to auditors."""

import csv
import io
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from accounts.models import User
from coins.ledger import wallet_balance, wallet_for
from coins.models import (
    Account,
    Entry,
    OperatorAction,
    ReconciliationRun,
    Topup,
    TopupPackage,
    Transaction,
)
from tests.coins.helpers import grant, transfer
from tests.coins.operator_support import groups_migration, paid_topup, refund, staff_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]

ACTION = "reverse_transactions"


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", password="Root-Pass-5151")


@pytest.fixture
def root(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


@pytest.fixture
def operator() -> User:
    return staff_in(groups_migration.OPERATORS, "operator")


@pytest.fixture
def auditor() -> User:
    return staff_in(groups_migration.AUDITORS, "auditor")


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ledger(make_user):
    """alice: topped up 60 (payment pay_alice_1), sent bob 25; bob: granted 40."""
    alice, bob = make_user(username="alice"), make_user(username="bob")
    topup = paid_topup(alice, coins=60, payment_id="pay_alice_1")
    grant(bob, 40)
    sent = transfer(alice, bob, 25, key="transfer:alice:key-7")
    return {"alice": alice, "bob": bob, "topup": topup, "sent": sent}


def found(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Lists and search --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "transaction",
        "entry",
        "account",
        "topuppackage",
        "topup",
        "paymentevent",
        "receipt",
        "reconciliationrun",
        "operatoraction",
    ],
)
def test_changelists_load(root, ledger, model):
    ReconciliationRun.objects.create(ok=True)

    response = root.get(f"/admin/coins/{model}/")

    assert response.status_code == 200


def test_transaction_search(root, ledger):
    alice, bob, topup, sent = ledger["alice"], ledger["bob"], ledger["topup"], ledger["sent"]

    def search(term: str) -> set[int]:
        return {t.pk for t in found(root.get("/admin/coins/transaction/", {"q": term}))}

    # by a wallet owner's number: alice's top-up and transfer; bob's grant and the transfer
    assert search(str(alice.number)) == {topup.credit_transaction_id, sent.pk}
    assert search(str(bob.number)) == {sent.pk, Transaction.objects.get(kind="promotion").pk}
    # by id, idempotency key, payment id
    assert search(str(sent.pk)) >= {sent.pk}
    assert search(f"#{sent.pk}") >= {sent.pk}
    assert search("transfer:alice:key-7") == {sent.pk}
    assert search("pay_alice_1") == {topup.credit_transaction_id}
    assert search("no-such-thing") == set()


def test_transaction_search_by_actor(root, ledger, operator):
    original = ledger["sent"]
    client_of(operator).post(
        "/admin/coins/transaction/",
        {"action": ACTION, "_selected_action": [original.pk], "post": "yes", "reason": "mistake"},
    )

    result = {t.pk for t in found(root.get("/admin/coins/transaction/", {"q": str(operator.number)}))}

    assert result == {original.reversed_by.pk}


def test_transaction_filters_by_kind_and_date(root, ledger):
    rows = found(root.get("/admin/coins/transaction/", {"kind__exact": "promotion"}))
    assert [t.kind for t in rows] == ["promotion"]

    today = ledger["sent"].created_at
    rows = found(
        root.get(
            "/admin/coins/transaction/",
            {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day},
        )
    )
    assert len(rows) == 3


def test_entry_search(root, ledger):
    alice, sent = ledger["alice"], ledger["sent"]

    by_number = found(root.get("/admin/coins/entry/", {"q": str(alice.number)}))
    by_transaction = found(root.get("/admin/coins/entry/", {"q": str(sent.pk)}))

    assert {e.account.user for e in by_number} == {alice}
    assert len(by_number) == 2
    assert {e.transaction_id for e in by_transaction} >= {sent.pk}
    assert len([e for e in by_transaction if e.transaction_id == sent.pk]) == 2


def test_account_and_topup_search(root, ledger):
    alice, topup = ledger["alice"], ledger["topup"]

    accounts = found(root.get("/admin/coins/account/", {"q": str(alice.number)}))
    topups = found(root.get("/admin/coins/topup/", {"q": "pay_alice_1"}))

    assert [a.user for a in accounts] == [alice]
    assert topups == [topup]


# --- View-only ledger ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["transaction", "entry"])
def test_the_ledger_cannot_be_added_changed_or_deleted_even_by_a_superuser(root, ledger, model):
    obj = ledger["sent"] if model == "transaction" else Entry.objects.first()
    base = f"/admin/coins/{model}/"

    assert root.get(f"{base}add/").status_code == 403
    assert root.post(f"{base}add/", {}).status_code == 403
    assert root.get(f"{base}{obj.pk}/delete/").status_code == 403
    assert root.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    page = root.get(f"{base}{obj.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert page.context["has_change_permission"] is False
    assert root.post(f"{base}{obj.pk}/change/", {"memo": "x"}).status_code == 403
    action_form = root.get(base).context["action_form"]
    assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)
    assert Transaction.objects.filter(pk=ledger["sent"].pk, memo="").exists()


def test_transaction_page_shows_its_entries_read_only(root, ledger):
    page = root.get(f"/admin/coins/transaction/{ledger['sent'].pk}/change/")

    formset = page.context["inline_admin_formsets"][0]
    assert len(formset.forms) == 2
    assert formset.has_add_permission is False and formset.has_change_permission is False


# --- Statement and trial balance -----------------------------------------------------------------


def test_statement_lists_entries_with_running_balances(root, ledger):
    alice = ledger["alice"]
    account = wallet_for(alice)

    page = root.get(f"/admin/coins/account/{account.pk}/statement/")

    assert page.status_code == 200
    entries = list(page.context["page"])
    assert [(e.sequence, e.side, e.amount, e.balance_after) for e in entries] == [
        (1, "credit", 60, 60),
        (2, "debit", 25, 35),
    ]
    assert "statement.csv" in page.content.decode()


def test_statement_csv(root, ledger):
    account = wallet_for(ledger["bob"])

    response = root.get(f"/admin/coins/account/{account.pk}/statement.csv")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["kind"], r["credit"], r["balance_after"]) for r in rows] == [
        ("promotion", "40", "40"),
        ("transfer", "25", "65"),
    ]


def test_statement_csv_defuses_formulas(root, make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 5)
    from coins.ledger import credit, debit, ledger_post

    ledger_post(
        kind=Transaction.Kind.TRANSFER,
        legs=[debit(wallet_for(alice), 1), credit(wallet_for(bob), 1)],
        memo="=HYPERLINK(1)",
    )

    response = root.get(f"/admin/coins/account/{wallet_for(bob).pk}/statement.csv")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["memo"] == "'=HYPERLINK(1)"


def test_trial_balance(root, ledger, settings):
    page = root.get("/admin/coins/account/trial-balance/")

    assert page.status_code == 200
    report = page.context["report"]
    lines = {line.purpose: line for line in report.lines}
    # wallets: credits 60 + 40 + 25, debits 25; balance 35 + 65
    assert (lines["user wallets"].debits, lines["user wallets"].credits, lines["user wallets"].balance) == (
        25,
        125,
        100,
    )
    assert (lines["provider:sandbox"].debits, lines["provider:sandbox"].balance) == (60, 60)
    assert (lines["promotions"].debits, lines["promotions"].balance) == (40, 40)
    assert report.debits == report.credits == 125
    assert report.balanced
    assert "balanced: debits = credits" in page.content.decode()


def test_statement_and_trial_balance_need_view_statement(ledger, auditor):
    nobody = User.objects.create_user("staff", password="Staff-Pass-4242", is_staff=True)
    account = wallet_for(ledger["alice"])

    for path in (
        f"/admin/coins/account/{account.pk}/statement/",
        f"/admin/coins/account/{account.pk}/statement.csv",
        "/admin/coins/account/trial-balance/",
    ):
        assert client_of(auditor).get(path).status_code == 200
        assert client_of(nobody).get(path).status_code == 403


# --- Reversing transactions -------------------------------------------------------------------


def reverse_action(client: Client, *transactions: Transaction, reason: str | None = "customer asked"):
    data = {"action": ACTION, "_selected_action": [t.pk for t in transactions]}
    if reason is not None:
        data.update(post="yes", reason=reason)
    return client.post("/admin/coins/transaction/", data)


def test_reverse_asks_for_a_reason_first(ledger, operator):
    client = client_of(operator)

    page = client.post(
        "/admin/coins/transaction/", {"action": ACTION, "_selected_action": [ledger["sent"].pk]}
    )

    assert page.status_code == 200
    assert page.templates[0].name == "admin/coins/reason_confirmation.html"
    assert 'name="reason"' in page.content.decode()
    assert not Transaction.objects.filter(kind="reversal").exists()


def test_reverse_without_a_reason_is_refused(ledger, operator):
    page = reverse_action(client_of(operator), ledger["sent"], reason="   ")

    assert page.status_code == 200
    assert page.context["form"].errors["reason"]
    assert not Transaction.objects.filter(kind="reversal").exists()
    assert not OperatorAction.objects.exists()


def test_operator_reverses_with_a_reason(ledger, operator):
    sent, alice, bob = ledger["sent"], ledger["alice"], ledger["bob"]

    response = reverse_action(client_of(operator), sent, reason="sent by mistake, ticket 42")

    assert response.status_code == 302
    reversal = Transaction.objects.get(reverses=sent)
    assert (reversal.kind, reversal.actor, reversal.cause) == ("reversal", operator, "admin")
    assert (wallet_balance(alice), wallet_balance(bob)) == (60, 40)
    action = OperatorAction.objects.get()
    assert (action.operator, action.action, action.reason) == (
        operator,
        "reverse",
        "sent by mistake, ticket 42",
    )
    assert (action.target_transaction, action.result_transaction) == (sent, reversal)
    assert any(f"#{sent.pk} reversed" in m for m in messages_of(response))


def test_reverse_errors_are_shown_and_change_nothing(ledger, operator, make_user):
    client = client_of(operator)
    sent = ledger["sent"]
    reverse_action(client, sent)
    # bob spends his coins, so his grant can no longer be taken back
    carol = make_user()
    transfer(ledger["bob"], carol, 40)
    granted = Transaction.objects.get(kind="promotion")

    response = reverse_action(client, sent, granted, Transaction.objects.get(kind="reversal"))

    notes = messages_of(response)
    assert any("already been reversed" in m for m in notes)
    assert any("does not hold enough" in m for m in notes)
    assert any("cannot itself be reversed" in m for m in notes)
    assert Transaction.objects.filter(kind="reversal").count() == 1
    assert OperatorAction.objects.count() == 1


def test_a_refund_cannot_be_reversed_from_the_admin(operator, make_user):
    # given carol's top-up refunded (its credit reversed by a top-up refund)
    carol = make_user(username="carol")
    refund_txn = refund(paid_topup(carol, coins=30))

    # when an operator tries to reverse the refund
    response = reverse_action(client_of(operator), refund_txn, reason="customer says the refund was wrong")

    # then it is refused with a note, and nothing is posted or logged
    assert response.status_code == 302
    assert any("cannot itself be reversed" in m for m in messages_of(response))
    assert not Transaction.objects.filter(reverses=refund_txn).exists()
    assert not OperatorAction.objects.exists()
    assert wallet_balance(carol) == 0


def test_an_auditor_sees_but_cannot_reverse(ledger, auditor):
    client = client_of(auditor)

    listing = client.get("/admin/coins/transaction/")
    response = reverse_action(client, ledger["sent"])

    assert listing.status_code == 200
    assert listing.context["action_form"] is None or ACTION not in dict(
        listing.context["action_form"].fields["action"].choices
    )
    assert response.status_code in (200, 302)
    assert not Transaction.objects.filter(kind="reversal").exists()
    assert not OperatorAction.objects.exists()


# --- Granting promotional coins --------------------------------------------------------------


def grant_form(client: Client, **data):
    page = client.get("/admin/coins/account/grant/")
    token = page.context["form"]["token"].value() if page.status_code == 200 else "t"
    return client.post("/admin/coins/account/grant/", {"token": token, **data})


def test_operator_grants_promotional_coins(operator, make_user):
    dave = make_user()

    response = grant_form(client_of(operator), number=dave.number, amount=15, reason="welcome back")

    assert response.status_code == 302
    assert wallet_balance(dave) == 15
    txn = Transaction.objects.get(kind="promotion")
    assert (txn.actor, txn.cause) == (operator, "admin")
    assert txn.entries.get(side="debit").account.purpose == "promotions"
    action = OperatorAction.objects.get()
    assert (action.operator, action.action, action.reason, action.result_transaction) == (
        operator,
        "grant",
        "welcome back",
        txn,
    )


def test_a_resubmitted_grant_form_grants_once(operator, make_user):
    client, dave = client_of(operator), make_user()
    token = client.get("/admin/coins/account/grant/").context["form"]["token"].value()
    data = {"token": token, "number": dave.number, "amount": 15, "reason": "promo"}

    client.post("/admin/coins/account/grant/", data)
    client.post("/admin/coins/account/grant/", data)

    assert wallet_balance(dave) == 15
    assert OperatorAction.objects.count() == 1


@pytest.mark.parametrize(
    "data, field",
    [
        ({"amount": 15, "reason": ""}, "reason"),
        ({"amount": 0, "reason": "x"}, "amount"),
        ({"amount": 15, "reason": "x", "number": 99_999_999}, "number"),
    ],
)
def test_grant_form_refuses_bad_input(operator, make_user, data, field):
    dave = make_user()

    page = grant_form(client_of(operator), **{"number": dave.number, **data})

    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert not Transaction.objects.exists()


def test_an_auditor_cannot_grant(auditor, make_user):
    dave = make_user()

    response = grant_form(client_of(auditor), number=dave.number, amount=15, reason="promo")

    assert response.status_code == 403
    assert wallet_balance(dave) == 0


# --- Packages, reconciliation, groups ------------------------------------------------------------


def test_an_operator_edits_packages_an_auditor_only_views(operator, auditor):
    package = TopupPackage.objects.create(coins=60, price_minor=600)
    data = {"coins": 66, "price_minor": 600, "currency": "CNY", "active": "on", "position": 0}

    assert client_of(auditor).post(f"/admin/coins/topuppackage/{package.pk}/change/", data).status_code == 403
    assert (
        client_of(operator).post(f"/admin/coins/topuppackage/{package.pk}/change/", data).status_code == 302
    )
    package.refresh_from_db()
    assert package.coins == 66


def test_topups_are_read_only(root, make_user):
    topup = paid_topup(make_user())

    assert root.get("/admin/coins/topup/add/").status_code == 403
    assert root.post(f"/admin/coins/topup/{topup.pk}/change/", {"status": "failed"}).status_code == 403
    assert Topup.objects.get(pk=topup.pk).status == "paid"


def test_an_operator_starts_a_reconciliation_an_auditor_cannot(ledger, operator, auditor):
    assert client_of(auditor).post("/admin/coins/reconciliationrun/start/").status_code == 403

    response = client_of(operator).post("/admin/coins/reconciliationrun/start/")

    assert response.status_code == 302
    run = ReconciliationRun.objects.get()
    assert (run.ok, run.triggered_by) == (True, f"admin:{operator.number}")
    page = client_of(auditor).get(f"/admin/coins/reconciliationrun/{run.pk}/change/")
    assert page.status_code == 200


def test_the_migration_creates_the_groups_with_their_permissions():
    # given the groups gone (a transactional test's flush elsewhere removes them anyway)
    Group.objects.filter(name__in=["Ledger auditors", "Ledger operators"]).delete()
    state_apps = (
        MigrationExecutor(connection).loader.project_state(("coins", "0004_ledger_permission_groups")).apps
    )

    # when the migration's function runs
    groups_migration.create_groups(state_apps, SimpleNamespace(connection=connection))

    # then
    auditors = set(Group.objects.get(name="Ledger auditors").permissions.values_list("codename", flat=True))
    operators = set(Group.objects.get(name="Ledger operators").permissions.values_list("codename", flat=True))

    assert {"view_transaction", "view_entry", "view_statement"} <= auditors
    assert not auditors & {"reverse_transaction", "grant_promotion", "change_topuppackage"}
    assert auditors | {"reverse_transaction", "grant_promotion", "change_topuppackage"} <= operators
    assert not {p for p in operators if p.startswith(("change_transaction", "delete_", "add_entry"))}


def test_accounts_admin_shows_links(root, ledger):
    account = wallet_for(ledger["alice"])

    listing = root.get("/admin/coins/account/").content.decode()
    page = root.get(f"/admin/coins/account/{account.pk}/change/").content.decode()

    assert "/admin/coins/account/trial-balance/" in listing
    assert f"/admin/coins/account/{account.pk}/statement/" in page
    assert Account.objects.count() >= 4
