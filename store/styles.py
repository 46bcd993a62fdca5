"""How a person looks in chat: the bubble and name colour they show, and their VIP badge.

The store decides (a store.models.ChatStyle row per person: the chosen bubble and name colour),
and copies the result onto the person's accounts.User row (`chat_bubble`, `chat_name_color`,
`vip_until`) through accounts.services.chat_style_set. Every message send reads that row anyway,
and stamps it on the message (messaging.services): messaging never asks the store.

Invariants:
- the copied colours are those of items the person holds now, and `vip_until` is the end of
  their VIP time (the latest expiry of a held VIP entitlement): `chat_style_refresh` re-derives
  all three from the entitlements every time, so every path that changes what someone holds
  (purchases, gifts received, VIP renewals, refunds) calls it inside its own transaction;
- the ChatStyle row is locked (FOR NO KEY UPDATE) before the entitlements are read, so two
  changes for one person apply one after the other; it is taken after the entitlement and
  ledger locks of the caller (the store's order: entitlement -> ledger accounts -> style);
- default: the most recently acquired item of each kind (by its latest purchase not refunded);
  acquiring one makes it active; an active one taken back falls back to that default.
  A lapsed VIP membership needs no write: `vip_until` is in the past by then.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q

from accounts.models import User
from accounts.services import chat_style_set
from core.exceptions import InvalidInput
from store.errors import NotOwned
from store.models import ChatStyle, Entitlement, Item
from store.selectors import held_filter

STYLE_FIELDS = {Item.Kind.BUBBLE: "bubble", Item.Kind.NAME_COLOR: "name_color"}
# Items whose acquisition or loss changes how someone looks in chat.
STYLE_KINDS = frozenset({Item.Kind.BUBBLE, Item.Kind.NAME_COLOR, Item.Kind.VIP})
UNSET: Any = object()


@dataclass(frozen=True)
class StyleChoice:
    """The bubble and name colour a person shows (items they hold), or None."""

    bubble: Item | None
    name_color: Item | None


def _latest_held(user_id: int, kind: str) -> Item | None:
    """The held item of `kind` acquired last (by its latest purchase for the person not refunded;
    an entitlement without purchases, e.g. granted by an operator, comes after those)."""
    held = Entitlement.objects.filter(held_filter(), user_id=user_id, item__kind=kind).values("item_id")
    bought = Q(purchases__recipient_id=user_id, purchases__refunded_at__isnull=True)
    return (
        Item.objects.filter(pk__in=held)
        .annotate(acquired=Max("purchases__id", filter=bought))
        .order_by(F("acquired").desc(nulls_last=True), "-pk")
        .first()
    )


def _held_ids(user_id: int) -> set[int]:
    return set(
        Entitlement.objects.filter(held_filter(), user_id=user_id, item__kind__in=STYLE_FIELDS).values_list(
            "item_id", flat=True
        )
    )


def _vip_until(user_id: int) -> datetime | None:
    return (
        Entitlement.objects.filter(user_id=user_id, item__kind=Item.Kind.VIP, quantity__gt=0)
        .aggregate(until=Max("expires_at"))
        .get("until")
    )


def _style_row_locked(user_id: int) -> ChatStyle:
    """The person's ChatStyle row, locked; created with the defaults when missing (a concurrent
    creator waits on the primary key, then this takes the lock of the row it made)."""
    rows = ChatStyle.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "bubble", "name_color"
    )
    row = rows.filter(user_id=user_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return ChatStyle.objects.create(
                user_id=user_id,
                bubble=_latest_held(user_id, Item.Kind.BUBBLE),
                name_color=_latest_held(user_id, Item.Kind.NAME_COLOR),
            )
    except IntegrityError:
        return rows.get(user_id=user_id)


def _apply(row: ChatStyle) -> None:
    """Replace choices no longer held by the default, save, and copy the result to the user row."""
    held = _held_ids(row.user_id)
    for kind, field in STYLE_FIELDS.items():
        chosen = getattr(row, field)
        if chosen is not None and chosen.pk not in held:
            setattr(row, field, _latest_held(row.user_id, kind))
    row.save()
    chat_style_set(
        user_id=row.user_id,
        bubble=row.bubble.color if row.bubble else "",
        name_color=row.name_color.color if row.name_color else "",
        vip_until=_vip_until(row.user_id),
    )


def chat_style_refresh(*, user_id: int, acquired: Item | None = None) -> None:
    """Re-derive the person's chat style after what they hold changed; `acquired`: a bubble or
    name colour they just got, which becomes the active one. Runs inside the caller's transaction,
    after its entitlement and ledger locks."""
    row = _style_row_locked(user_id)
    if acquired is not None and acquired.kind in STYLE_FIELDS:
        setattr(row, STYLE_FIELDS[acquired.kind], acquired)
    _apply(row)


def _clean_choice(kind: str, field: str, sku: Any) -> Item | None:
    """None for "none"; else the item of that kind (NotOwned for an unknown sku, as for stickers)."""
    if sku is None:
        return None
    if not isinstance(sku, str) or not sku:
        raise InvalidInput(fields={field: ["An item's sku, or null for none."]})
    item = Item.objects.filter(sku=sku).first()
    if item is None:
        raise NotOwned("You do not own this item.")
    if item.kind != kind:
        raise InvalidInput(
            "This item is not of that kind.",
            fields={
                field: [f"Not a {Item.Kind(kind).label.lower()}: {item.sku} is a {item.get_kind_display()}."]
            },
        )
    return item


def chat_style_choose(*, user: User, bubble: Any = UNSET, name_color: Any = UNSET) -> StyleChoice:
    """Choose the bubble and/or name colour to show (a sku the user holds, or None for none); a
    field left out stays as it is. Raises InvalidInput (not a sku, or an item of another kind) and
    NotOwned (an item not held now, or no such item); nothing changes then."""
    wanted = {}
    for kind, field, sku in (
        (Item.Kind.BUBBLE, "bubble", bubble),
        (Item.Kind.NAME_COLOR, "name_color", name_color),
    ):
        if sku is not UNSET:
            wanted[field] = _clean_choice(kind, field, sku)
    with transaction.atomic():
        row = _style_row_locked(user.pk)
        # Checked under the lock: a refund that takes the item away applies before or after.
        held = _held_ids(user.pk)
        for field, item in wanted.items():
            if item is not None and item.pk not in held:
                raise NotOwned("You do not own this item.")
            setattr(row, field, item)
        _apply(row)
    return StyleChoice(bubble=row.bubble, name_color=row.name_color)


def chat_style_of(user: User) -> StyleChoice:
    """What the user shows now (read only: the defaults when they never chose)."""
    row = ChatStyle.objects.select_related("bubble", "name_color").filter(user_id=user.pk).first()
    held = _held_ids(user.pk)
    choice = {}
    for kind, field in STYLE_FIELDS.items():
        item = getattr(row, field) if row is not None else _latest_held(user.pk, kind)
        if item is not None and item.pk not in held:
            item = _latest_held(user.pk, kind)
        choice[field] = item
    return StyleChoice(**choice)
