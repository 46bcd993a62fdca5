"""Reconciliation: the whole-ledger checks of coins.audit plus top-ups against the ledger, stored as a
ReconciliationRun with one ReconciliationFinding per problem.

What is checked:
- every transaction balances; every account's cached balance and entry count match its entries;
  no wallet is negative; sequences have no gaps and hash chains hold (coins.audit);
- every paid or refunded top-up is credited by exactly one transaction of kind `topup` that puts
  the top-up's coins into the buyer's wallet (and nothing into anyone else's);
- no pending or failed top-up is credited;
- every `topup` transaction belongs to a top-up (the one-to-one link makes it at most one);
- every refunded top-up has its refund transaction, taking the top-up's coins out of the buyer's
  wallet (kind `topup_refund`, or a reversal of its credit).

On PostgreSQL the checks read one REPEATABLE READ snapshot, so postings made meanwhile cannot show
up as false mismatches. Nothing is locked: a run is safe on a live ledger. The run row is stored
first (state "running"), its findings and summary when the checks end. Each finding is logged as an
error on `huddle.ledger`, and the admins get one summary mail when there are findings.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterator

from django.core.mail import mail_admins
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from coins.audit import Problem, balance_mismatches, chain_problems, negative_wallets, unbalanced_transactions
from coins.models import (
    Account,
    Entry,
    ReconciliationFinding,
    ReconciliationRun,
    Side,
    Topup,
    Transaction,
)

logger = logging.getLogger("huddle.ledger")

# progress(done, total, label): called after each check, e.g. to draw a progress bar.
Progress = Callable[[int, int, str], None]

SETTLED = (Topup.Status.PAID, Topup.Status.REFUNDED)


def _wallet_moves(transaction_ids: list[int], side: str) -> dict[tuple[int, int], int]:
    """{(transaction id, wallet owner's user id): coins moved on `side`} for these transactions."""
    rows = (
        Entry.objects.filter(transaction_id__in=transaction_ids, account__kind=Account.Kind.WALLET, side=side)
        .values("transaction_id", "account__user_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(r["transaction_id"], r["account__user_id"]): r["total"] for r in rows}


def _wallets_touched(transaction_ids: list[int]) -> dict[int, set[int]]:
    touched: dict[int, set[int]] = {}
    rows = Entry.objects.filter(transaction_id__in=transaction_ids, account__kind=Account.Kind.WALLET)
    for txn_id, user_id in rows.values_list("transaction_id", "account__user_id").distinct():
        touched.setdefault(txn_id, set()).add(user_id)
    return touched


def topup_credit_problems(batch_size: int = 2000) -> Iterator[Problem]:
    """Paid and refunded top-ups against their credit and refund transactions, in batches."""
    settled = Topup.objects.filter(status__in=SETTLED).order_by("pk")
    fields = (
        "pk",
        "user_id",
        "coins",
        "status",
        "credit_transaction_id",
        "credit_transaction__kind",
        "refund_transaction_id",
        "refund_transaction__kind",
        "refund_transaction__reverses_id",
    )
    last_pk = 0
    while batch := list(settled.filter(pk__gt=last_pk).values(*fields)[:batch_size]):
        last_pk = batch[-1]["pk"]
        credit_ids = [t["credit_transaction_id"] for t in batch if t["credit_transaction_id"]]
        refund_ids = [t["refund_transaction_id"] for t in batch if t["refund_transaction_id"]]
        credited = _wallet_moves(credit_ids, Side.CREDIT)
        debited = _wallet_moves(refund_ids, Side.DEBIT)
        touched = _wallets_touched(credit_ids)
        for topup in batch:
            yield from _check_topup(topup, credited, debited, touched)


def _check_topup(
    topup: dict,
    credited: dict[tuple[int, int], int],
    debited: dict[tuple[int, int], int],
    touched: dict[int, set[int]],
) -> Iterator[Problem]:
    pk, user_id, coins, credit_id = (
        topup["pk"],
        topup["user_id"],
        topup["coins"],
        topup["credit_transaction_id"],
    )
    if credit_id is None:
        yield Problem("topup_credit_missing", f"top-up #{pk} is {topup['status']} but has no credit")
        return
    if topup["credit_transaction__kind"] != Transaction.Kind.TOPUP:
        yield Problem(
            "topup_credit_mismatch",
            f"top-up #{pk}: credit transaction #{credit_id} is of kind {topup['credit_transaction__kind']}",
            transaction_id=credit_id,
        )
    got = credited.get((credit_id, user_id), 0)
    others = touched.get(credit_id, set()) - {user_id}
    if got != coins or others:
        yield Problem(
            "topup_credit_mismatch",
            f"top-up #{pk} of {coins} coins: transaction #{credit_id} credits {got} to the buyer's "
            f"wallet" + (f" and touches other users' wallets {sorted(others)}" if others else ""),
            transaction_id=credit_id,
        )
    if topup["status"] != Topup.Status.REFUNDED:
        return
    refund_id = topup["refund_transaction_id"]
    if refund_id is None:
        yield Problem("topup_refund_missing", f"top-up #{pk} is refunded but has no refund transaction")
        return
    refund_kind_ok = topup["refund_transaction__kind"] == Transaction.Kind.TOPUP_REFUND or (
        topup["refund_transaction__kind"] == Transaction.Kind.REVERSAL
        and topup["refund_transaction__reverses_id"] == credit_id
    )
    taken = debited.get((refund_id, user_id), 0)
    if not refund_kind_ok or taken != coins:
        yield Problem(
            "topup_refund_mismatch",
            f"top-up #{pk} of {coins} coins: refund transaction #{refund_id} "
            f"({topup['refund_transaction__kind']}) takes {taken} from the buyer's wallet",
            transaction_id=refund_id,
        )


def unsettled_topups_credited() -> Iterator[Problem]:
    rows = Topup.objects.exclude(status__in=SETTLED).filter(
        Q(credit_transaction__isnull=False) | Q(refund_transaction__isnull=False)
    )
    for pk, status, credit_id in rows.values_list("pk", "status", "credit_transaction_id"):
        yield Problem(
            "unsettled_topup_credited",
            f"top-up #{pk} is {status} but is linked to ledger transactions",
            transaction_id=credit_id,
        )


def orphan_topup_transactions() -> Iterator[Problem]:
    """`topup` transactions credited for no top-up, and `topup_refund` ones refunding none."""
    orphans = Transaction.objects.filter(
        Q(kind=Transaction.Kind.TOPUP, topup_credited__isnull=True)
        | Q(kind=Transaction.Kind.TOPUP_REFUND, topup_refunded__isnull=True)
    )
    for pk, kind in orphans.values_list("pk", "kind").order_by("pk"):
        yield Problem(
            "orphan_topup_transaction",
            f"transaction #{pk} of kind {kind} belongs to no top-up",
            transaction_id=pk,
        )


CHECKS: list[tuple[str, Callable[[], Iterator[Problem]]]] = [
    ("transactions balance", unbalanced_transactions),
    ("cached balances", balance_mismatches),
    ("wallets not negative", negative_wallets),
    ("sequences and hash chains", chain_problems),
    ("top-up credits", topup_credit_problems),
    ("unsettled top-ups", unsettled_topups_credited),
    ("top-up transactions", orphan_topup_transactions),
]


def _snapshot_checks(progress: Progress | None) -> tuple[list[Problem], dict]:
    """Run every check, inside one repeatable-read snapshot where the database offers it."""
    problems: list[Problem] = []
    with transaction.atomic():
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            # The outermost block (not inside a caller's or a test's transaction): a snapshot.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        totals = {
            "transactions": Transaction.objects.count(),
            "accounts": Account.objects.count(),
            "coins_in_circulation": Account.objects.filter(kind=Account.Kind.WALLET).aggregate(
                total=Sum("balance", default=0)
            )["total"],
            "topups_settled": Topup.objects.filter(status__in=SETTLED).count(),
            "refunds_awaiting_operator": Topup.objects.filter(
                refund_status=Topup.RefundStatus.FAILED, status=Topup.Status.PAID
            ).count(),
        }
        for done, (label, check) in enumerate(CHECKS, start=1):
            problems.extend(check())
            if progress is not None:
                progress(done, len(CHECKS), label)
    return problems, totals


def reconciliation_run(*, triggered_by: str, progress: Progress | None = None) -> ReconciliationRun:
    """Check the whole ledger and the top-ups against it; store, log and (on findings) mail the
    result. Read-only towards the ledger, so running it twice is harmless."""
    # A run whose worker was killed stays unfinished; its task comes back (acks_late) with the same
    # trigger and runs anew here: the earlier row is closed as abandoned, not left "running".
    ReconciliationRun.objects.filter(triggered_by=triggered_by[:64], finished_at__isnull=True).update(
        finished_at=timezone.now(),
        ok=False,
        summary={"error": "abandoned: its worker stopped before the end"},
    )
    run = ReconciliationRun.objects.create(triggered_by=triggered_by[:64])
    try:
        problems, totals = _snapshot_checks(progress)
    except Exception as error:
        # Not left "running" forever: the run is marked failed, the admins told, the error raised.
        run.finished_at, run.ok = timezone.now(), False
        run.summary = {"error": f"{type(error).__name__}: {error}"[:500]}
        run.save(update_fields=["finished_at", "ok", "summary"])
        logger.exception("reconciliation #%s could not run", run.pk)
        mail_admins(
            f"Ledger reconciliation #{run.pk} could not run", run.summary["error"], fail_silently=True
        )
        raise
    by_kind = Counter(p.kind for p in problems)
    with transaction.atomic():
        ReconciliationFinding.objects.bulk_create(
            ReconciliationFinding(
                run=run,
                kind=p.kind,
                detail=p.detail,
                account_id_ref=p.account_id,
                transaction_id_ref=p.transaction_id,
            )
            for p in problems
        )
        run.finished_at = timezone.now()
        run.ok = not problems
        run.summary = {**totals, "findings": len(problems), "findings_by_kind": dict(sorted(by_kind.items()))}
        run.save(update_fields=["finished_at", "ok", "summary"])
    for p in problems:
        logger.error("reconciliation #%s: %s: %s", run.pk, p.kind, p.detail)
    if problems:
        _mail_admins_summary(run, problems)
    else:
        logger.info("reconciliation #%s: ok (%s transactions)", run.pk, totals["transactions"])
    return run


def _mail_admins_summary(run: ReconciliationRun, problems: list[Problem], shown: int = 50) -> None:
    lines = [
        f"Reconciliation #{run.pk} ({run.triggered_by}) found {len(problems)} problem(s).",
        "",
        *(f"{kind}: {count}" for kind, count in run.summary["findings_by_kind"].items()),
        "",
        *(f"- {p.kind}: {p.detail}" for p in problems[:shown]),
    ]
    if len(problems) > shown:
        lines.append(f"... and {len(problems) - shown} more: see the run in the admin.")
    try:
        mail_admins(f"Ledger reconciliation #{run.pk}: {len(problems)} finding(s)", "\n".join(lines))
    except Exception:  # the run is stored and logged already; a mail outage must not lose it
        logger.exception("reconciliation #%s: could not mail the admins", run.pk)
