"""Receipts for top-ups and purchases: issued once per ledger transaction, mailed at most once.

Invariants:
- one receipt per transaction (a unique one-to-one), numbered `HD-YYYYMMDD-<transaction id>`
  from the transaction's date and id, so the number is unique and the same on every retry;
- a receipt is mailed only while its row is locked and `emailed_at` is empty, and `emailed_at` is
  set in the same database transaction, so a retried or twice-delivered task never mails twice.
  The one window left is a crash after the mail server accepted the message and before the commit
  (mail has no transactions); the task then mails again on redelivery, which beats never mailing.
- a user without an email address gets a stored receipt and no mail;
- nothing is lost to a broker outage: the task is dispatched after commit (`robust`, so an
  outage only logs), and the periodic sweep (coins.tasks.sweep_receipts) issues what is still
  missing once `SWEEP_MIN_AGE` has passed, looking back `SWEEP_MAX_AGE`.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from coins.models import Account, Receipt, Side, Topup, Transaction

logger = logging.getLogger("huddle.coins")

# The kinds of transaction a customer gets a receipt for.
RECEIPT_KINDS = (Transaction.Kind.TOPUP, Transaction.Kind.PURCHASE)

# The sweep leaves a fresh transaction to its dispatch after commit, and looks back a few days
# (the (kind, created_at) index keeps that cheap; older ones are an operator's matter).
SWEEP_MIN_AGE = timedelta(minutes=1)
SWEEP_MAX_AGE = timedelta(days=3)
SWEEP_BATCH = 500


def receipt_number(txn: Transaction) -> str:
    """`HD-20260314-00000042`: the transaction's UTC date and its zero-padded id."""
    return f"HD-{txn.created_at.astimezone(UTC):%Y%m%d}-{txn.pk:08d}"


def _receipt_fields(txn: Transaction) -> dict | None:
    """What the receipt says, from the top-up it credited or the wallet entry of a purchase."""
    topup = Topup.objects.filter(credit_transaction=txn).select_related("user").first()
    if topup is not None:
        return {
            "user": topup.user,
            "description": f"Top-up of {topup.coins} coins",
            "coins": topup.coins,
            "amount_minor": topup.price_minor,
            "currency": topup.currency,
        }
    wallet_entry = (
        txn.entries.filter(account__kind=Account.Kind.WALLET, side=Side.DEBIT)
        .select_related("account__user")
        .first()
    )
    if txn.kind != Transaction.Kind.PURCHASE or wallet_entry is None:
        return None
    return {
        "user": wallet_entry.account.user,
        "description": (txn.memo or "Purchase")[:200],
        "coins": wallet_entry.amount,
        "amount_minor": None,
        "currency": "",
    }


def receipts_missing(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """Ids of the top-up credits and purchases that should have a receipt and have none, between
    SWEEP_MIN_AGE and SWEEP_MAX_AGE old at `now`, oldest first, at most `limit`."""
    now = now or timezone.now()
    worthy = Q(kind=Transaction.Kind.PURCHASE) | Q(kind=Transaction.Kind.TOPUP, topup_credited__isnull=False)
    return list(
        Transaction.objects.filter(
            worthy,
            created_at__gte=now - SWEEP_MAX_AGE,
            created_at__lte=now - SWEEP_MIN_AGE,
            receipt__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def receipt_issue(*, transaction_id: int) -> Receipt | None:
    """Create the receipt of a top-up credit or a purchase if missing, and mail it once to the
    customer's address when they have one. Safe to call any number of times, concurrently too.
    Returns None (and does nothing) for a transaction that gets no receipt or does not exist."""
    txn = Transaction.objects.filter(pk=transaction_id, kind__in=RECEIPT_KINDS).first()
    fields = _receipt_fields(txn) if txn is not None else None
    if fields is None:
        logger.warning("no receipt for transaction %s: not a top-up credit or purchase", transaction_id)
        return None
    receipt, _ = Receipt.objects.get_or_create(
        transaction=txn, defaults={"number": receipt_number(txn), **fields}
    )
    with transaction.atomic():
        receipt = Receipt.objects.select_for_update().select_related("user", "transaction").get(pk=receipt.pk)
        address = receipt.user.email
        if receipt.emailed_at is not None or not address:
            return receipt
        _receipt_mail(receipt, address)
        receipt.emailed_at = timezone.now()
        receipt.emailed_to = address
        receipt.save(update_fields=["emailed_at", "emailed_to"])
    return receipt


def _receipt_mail(receipt: Receipt, address: str) -> None:
    """Send the receipt (text and HTML parts). Raises the mail backend's errors (the task retries)."""
    context = {
        "receipt": receipt,
        "user": receipt.user,
        "price": None if receipt.amount_minor is None else f"{receipt.amount_minor / 100:.2f}",
    }
    subject = render_to_string("coins/email/receipt_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("coins/email/receipt.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
    )
    message.attach_alternative(render_to_string("coins/email/receipt.html", context), "text/html")
    message.send(fail_silently=False)
