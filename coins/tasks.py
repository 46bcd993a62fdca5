"""Celery tasks of the coins app. Thin: each takes ids, calls one service, and is safe to run twice
(tasks are acknowledged late, so a lost worker means a redelivery: PITFALLS, Celery).

- `send_receipt`: the receipt's unique transaction and its `emailed_at` guard make a replay a
  no-op (coins.receipts); transient mail errors are retried with exponential backoff.
- `sweep_receipts`: every 10 minutes (beat), dispatches `send_receipt` for each top-up credit or
  purchase still without a receipt (its dispatch after commit met a broker outage); a replay
  finds nothing left, and a receipt dispatched twice is still issued and mailed once.
- `reconcile_ledger`: read-only towards the ledger; a replay stores one more run, nothing else.
"""

import logging
import smtplib

from celery import shared_task

from coins.receipts import receipt_issue, receipts_missing
from coins.reconciliation import reconciliation_run

logger = logging.getLogger("huddle.coins")

# Errors of a mail server that is down, slow or busy; worth another try later.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=10,
)
def send_receipt(transaction_id: int) -> int | None:
    """Issue the receipt of a credited top-up (or a purchase) and mail it once. Returns its id."""
    receipt = receipt_issue(transaction_id=transaction_id)
    return receipt.pk if receipt is not None else None


@shared_task(acks_late=True)
def sweep_receipts() -> int:
    """Dispatch the receipts that were never dispatched. Returns how many were."""
    dispatched = 0
    for transaction_id in receipts_missing():
        try:
            send_receipt.delay(transaction_id)
        except Exception:
            # One failed dispatch (or, run eagerly, one failed mail) must not hold up the rest;
            # a receipt still missing is picked up by the next sweep.
            logger.exception(
                "receipt sweep: dispatching the receipt of transaction %s failed", transaction_id
            )
            continue
        dispatched += 1
    return dispatched


@shared_task(acks_late=True)
def reconcile_ledger(triggered_by: str = "schedule") -> int:
    """Run a reconciliation (nightly by Celery beat). Returns the run's id."""
    return reconciliation_run(triggered_by=triggered_by).pk
