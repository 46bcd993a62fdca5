"""Every write of the store: purchases (for oneself or as a gift to a friend), VIP renewals and the
auto-renew switch. Operators' refunds are in store.operator_actions.

Invariants:
- a purchase is one ledger transaction, wallet -> `store:revenue`, posted by coins.ledger with the
  key `purchase:<id>`, and the entitlement it buys, in one database transaction: both or neither;
- every purchase of an item for a person first locks that person's Entitlement row of the item
  (created empty if missing; its unique (user, item) index makes a concurrent creator wait), so
  of two racing purchases of a non-consumable exactly one is charged and the other is 409
  already_owned; locks are taken entitlement -> ledger accounts -> conversation, everywhere;
- a buyer's request key (the Idempotency-Key, or the store page's form key) buys once: a second
  request with it returns the first purchase (`.replayed`), with other contents it is 409
  idempotency_key_reused;
- a VIP period is 30 days; a purchase extends an active membership from its end; a renewal is
  charged at most once per period (its purchase and ledger key are
  `vip_renewal:<user>:<period start>`, and it runs with the membership row locked, re-checking
  that it is still due), so the task may run twice or concurrently;
- what people hold shows in chat (store.styles): every change of a bubble, name colour or VIP
  entitlement re-derives the holder's chat style in the same transaction;
- receipts come from the coins receipt task, dispatched after commit; gifts are told to the
  recipient after commit (a `store.gift` socket event and a `gift` message in their direct
  conversation).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.templatetags.static import static
from django.utils import timezone

from accounts.errors import NotFriends
from accounts.models import User
from accounts.selectors import are_friends, user_get_by_number
from coins.errors import InsufficientFunds
from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import Transaction
from coins.services import receipt_send_on_commit
from core.exceptions import IdempotencyKeyReused, InvalidInput
from messaging.conversations import conversation_direct_open
from messaging.models import Message
from messaging.realtime import send_event_on_commit
from messaging.services import message_send
from store.errors import AlreadyOwned, NotVip
from store.models import MAX_QUANTITY, Entitlement, Item, Purchase
from store.selectors import VipStatus, vip_entitlement_of, vip_status
from store.styles import STYLE_KINDS, chat_style_refresh

logger = logging.getLogger("huddle.store")

REVENUE = "store:revenue"
VIP_PERIOD = timedelta(days=30)
# A membership is renewed when it ends within RENEW_AHEAD (the task runs every 15 minutes), and
# not any more once it ended RENEW_GRACE ago (after a long outage it simply ends).
RENEW_AHEAD = timedelta(hours=1)
RENEW_GRACE = timedelta(days=3)
# Kinds owned at most once: buying one held already is 409 already_owned.
OWNED_ONCE = frozenset({Item.Kind.STICKER_PACK, Item.Kind.BUBBLE, Item.Kind.NAME_COLOR})


def entitlement_locked(*, user_id: int, item_id: int) -> Entitlement:
    """The (user, item) entitlement row, locked; created empty (quantity 0) when missing. Runs
    inside the caller's transaction. A concurrent creator waits on the unique index for the first
    to commit, then takes the lock of the row it made."""
    rows = Entitlement.objects.select_for_update(no_key=True).filter(user_id=user_id, item_id=item_id)
    row = rows.first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return Entitlement.objects.create(user_id=user_id, item_id=item_id, quantity=0)
    except IntegrityError:
        return rows.get()


# --- Purchases --------------------------------------------------------------------------------------


def _clean_purchase_input(sku: Any, quantity: Any) -> tuple[Item, int]:
    if not isinstance(sku, str) or not sku:
        raise InvalidInput(fields={"sku": ["An item's sku is required."]})
    item = Item.objects.filter(sku=sku, active=True).first()
    if item is None:
        raise InvalidInput("No such item on sale.", fields={"sku": ["No such item on sale."]})
    quantity = 1 if quantity is None else quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(fields={"quantity": [f"A whole number from 1 to {MAX_QUANTITY}."]})
    if not item.consumable and quantity != 1:
        raise InvalidInput(
            "Only gifts are bought in numbers.", fields={"quantity": ["This item is bought one at a time."]}
        )
    return item, quantity


def _recipient(buyer: User, gift_to: Any) -> User:
    if gift_to is None:
        return buyer
    if isinstance(gift_to, bool) or not isinstance(gift_to, int):
        raise InvalidInput(fields={"gift_to": ["A friend's account number."]})
    recipient = user_get_by_number(gift_to)
    if recipient.pk == buyer.pk:
        raise InvalidInput("Buy it for yourself without gift_to.", fields={"gift_to": ["This is you."]})
    if not are_friends(buyer, recipient):
        raise NotFriends("You can only give gifts to friends.")
    return recipient


def purchase_create(
    *,
    buyer: User,
    sku: Any,
    quantity: Any = None,
    gift_to: Any = None,
    idempotency_key: str,
) -> Purchase:
    """Buy `quantity` of the item `sku` for the buyer, or as a gift for the friend with account
    number `gift_to`; see the module docstring. Returns the purchase (`.replayed` True when the
    request key had bought it already).

    Raises InvalidInput (sku not on sale, quantity outside 1..99 or above 1 for a non-consumable,
    gift to oneself), NotFound (no such person), NotFriends, Blocked (a gift to someone blocked
    either way), AlreadyOwned, InsufficientFunds, IdempotencyKeyReused; nothing is written then."""
    item, quantity = _clean_purchase_input(sku, quantity)
    recipient = _recipient(buyer, gift_to)
    request_key = f"request:{idempotency_key}"
    total = item.price * quantity
    with transaction.atomic():
        entitlement = entitlement_locked(user_id=recipient.pk, item_id=item.pk)
        # Under the lock a concurrent request with the same key has committed (or rolled back).
        existing = Purchase.objects.filter(buyer=buyer, request_key=request_key).first()
        if existing is not None:
            if (existing.item_id, existing.quantity, existing.recipient_id) != (
                item.pk,
                quantity,
                recipient.pk,
            ):
                raise IdempotencyKeyReused()
            existing.replayed = True
            return existing
        if item.kind in OWNED_ONCE and entitlement.quantity > 0:
            raise AlreadyOwned(
                "They already own this item." if recipient != buyer else "You already own this item."
            )
        purchase = Purchase(
            buyer=buyer,
            recipient=recipient,
            item=item,
            quantity=quantity,
            unit_price=item.price,
            price_total=total,
            request_key=request_key,
        )
        now = timezone.now()
        if item.kind == Item.Kind.VIP:
            running = entitlement.quantity > 0 and entitlement.expires_at and entitlement.expires_at > now
            purchase.period_start = entitlement.expires_at if running else now
            purchase.period_end = purchase.period_start + VIP_PERIOD * quantity
        try:
            with transaction.atomic():
                purchase.save()
        except IntegrityError:  # the same key for another item, racing: the first one won
            raise IdempotencyKeyReused() from None
        txn = ledger_post(
            kind=Transaction.Kind.PURCHASE,
            legs=[debit(wallet_for(buyer), total), credit(system_account(REVENUE), total)],
            memo=_memo(item, quantity, recipient if purchase.is_gift else None),
            metadata={
                "purchase": purchase.pk,
                "sku": item.sku,
                "quantity": quantity,
                "gift_to": recipient.number if purchase.is_gift else None,
            },
            idempotency_key=f"purchase:{purchase.pk}",
            actor=buyer,
            cause="store",
        )
        purchase.transaction = txn
        purchase.save(update_fields=["transaction"])
        _entitlement_grant(entitlement, purchase, now=now)
        receipt_send_on_commit(transaction_id=txn.pk)
        if purchase.is_gift:
            _gift_tell(purchase)  # last: a message send holds the conversation's lock until commit
    purchase.replayed = False
    return purchase


def _memo(item: Item, quantity: int, recipient: User | None) -> str:
    memo = item.name if quantity == 1 else f"{item.name} x {quantity}"
    return f"{memo} (gift to {recipient.display_name} #{recipient.number})" if recipient else memo


def _entitlement_grant(entitlement: Entitlement, purchase: Purchase, *, now: datetime) -> None:
    """Give the purchase's recipient what it bought; `entitlement` is locked."""
    item = purchase.item
    if item.kind == Item.Kind.VIP:
        was_running = entitlement.quantity > 0 and entitlement.expires_at and entitlement.expires_at > now
        if not was_running:
            # A new membership renews itself when bought for oneself; one given as a gift does not
            # (the recipient never agreed to be charged). A running one keeps its holder's choice.
            entitlement.auto_renew = not purchase.is_gift
        entitlement.quantity = 1
        entitlement.expires_at = purchase.period_end
        entitlement.lapsed_at = None
    elif item.consumable:
        entitlement.quantity += purchase.quantity
    else:
        entitlement.quantity = 1
    entitlement.save()
    if item.kind in STYLE_KINDS:  # a new bubble or name colour becomes the active one
        chat_style_refresh(user_id=entitlement.user_id, acquired=item)


def gift_message_data(item: Item, *, quantity: int, purchase_id: int | None) -> dict[str, Any]:
    """The `data` of a gift message: what a gift card shows. `purchase`: the purchase that sent it
    (a gift bought for a friend), or null for a gift given from the inventory."""
    return {
        "purchase": purchase_id,
        "sku": item.sku,
        "name": item.name,
        "quantity": quantity,
        "image_url": static(item.image),
    }


def _gift_tell(purchase: Purchase) -> None:
    """The recipient learns of the gift: a `store.gift` event and a `gift` message from the buyer
    in their direct conversation (opened if need be; Blocked either way refuses the purchase)."""
    buyer, recipient, item = purchase.buyer, purchase.recipient, purchase.item
    send_event_on_commit(
        [recipient.pk],
        {
            "type": "store.gift",
            "purchase": purchase.pk,
            "sku": item.sku,
            "name": item.name,
            "kind": item.kind,
            "quantity": purchase.quantity,
            "from": {"number": buyer.number, "display_name": buyer.display_name},
        },
    )
    conversation, _ = conversation_direct_open(user=buyer, number=recipient.number)
    message_send(
        sender=buyer,
        conversation_id=conversation.pk,
        kind=Message.Kind.GIFT,
        body=item.name if purchase.quantity == 1 else f"{item.name} x {purchase.quantity}",
        data=gift_message_data(item, quantity=purchase.quantity, purchase_id=purchase.pk),
        trusted=True,
    )


# --- VIP ------------------------------------------------------------------------------------------------


def vip_auto_renew_set(*, user: User, auto_renew: Any) -> VipStatus:
    """Switch the user's VIP auto-renewal on or off. Switching it on again after a failed renewal
    lets the next run try again. NotVip when the user never had a membership."""
    if not isinstance(auto_renew, bool):
        raise InvalidInput(fields={"auto_renew": ["true or false."]})
    with transaction.atomic():
        row = vip_entitlement_of(user)
        if row is None:
            raise NotVip()
        row = Entitlement.objects.select_for_update(no_key=True).get(pk=row.pk)
        row.auto_renew = auto_renew
        if auto_renew:
            row.lapsed_at = None
        row.save(update_fields=["auto_renew", "lapsed_at", "updated_at"])
    return vip_status(user)


def vip_renewals_due(*, now: datetime | None = None) -> list[int]:
    """Ids of the memberships to renew now (read without locks; vip_renew re-checks each)."""
    now = now or timezone.now()
    return list(
        Entitlement.objects.filter(
            item__kind=Item.Kind.VIP,
            quantity__gt=0,
            auto_renew=True,
            lapsed_at__isnull=True,
            expires_at__lte=now + RENEW_AHEAD,
            expires_at__gt=now - RENEW_GRACE,
        )
        .order_by("expires_at")
        .values_list("pk", flat=True)
    )


def _renewal_due(row: Entitlement, now: datetime) -> bool:
    return (
        row.item.kind == Item.Kind.VIP
        and row.quantity > 0
        and row.auto_renew
        and row.lapsed_at is None
        and row.expires_at is not None
        and now - RENEW_GRACE < row.expires_at <= now + RENEW_AHEAD
    )


def vip_renew(*, entitlement_id: int, now: datetime | None = None) -> str:
    """Renew one membership for the next period if it is still due: "renewed", "lapsed" (too few
    coins: no more attempts; the user is told), or "skipped" (not due, e.g. another run renewed
    it a moment ago)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            Entitlement.objects.select_for_update(no_key=True, of=("self",))
            .select_related("item", "user")
            .filter(pk=entitlement_id)
            .first()
        )
        if row is None or not _renewal_due(row, now):
            return "skipped"
        user, item = row.user, row.item
        period_start = row.expires_at
        key = f"vip_renewal:{user.pk}:{period_start.isoformat()}"
        try:
            with transaction.atomic():
                purchase = Purchase.objects.create(
                    buyer=user,
                    recipient=user,
                    item=item,
                    quantity=1,
                    unit_price=item.price,
                    price_total=item.price,
                    request_key=key,
                    is_renewal=True,
                    period_start=period_start,
                    period_end=period_start + VIP_PERIOD,
                )
                txn = ledger_post(
                    kind=Transaction.Kind.PURCHASE,
                    legs=[debit(wallet_for(user), item.price), credit(system_account(REVENUE), item.price)],
                    memo=f"{item.name}: renewal",
                    metadata={"purchase": purchase.pk, "sku": item.sku, "renewal": True},
                    idempotency_key=key,
                    actor=user,
                    cause="store:renewal",
                )
                purchase.transaction = txn
                purchase.save(update_fields=["transaction"])
        except InsufficientFunds:
            row.lapsed_at = now
            row.save(update_fields=["lapsed_at", "updated_at"])
            _lapse_tell(user, item, row.expires_at)
            return "lapsed"
        row.expires_at = purchase.period_end
        row.save(update_fields=["expires_at", "updated_at"])
        chat_style_refresh(user_id=user.pk)  # the VIP badge runs on
        receipt_send_on_commit(transaction_id=txn.pk)
        send_event_on_commit(
            [user.pk],
            {"type": "store.vip_renewed", "sku": item.sku, "expires_at": row.expires_at.isoformat()},
        )
    return "renewed"


def _lapse_tell(user: User, item: Item, expires_at: datetime) -> None:
    """After commit: a `store.vip_lapsed` event and, with an address, a mail."""
    send_event_on_commit(
        [user.pk],
        {
            "type": "store.vip_lapsed",
            "sku": item.sku,
            "expires_at": expires_at.isoformat(),
            "reason": "insufficient_funds",
        },
    )
    if user.email:
        subject = "Your Huddle VIP membership was not renewed"
        body = (
            f"Hello {user.display_name},\n\nYour wallet held fewer than {item.price} coins, so your "
            f"{item.name} was not renewed. It ends at {expires_at:%Y-%m-%d %H:%M} UTC. Top up and buy "
            "it again in the store to stay a member.\n"
        )
        transaction.on_commit(
            lambda: send_mail(subject, body, None, [user.email], fail_silently=True), robust=True
        )


def vip_renewals_run(*, now: datetime | None = None) -> dict[str, int]:
    """Renew every due membership, each in its own transaction. Returns counts by outcome."""
    counts = {"renewed": 0, "lapsed": 0, "skipped": 0}
    for entitlement_id in vip_renewals_due(now=now):
        try:
            counts[vip_renew(entitlement_id=entitlement_id, now=now)] += 1
        except Exception:  # one broken membership must not stop the others; the next run retries
            logger.exception("VIP renewal of entitlement %s failed", entitlement_id)
    return counts
