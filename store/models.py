"""The store: a catalog of value-added items, what people bought, and what they hold.

- `Item` (managed in the admin): sku, kind, price in whole coins, an image shipped under
  static/store/; a sticker pack lists its `Sticker`s.
- `Purchase`: one purchase (or VIP renewal), paid by exactly one ledger transaction
  (wallet -> store:revenue); at most one per (buyer, request key), so a resubmitted form or a
  retried renewal buys once.
- `Entitlement`: what a person holds of an item, one row per (user, item) (a unique constraint,
  and the row every purchase of that item for that person locks first: two racing purchases of
  a non-consumable settle on it, exactly one is charged). Non-consumables hold quantity 0 or 1,
  gifts a count, VIP an expiry (with the auto-renew switch).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from coins.models import Transaction

MAX_QUANTITY = 99  # gifts bought at once


class Item(models.Model):
    class Kind(models.TextChoices):
        STICKER_PACK = "sticker_pack", "Sticker pack"
        BUBBLE = "bubble", "Chat bubble"
        NAME_COLOR = "name_color", "Name colour"
        VIP = "vip", "VIP membership"
        GIFT = "gift", "Gift"

    sku = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    price = models.PositiveIntegerField(help_text="Whole coins.")
    description = models.CharField(max_length=300, blank=True)
    image = models.CharField(
        max_length=200, help_text="A static file shipped with the project, e.g. store/bubble-ocean.svg."
    )
    color = models.CharField(
        max_length=7, blank=True, help_text="Name colours and bubbles: the colour as #rrggbb."
    )
    active = models.BooleanField(default=True, help_text="On sale and listed.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the catalog (smallest first).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="store_item_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def consumable(self) -> bool:
        """Gifts are held in any number; everything else is owned once (VIP is extended)."""
        return self.kind == self.Kind.GIFT


class Sticker(models.Model):
    pack = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="stickers")
    name = models.CharField(max_length=64)
    image = models.CharField(max_length=200, help_text="A static file, e.g. store/stickers/smile.svg.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["pack", "name"], name="store_sticker_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.pack.sku})"


class Purchase(models.Model):
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="purchases_received",
        help_text="Who got the item: the buyer, or the friend it was a gift to.",
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="purchases")
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.PositiveIntegerField()
    price_total = models.PositiveIntegerField()
    request_key = models.CharField(
        max_length=300, help_text="The buyer's idempotency key (or the renewal's period key)."
    )
    is_renewal = models.BooleanField(default=False)
    # VIP: the period this purchase paid for.
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="store_purchase"
    )
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="store_refund"
    )
    refund_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["buyer", "-id"])]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "request_key"], name="store_purchase_request_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="store_purchase_quantity_positive"),
            models.CheckConstraint(
                condition=Q(price_total__gt=0), name="store_purchase_price_total_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"purchase #{self.pk}: {self.quantity} x {self.item_id}"

    @property
    def is_gift(self) -> bool:
        return self.recipient_id != self.buyer_id


class Entitlement(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="entitlements")
    quantity = models.PositiveIntegerField(default=0, help_text="0: not held (any more).")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="VIP: the end of the paid time.")
    auto_renew = models.BooleanField(default=True, help_text="VIP: charge the next period when due.")
    lapsed_at = models.DateTimeField(
        null=True, blank=True, help_text="VIP: a renewal failed (too few coins); no more attempts."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "item"], name="store_entitlement_user_item_unique"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="store_entitlement_expiry")]

    def __str__(self) -> str:
        return f"{self.user_id} holds {self.quantity} x {self.item_id}"


class ChatStyle(models.Model):
    """Which of the bubbles and name colours a person holds they show in chat (or none).

    No row: never chosen, so the most recently acquired one of each kind is used. Acquiring one
    makes it the active one; losing the active one (a refund) falls back to the most recently
    acquired one left. store.styles keeps it, and copies the colours (and the VIP time) onto the
    person's accounts.User row, where every message send reads them.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="chat_style"
    )
    bubble = models.ForeignKey(Item, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name_color = models.ForeignKey(Item, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chat style of {self.user_id}"
