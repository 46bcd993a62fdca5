"""The coins writes people cause: transfers, top-ups (ordering and applying the provider's events)
and promotional grants. Every balance change goes through coins.ledger.ledger_post.

Invariants kept here:
- each service owns its database transaction, so its effect (and, from the API, the
  Idempotency-Key record around it) commits together or not at all;
- a transfer goes only to a friend, is 1..MAX_TRANSFER_COINS whole coins, and posts at most once
  per (sender, key);
- a provider event, identified by (provider, payment_id, event), is applied at most once: its
  PaymentEvent row is inserted, in the same transaction as the effect, before the effect, with
  the Topup row locked first; a top-up is credited at most once (ledger key topup:<id>:credit)
  and refunded at most once (its credit may be reversed only once);
- a refund never makes a wallet negative: if the coins are spent, the top-up stays paid with
  refund_status "failed" for an operator.
"""

from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction

from accounts.errors import NotFriends
from accounts.models import User
from coins.errors import AlreadyReversed, InsufficientFunds
from coins.ledger import (
    credit,
    debit,
    ledger_post,
    ledger_post_reversal,
    system_account,
    wallet_for,
    wallets_for,
)
from coins.models import Account, Entry, OperatorAction, PaymentEvent, Topup, TopupPackage, Transaction
from coins.payments import base as payments
from coins.payments.errors import AmountMismatch, UnknownTopup
from coins.payments.registry import provider_for_checkout
from core import text_rules
from core.degraded import task_dispatch_on_commit
from core.exceptions import IdempotencyKeyReused, InvalidInput, NotFound

# --- Transfers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferResult:
    transaction: Transaction
    balance: int  # the sender's balance right after this transfer


def _check_amount(amount: object, *, maximum: int | None = None) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise InvalidInput(fields={"amount": ["A positive whole number of coins is required."]})
    if maximum is not None and amount > maximum:
        raise InvalidInput(fields={"amount": [f"At most {maximum} coins."]})
    return amount


def transfer_create(
    *, sender: User, to_number: int, amount: int, memo: str = "", idempotency_key: str
) -> TransferResult:
    """Move `amount` coins from `sender` to the friend with account number `to_number`.

    Raises InvalidInput (amount, or to oneself), NotFound (no such person),
    InsufficientFunds (nothing is written). A repeat with the same key returns the first transfer;
    the same key for another recipient or amount is IdempotencyKeyReused."""
    _check_amount(amount, maximum=settings.MAX_TRANSFER_COINS)
    text_rules.check_name("memo", memo)
    if to_number == sender.number:
        raise InvalidInput("You cannot send coins to yourself.", fields={"to": ["Choose someone else."]})
    recipient_id, friends, sender_wallet_id, recipient_wallet_id = _transfer_parties(sender, to_number)
    if not friends:
        raise NotFriends("You can only send coins to friends.")
    metadata = {"from": sender.number, "to": to_number, "amount": amount}
    first_transfer = sender_wallet_id is None or recipient_wallet_id is None
    # The effect is this one posting, atomic by itself (one statement on PostgreSQL, its own
    # transaction through the ORM), so the usual transfer opens no transaction or savepoint of its
    # own: inside the API's (the Idempotency-Key record) it joins that one. A first transfer also
    # creates the wallets (empty), in one transaction with the posting: refused, it leaves none.
    with transaction.atomic() if first_transfer else nullcontext():
        if first_transfer:
            sender_wallet, recipient_wallet = wallets_for([sender, User.objects.get(pk=recipient_id)])
        else:
            sender_wallet, recipient_wallet = _account(sender_wallet_id), _account(recipient_wallet_id)
        txn = ledger_post(
            kind=Transaction.Kind.TRANSFER,
            legs=[debit(sender_wallet, amount), credit(recipient_wallet, amount)],
            memo=memo,
            metadata=metadata,
            idempotency_key=f"transfer:{sender.pk}:{idempotency_key}",
            actor=sender,
            cause="transfer",
        )
    if txn.replayed and txn.metadata != metadata:
        raise IdempotencyKeyReused()
    if txn.replayed:
        balance = Entry.objects.get(transaction=txn, account=sender_wallet).balance_after
    else:  # what the posting just wrote: no query
        balance = next(e.balance_after for e in txn.posted_entries if e.account_id == sender_wallet.pk)
    return TransferResult(transaction=txn, balance=balance)


# The recipient (active, by number), whether they are the sender's friend, and both wallets, in one
# query: what user_get_by_number, are_friends and wallets_for read in four ORM queries, whose
# compilation was a third of a transfer's CPU (docs/PERFORMANCE.md).
_TRANSFER_PARTIES_SQL = """
SELECT u.id,
       EXISTS (SELECT 1 FROM accounts_friendship f WHERE f.user_id = %s AND f.friend_id = u.id),
       (SELECT a.id FROM coins_account a WHERE a.user_id = %s),
       (SELECT a.id FROM coins_account a WHERE a.user_id = u.id)
  FROM accounts_user u
 WHERE u.number = %s AND u.is_active
"""


def _transfer_parties(sender: User, to_number: int) -> tuple[int, bool, int | None, int | None]:
    """(recipient id, friends?, sender's wallet id, recipient's wallet id); NotFound if no active
    user has `to_number` (as accounts.selectors.user_get_by_number)."""
    with connection.cursor() as cursor:
        cursor.execute(_TRANSFER_PARTIES_SQL, [sender.pk, sender.pk, to_number])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No user has this number.")
    recipient_id, friends, sender_wallet_id, recipient_wallet_id = row
    return recipient_id, bool(friends), sender_wallet_id, recipient_wallet_id


def _account(account_id: int) -> Account:
    """An account known by id only (a leg needs no more; other fields load if read)."""
    return Account.from_db(DEFAULT_DB_ALIAS, ["id"], [account_id])


# --- Promotions -----------------------------------------------------------------------------------


def promotion_grant(
    *,
    user: User,
    amount: int,
    operator: User | None = None,
    reason: str = "",
    idempotency_key: str | None = None,
) -> Transaction:
    """Give `user` promotional coins (debit promotions, credit the wallet). With an `operator`, the
    audit-log line (OperatorAction "grant") is written in the same transaction; callers must not
    write another. With an `idempotency_key` already used, returns the first grant."""
    _check_amount(amount)
    with transaction.atomic():
        txn = ledger_post(
            kind=Transaction.Kind.PROMOTION,
            legs=[debit(system_account("promotions"), amount), credit(wallet_for(user), amount)],
            memo=reason or "Promotional coins",
            metadata={"reason": reason},
            idempotency_key=idempotency_key,
            actor=operator,
            cause="admin" if operator is not None else "system",
        )
        if operator is not None and not txn.replayed:
            OperatorAction.objects.create(
                operator=operator,
                action=OperatorAction.Action.GRANT,
                reason=reason,
                result_transaction=txn,
                details={"user": user.number, "amount": amount},
            )
    return txn


# --- Top-ups --------------------------------------------------------------------------------------


def topup_create(*, user: User, package_id: int) -> Topup:
    """Order an active package through the default provider; the coins and price are copied so
    later package edits do not change the order. PaymentsUnavailable (503) when the provider is
    off; InvalidInput (fields.package) for an unknown or inactive package."""
    provider = provider_for_checkout()
    package = TopupPackage.objects.filter(pk=package_id, active=True).first()
    if package is None:
        raise InvalidInput("No such package on sale.", fields={"package": ["Choose a package on sale."]})
    with transaction.atomic():
        return Topup.objects.create(
            user=user,
            package=package,
            coins=package.coins,
            price_minor=package.price_minor,
            currency=package.currency,
            provider=provider.name,
        )


@dataclass(frozen=True)
class PaymentEventResult:
    topup: Topup
    # credited, failed, refunded, refund_failed, ignored (a transition not allowed), duplicate
    outcome: str


def payment_event_apply(*, provider: str, payload: dict) -> PaymentEventResult:
    """Apply one provider event (CONTRACT section 5) exactly once; see the module docstring.

    Raises MalformedNotification, UnknownTopup, AmountMismatch (nothing is written for any of
    them). Transitions: pending -> paid (credit) | failed; paid -> refunded (refund); any other
    is recorded and ignored. The wallet is credited when this returns."""
    notification = payments.PaymentNotification.from_payload(payload)
    with transaction.atomic():
        # Lock the top-up before reading its status: concurrent deliveries queue here.
        topup = (
            Topup.objects.select_for_update(no_key=True)
            .filter(pk=notification.topup_id, provider=provider)
            .first()
        )
        if topup is None:
            raise UnknownTopup()
        if (notification.amount_minor, notification.currency) != (topup.price_minor, topup.currency):
            raise AmountMismatch()
        try:
            with transaction.atomic():
                event = PaymentEvent.objects.create(
                    provider=provider,
                    payment_id=notification.payment_id,
                    event=notification.event,
                    topup=topup,
                    payload=payload,
                    outcome="applying",
                )
        except IntegrityError:
            return PaymentEventResult(topup=topup, outcome="duplicate")
        outcome = _transition(topup, notification, cause=f"webhook:{provider}")
        event.outcome = outcome
        event.save(update_fields=["outcome"])
    return PaymentEventResult(topup=topup, outcome=outcome)


def _transition(topup: Topup, notification: payments.PaymentNotification, *, cause: str) -> str:
    """Run inside payment_event_apply's transaction, with `topup` locked."""
    pending, paid = Topup.Status.PENDING, Topup.Status.PAID
    if notification.event == payments.SUCCEEDED and topup.status == pending:
        _topup_credit(topup, payment_id=notification.payment_id, cause=cause)
        return "credited"
    if notification.event == payments.FAILED and topup.status == pending:
        topup.status = Topup.Status.FAILED
        topup.payment_id = notification.payment_id
        topup.save(update_fields=["status", "payment_id", "updated_at"])
        return "failed"
    if notification.event == payments.REFUNDED and topup.status == paid:
        return _topup_refund(topup, cause=cause)
    return "ignored"


def _topup_credit(topup: Topup, *, payment_id: str, cause: str) -> None:
    txn = ledger_post(
        kind=Transaction.Kind.TOPUP,
        legs=[
            debit(system_account(f"provider:{topup.provider}"), topup.coins),
            credit(wallet_for(topup.user), topup.coins),
        ],
        memo=f"Top-up of {topup.coins} coins",
        metadata={"topup": topup.pk, "payment_id": payment_id, "provider": topup.provider},
        idempotency_key=f"topup:{topup.pk}:credit",
        cause=cause,
    )
    topup.status = Topup.Status.PAID
    topup.payment_id = payment_id
    topup.credit_transaction = txn
    topup.save(update_fields=["status", "payment_id", "credit_transaction", "updated_at"])
    receipt_send_on_commit(transaction_id=txn.pk)


def receipt_send_on_commit(*, transaction_id: int) -> None:
    """Issue and mail the receipt of a top-up credit or a purchase once the current transaction
    commits. A dispatch the broker refuses (Redis down: degraded mode) is logged, not raised (the
    effect is committed); the periodic receipt sweep (coins.tasks.sweep_receipts) issues it later."""
    from coins.tasks import send_receipt

    task_dispatch_on_commit(send_receipt, transaction_id, swept_by="coins.tasks.sweep_receipts")


def _topup_refund(topup: Topup, *, cause: str) -> str:
    original = topup.credit_transaction
    try:
        refund = ledger_post_reversal(
            original=original,
            kind=Transaction.Kind.TOPUP_REFUND,
            memo=f"Refund of top-up #{topup.pk}",
            metadata={"topup": topup.pk, "refunds": original.pk},
            idempotency_key=f"topup:{topup.pk}:refund",
            cause=cause,
        )
    except InsufficientFunds:
        topup.refund_status = Topup.RefundStatus.FAILED
        topup.save(update_fields=["refund_status", "updated_at"])
        return "refund_failed"
    except AlreadyReversed:
        # An operator already reversed the credit: the coins are back; just record the refund.
        refund = Transaction.objects.get(reverses=original)
    topup.status = Topup.Status.REFUNDED
    topup.refund_status = Topup.RefundStatus.REFUNDED
    topup.refund_transaction = refund
    topup.save(update_fields=["status", "refund_status", "refund_transaction", "updated_at"])
    return "refunded"
