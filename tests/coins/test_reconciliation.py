"""Reconciliation: clean on a whole ledger; on a broken one every problem is a stored finding, an
error on the `huddle.ledger` log and a line of one summary mail to the admins. Also the
`reconcile` and `ledger_check` commands' output and exit codes."""

import json
import logging
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import ReconciliationFinding, ReconciliationRun, Topup, Transaction
from coins.reconciliation import logger as ledger_logger
from coins.reconciliation import reconciliation_run
from coins.tasks import reconcile_ledger
from tests.coins.helpers import grant, transfer
from tests.coins.operator_support import paid_topup, refund

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


@pytest.fixture(autouse=True)
def _ops(settings) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def ledger_log(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """`huddle.ledger` does not propagate (settings.LOGGING): hand pytest's handler to it."""
    caplog.set_level(logging.INFO, logger="huddle.ledger")
    ledger_logger.addHandler(caplog.handler)
    yield caplog
    ledger_logger.removeHandler(caplog.handler)


@pytest.fixture
def busy_ledger(make_user):
    """Top-ups paid and refunded, grants and transfers: a whole ledger."""
    alice, bob = make_user(), make_user()
    paid_topup(alice, coins=60)
    refund(paid_topup(alice, coins=30))
    grant(bob, 40)
    transfer(alice, bob, 25)
    return alice, bob


def break_cached_balance(user, by: int = 5) -> None:
    """Tamper with a cached balance: the one ledger table raw SQL may still update."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE coins_account SET balance = balance + %s WHERE user_id = %s", [by, user.pk])


def kinds(run: ReconciliationRun) -> list[str]:
    return sorted(run.findings.values_list("kind", flat=True))


def test_a_whole_ledger_reconciles(busy_ledger, ledger_log):
    run = reconciliation_run(triggered_by="test")

    assert run.ok is True and run.finished_at is not None
    assert not run.findings.exists()
    assert run.summary["transactions"] == Transaction.objects.count()
    assert run.summary["topups_settled"] == 2
    assert run.summary["coins_in_circulation"] == 60 + 40
    assert run.summary["findings"] == 0
    assert mail.outbox == []
    assert not [r for r in ledger_log.records if r.levelno >= logging.ERROR]


def test_progress_is_reported_after_each_check(busy_ledger):
    calls = []

    reconciliation_run(triggered_by="test", progress=lambda done, total, label: calls.append((done, total)))

    assert calls == [(i, 7) for i in range(1, 8)]


@pytest.mark.ledger_may_break
def test_a_tampered_balance_is_found_stored_logged_and_mailed(busy_ledger, ledger_log):
    alice, _ = busy_ledger
    break_cached_balance(alice)

    run = reconciliation_run(triggered_by="test")

    # then stored
    assert run.ok is False
    finding = run.findings.get()
    assert finding.kind == "balance_mismatch"
    assert finding.account_id_ref == wallet_for(alice).pk
    assert run.summary["findings_by_kind"] == {"balance_mismatch": 1}
    # logged as an error
    errors = [r for r in ledger_log.records if r.levelno == logging.ERROR and r.name == "huddle.ledger"]
    assert len(errors) == 1 and "balance_mismatch" in errors[0].getMessage()
    # one summary mail to the admins (no mail per logged finding)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "1 finding" in mail.outbox[0].subject
    assert "balance_mismatch" in mail.outbox[0].body


def test_topup_credited_with_the_wrong_amount(make_user):
    # given a paid top-up of 60 whose linked credit moved 50
    user = make_user()
    topup = paid_topup(user, coins=60)
    wrong = ledger_post(
        kind=Transaction.Kind.TOPUP,
        legs=[debit(system_account("provider:sandbox"), 50), credit(wallet_for(user), 50)],
    )
    orphaned = topup.credit_transaction
    Topup.objects.filter(pk=topup.pk).update(credit_transaction=wrong)

    run = reconciliation_run(triggered_by="test")

    # then the mismatch, and the real credit now belongs to no top-up
    assert kinds(run) == ["orphan_topup_transaction", "topup_credit_mismatch"]
    assert set(run.findings.values_list("transaction_id_ref", flat=True)) == {wrong.pk, orphaned.pk}


def test_topup_credited_by_a_transaction_of_another_kind(make_user):
    user = make_user()
    topup = paid_topup(user, coins=20)
    promo = grant(user, 20)
    Topup.objects.filter(pk=topup.pk).update(credit_transaction=promo)

    run = reconciliation_run(triggered_by="test")

    assert kinds(run) == ["orphan_topup_transaction", "topup_credit_mismatch"]


def test_topup_credit_to_someone_elses_wallet(make_user):
    buyer, other = make_user(), make_user()
    topup = paid_topup(buyer, coins=10)
    Topup.objects.filter(pk=topup.pk).update(user=other)

    run = reconciliation_run(triggered_by="test")

    assert kinds(run) == ["topup_credit_mismatch"]


def test_a_topup_transaction_without_a_topup(make_user):
    txn = ledger_post(
        kind=Transaction.Kind.TOPUP,
        legs=[debit(system_account("provider:sandbox"), 5), credit(wallet_for(make_user()), 5)],
    )

    run = reconciliation_run(triggered_by="test")

    assert kinds(run) == ["orphan_topup_transaction"]
    assert run.findings.get().transaction_id_ref == txn.pk


def test_refunded_without_a_refund_transaction(make_user):
    topup = paid_topup(make_user())
    Topup.objects.filter(pk=topup.pk).update(status=Topup.Status.REFUNDED)

    run = reconciliation_run(triggered_by="test")

    assert kinds(run) == ["topup_refund_missing"]


def test_a_refund_by_operator_reversal_counts(make_user):
    from coins.ledger import ledger_reverse

    topup = paid_topup(make_user())
    reversal = ledger_reverse(original=topup.credit_transaction, reason="chargeback")
    Topup.objects.filter(pk=topup.pk).update(status=Topup.Status.REFUNDED, refund_transaction=reversal)

    assert reconciliation_run(triggered_by="test").ok is True


def test_a_pending_topup_linked_to_a_credit(make_user):
    topup = paid_topup(make_user())
    Topup.objects.filter(pk=topup.pk).update(status=Topup.Status.PENDING)

    run = reconciliation_run(triggered_by="test")

    assert kinds(run) == ["unsettled_topup_credited"]


def test_failed_refunds_are_counted_for_operators_not_findings(make_user):
    topup = paid_topup(make_user())
    Topup.objects.filter(pk=topup.pk).update(refund_status=Topup.RefundStatus.FAILED)

    run = reconciliation_run(triggered_by="test")

    assert run.ok is True and run.summary["refunds_awaiting_operator"] == 1


def test_a_mail_outage_does_not_lose_the_run(make_user, monkeypatch, ledger_log):
    ledger_post(
        kind=Transaction.Kind.TOPUP,
        legs=[debit(system_account("provider:sandbox"), 5), credit(wallet_for(make_user()), 5)],
    )

    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("coins.reconciliation.mail_admins", down)
    run = reconciliation_run(triggered_by="test")

    assert ReconciliationFinding.objects.filter(run=run).count() == 1
    assert any("could not mail" in r.getMessage() for r in ledger_log.records)


def test_the_nightly_task_stores_a_run(busy_ledger):
    run_id = reconcile_ledger.delay().get()

    run = ReconciliationRun.objects.get(pk=run_id)
    assert (run.triggered_by, run.ok) == ("schedule", True)


# --- Commands ---------------------------------------------------------------------------------


def test_reconcile_command_prints_the_summary_and_exits_zero(busy_ledger):
    out, err = StringIO(), StringIO()

    call_command("reconcile", stdout=out, stderr=err)

    summary = json.loads(out.getvalue().splitlines()[0])
    assert summary["ok"] is True and summary["findings"] == 0
    assert ReconciliationRun.objects.get(pk=summary["run"]).triggered_by == "command"
    assert "7/7" in err.getvalue() and "#" * 30 in err.getvalue()


@pytest.mark.ledger_may_break
def test_reconcile_command_exits_non_zero_with_findings(busy_ledger):
    break_cached_balance(busy_ledger[1])
    out = StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("reconcile", "--no-progress", stdout=out, stderr=StringIO())

    assert failure.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0])["findings"] == 1
    assert lines[1].startswith("balance_mismatch: ")


def test_ledger_check_prints_one_json_line_and_exits_zero(busy_ledger):
    out = StringIO()

    call_command("ledger_check", stdout=out)

    [line] = out.getvalue().splitlines()
    report = json.loads(line)
    assert {
        "transactions",
        "unbalanced_transactions",
        "balance_mismatches",
        "negative_wallets",
        "coins_in_circulation",
        "ok",
    } <= set(report)
    assert report["ok"] is True
    assert report["coins_in_circulation"] == 100
    assert report["transactions"] == Transaction.objects.count()


@pytest.mark.ledger_may_break
def test_ledger_check_exits_one_on_a_mismatch(busy_ledger):
    break_cached_balance(busy_ledger[0], by=-3)
    out = StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("ledger_check", stdout=out)

    assert failure.value.returncode == 1
    report = json.loads(out.getvalue())
    assert (report["ok"], report["balance_mismatches"]) == (False, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_postgres_reads_one_snapshot(busy_ledger):
    # the reconciliation opens its own REPEATABLE READ transaction here (not nested in a test's)
    with CaptureQueriesContext(connection) as queries:
        run = reconciliation_run(triggered_by="test")

    assert run.ok is True
    assert any("REPEATABLE READ" in q["sql"] for q in queries.captured_queries)
    assert ReconciliationRun.objects.get(pk=run.pk).summary["findings"] == 0


def test_a_run_that_crashes_is_not_left_running(monkeypatch, ledger_log):
    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr("coins.reconciliation.CHECKS", [("broken", broken)])

    with pytest.raises(RuntimeError):
        reconciliation_run(triggered_by="test")

    run = ReconciliationRun.objects.get()
    assert run.ok is False and run.finished_at is not None
    assert "database went away" in run.summary["error"]
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]
