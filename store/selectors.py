"""Reads of the store: the catalog with what the caller owns, inventories, purchase history, VIP
status, and the sticker check messaging runs on every sticker send (registered in store.apps).

"Holds" means: a non-consumable or a gift with quantity > 0; VIP with an expiry in the future.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from core.exceptions import InvalidInput
from store.errors import NotOwned, PurchaseNotFound
from store.models import Entitlement, Item, Purchase, Sticker


def held_filter(now: datetime | None = None) -> Q:
    """Entitlement rows that count as held at `now`."""
    now = now or timezone.now()
    return Q(quantity__gt=0) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def items_on_sale() -> QuerySet[Item]:
    return Item.objects.filter(active=True).prefetch_related(
        Prefetch("stickers", queryset=Sticker.objects.order_by("position", "id"))
    )


def item_get_on_sale(sku: str) -> Item | None:
    return Item.objects.filter(sku=sku, active=True).first()


def owned_item_ids(user: User) -> set[int]:
    """The ids of the items `user` holds now (one query)."""
    return set(Entitlement.objects.filter(held_filter(), user=user).values_list("item_id", flat=True))


def inventory_of(user: User) -> list[Entitlement]:
    return list(
        Entitlement.objects.filter(held_filter(), user=user)
        .select_related("item")
        .order_by("item__position", "item_id")
    )


def purchases_of(user: User) -> QuerySet[Purchase]:
    """What `user` bought (gifts they gave included), for paginate_by_key, newest first."""
    return Purchase.objects.filter(buyer=user).select_related("item", "recipient", "transaction")


def purchase_get(purchase_id: int) -> Purchase:
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        raise PurchaseNotFound()
    return purchase


@dataclass(frozen=True)
class VipStatus:
    active: bool
    sku: str | None
    expires_at: datetime | None
    auto_renew: bool
    lapsed_at: datetime | None


def vip_entitlement_of(user: User) -> Entitlement | None:
    """The user's VIP row (the one with the latest expiry, should there be several VIP items)."""
    return (
        Entitlement.objects.filter(user=user, item__kind=Item.Kind.VIP)
        .select_related("item")
        .order_by("-expires_at", "-pk")
        .first()
    )


def vip_status(user: User) -> VipStatus:
    row = vip_entitlement_of(user)
    if row is None:
        return VipStatus(active=False, sku=None, expires_at=None, auto_renew=False, lapsed_at=None)
    active = row.quantity > 0 and row.expires_at is not None and row.expires_at > timezone.now()
    return VipStatus(
        active=active,
        sku=row.item.sku,
        expires_at=row.expires_at,
        auto_renew=row.auto_renew,
        lapsed_at=row.lapsed_at,
    )


def sticker_send_check(sender_id: int, data: dict[str, Any]) -> None:
    """A client's sticker message (`data` already shaped `{sku, sticker}` by messaging): the sender
    must hold the pack (else NotOwned, also for a pack that does not exist) and the sticker must be
    one of the pack's (by id, or by name when a string; else InvalidInput). One query."""
    sku, sticker = data["sku"], data["sticker"]
    in_pack = Sticker.objects.filter(pack=OuterRef("pk"))
    in_pack = in_pack.filter(pk=sticker) if isinstance(sticker, int) else in_pack.filter(name=sticker)
    row = (
        Item.objects.filter(sku=sku, kind=Item.Kind.STICKER_PACK)
        .values_list(
            Exists(Entitlement.objects.filter(held_filter(), item=OuterRef("pk"), user_id=sender_id)),
            Exists(in_pack),
        )
        .first()
    )
    if row is None or not row[0]:
        raise NotOwned()
    if not row[1]:
        raise InvalidInput(fields={"data": ["No such sticker in this pack."]})
