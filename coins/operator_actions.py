"""What operators do to the ledger from the admin, each with a written reason and an audit-log line.

Invariants:
- the ledger posting and its OperatorAction row commit together or not at all (one atomic block);
- a reason is required (a blank one is refused before anything is written);
- the permission checks live in the admin (coins.reverse_transaction, coins.grant_promotion); these
  services trust their caller, like every service.
"""

from django.db import transaction

from accounts.models import User
from coins.ledger import ledger_reverse
from coins.models import OperatorAction, Transaction
from coins.services import promotion_grant
from core.exceptions import InvalidInput


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["Write why you do this."]})
    return reason


def operator_transaction_reverse(*, operator: User, original: Transaction, reason: str) -> Transaction:
    """Reverse `original` (once) on an operator's word. Raises AlreadyReversed, NotReversible or
    InsufficientFunds (a wallet has spent the coins) and then writes nothing."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        reversal = ledger_reverse(original=original, actor=operator, reason=reason, cause="admin")
        OperatorAction.objects.create(
            operator=operator,
            action=OperatorAction.Action.REVERSE,
            reason=reason,
            target_transaction=original,
            result_transaction=reversal,
            details={"kind": original.kind},
        )
    return reversal


def operator_promotion_grant(
    *, operator: User, user: User, amount: int, reason: str, idempotency_key: str | None = None
) -> Transaction:
    """Give `user` promotional coins on an operator's word; coins.services.promotion_grant writes the
    posting and the OperatorAction together. A form resubmitted with the same key grants once."""
    reason = _clean_reason(reason)
    return promotion_grant(
        user=user,
        amount=amount,
        operator=operator,
        reason=reason,
        idempotency_key=f"admin-grant:{idempotency_key}" if idempotency_key else None,
    )
