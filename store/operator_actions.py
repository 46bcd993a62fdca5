"""What operators do to purchases from the admin: refunds, each with a written reason.

A refund is the reversal of the purchase's ledger transaction (coins.ledger.ledger_post_reversal,
key `purchase:<id>:refund`, so it happens once), the entitlement taken back, an OperatorAction
audit row (action "reverse", details naming the purchase), and the holder's chat style
re-derived (store.styles), in one database transaction. It is refused (409 not_refundable) when
what was bought is used up: a gift whose holder no longer has that many (gifts sent in chat use
them up), or a VIP period that has ended.
"""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from coins.ledger import ledger_post_reversal
from coins.models import OperatorAction, Transaction
from core.exceptions import InvalidInput
from store.errors import AlreadyRefunded, NotRefundable
from store.models import Item, Purchase
from store.services import entitlement_locked
from store.styles import STYLE_KINDS, chat_style_refresh


def purchase_refund(*, operator: User, purchase_id: int, reason: str) -> Purchase:
    """Refund a purchase on an operator's word; see the module docstring. Raises InvalidInput (no
    reason), AlreadyRefunded, NotRefundable; coins.errors.InsufficientFunds cannot happen (the
    buyer's wallet only grows). Nothing is written when it raises."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["Write why you do this."]})
    now = timezone.now()
    with transaction.atomic():
        purchase = (
            Purchase.objects.select_for_update(no_key=True, of=("self",))
            .select_related("item", "transaction", "buyer", "recipient")
            .get(pk=purchase_id)
        )
        if purchase.refunded_at is not None:
            raise AlreadyRefunded()
        entitlement = entitlement_locked(user_id=purchase.recipient_id, item_id=purchase.item_id)
        item = purchase.item
        if item.kind == Item.Kind.VIP:
            if purchase.period_end is None or purchase.period_end <= now:
                raise NotRefundable("This VIP period has ended; it cannot be refunded.")
            # Periods are back to back: taking this one away ends the membership that much earlier.
            taken = purchase.period_end - max(purchase.period_start or now, now)
            entitlement.expires_at = max(entitlement.expires_at - taken, now)
        elif item.consumable:
            if entitlement.quantity < purchase.quantity:
                raise NotRefundable("The gift has been used up; it cannot be refunded.")
            entitlement.quantity -= purchase.quantity
        else:
            entitlement.quantity = 0
        entitlement.save()
        refund = ledger_post_reversal(
            original=purchase.transaction,
            kind=Transaction.Kind.REVERSAL,
            memo=f"Refund of purchase #{purchase.pk}: {reason}"[:200],
            metadata={"purchase": purchase.pk, "reverses": purchase.transaction_id, "reason": reason},
            idempotency_key=f"purchase:{purchase.pk}:refund",
            actor=operator,
            cause="admin",
        )
        purchase.refunded_at = now
        purchase.refund_transaction = refund
        purchase.refund_reason = reason
        purchase.save(update_fields=["refunded_at", "refund_transaction", "refund_reason"])
        if item.kind in STYLE_KINDS:  # a bubble or name colour taken back, a VIP time shortened
            chat_style_refresh(user_id=purchase.recipient_id)
        OperatorAction.objects.create(
            operator=operator,
            action=OperatorAction.Action.REVERSE,
            reason=reason,
            target_transaction=purchase.transaction,
            result_transaction=refund,
            details={
                "store_purchase": purchase.pk,
                "sku": item.sku,
                "quantity": purchase.quantity,
                "recipient": purchase.recipient.number,
            },
        )
    return purchase
