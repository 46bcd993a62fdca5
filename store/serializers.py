"""The contract's JSON shapes for the store (CONTRACT section 6): small input and output serializers."""

from django.templatetags.static import static
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import UserSerializer
from coins.receipts import receipt_number
from core.fields import StrictIntegerField
from store.models import MAX_QUANTITY, Entitlement, Item, Purchase, Sticker

# A plain string in the schema: a second enum of fields named `kind` would need a settings entry
# (ENUM_NAME_OVERRIDES) to be named without a warning.
KIND_HELP = "One of " + ", ".join(Item.Kind.values) + "."


class StickerSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Sticker
        fields = ["id", "name", "image_url"]

    def get_image_url(self, sticker: Sticker) -> str:
        return static(sticker.image)


class ItemSerializer(serializers.ModelSerializer):
    """`owned` needs `owned_ids` (the caller's held item ids) in the context."""

    image_url = serializers.SerializerMethodField()
    owned = serializers.SerializerMethodField()
    stickers = serializers.SerializerMethodField()
    color = serializers.CharField(help_text="Name colours and bubbles: #rrggbb; otherwise empty.")
    kind = serializers.CharField(help_text=KIND_HELP)

    class Meta:
        model = Item
        fields = ["sku", "name", "kind", "price", "description", "image_url", "owned", "color", "stickers"]

    def get_image_url(self, item: Item) -> str:
        return static(item.image)

    def get_owned(self, item: Item) -> bool:
        return item.pk in self.context.get("owned_ids", ())

    @extend_schema_field(StickerSerializer(many=True, allow_null=True))
    def get_stickers(self, item: Item) -> list | None:
        """Sticker packs only (other kinds: absent)."""
        if item.kind != Item.Kind.STICKER_PACK:
            return None
        return StickerSerializer(item.stickers.all(), many=True).data

    def to_representation(self, item: Item) -> dict:
        data = super().to_representation(item)
        if data["stickers"] is None:
            del data["stickers"]
        return data


class PurchaseInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(
        required=False, min_value=1, max_value=MAX_QUANTITY, help_text="Gifts only: 1-99 (default 1)."
    )
    gift_to = StrictIntegerField(required=False, allow_null=True, help_text="A friend's account number.")


class PurchaseSerializer(serializers.ModelSerializer):
    """`gift_to` needs accounts.selectors.user_render_context in the context."""

    sku = serializers.CharField(source="item.sku")
    transaction = serializers.IntegerField(source="transaction_id", help_text="The ledger transaction id.")
    gift_to = serializers.SerializerMethodField()
    receipt = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField()

    class Meta:
        model = Purchase
        fields = [
            "id",
            "sku",
            "quantity",
            "price_total",
            "transaction",
            "gift_to",
            "created_at",
            "receipt",
            "renewal",
            "refunded",
        ]

    renewal = serializers.BooleanField(source="is_renewal", help_text="A VIP auto-renewal.")

    @extend_schema_field(UserSerializer(allow_null=True))
    def get_gift_to(self, purchase: Purchase) -> dict | None:
        if not purchase.is_gift:
            return None
        return UserSerializer(purchase.recipient, context=self.context).data

    @extend_schema_field(serializers.CharField(help_text="The receipt number, e.g. HD-20260314-00000042."))
    def get_receipt(self, purchase: Purchase) -> str:
        return receipt_number(purchase.transaction)

    def get_refunded(self, purchase: Purchase) -> bool:
        return purchase.refunded_at is not None


class InventoryLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku")
    kind = serializers.CharField(source="item.kind", help_text=KIND_HELP)

    class Meta:
        model = Entitlement
        fields = ["sku", "kind", "quantity", "expires_at"]


class VipSerializer(serializers.Serializer):
    active = serializers.BooleanField()
    sku = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    auto_renew = serializers.BooleanField()
    lapsed_at = serializers.DateTimeField(
        allow_null=True, help_text="Set when a renewal failed for too few coins (no more attempts)."
    )


class VipInputSerializer(serializers.Serializer):
    auto_renew = serializers.BooleanField()


class StyleSerializer(serializers.Serializer):
    """Renders a store.styles.StyleChoice."""

    bubble = serializers.CharField(
        source="bubble.sku", allow_null=True, help_text="The sku of the bubble you show, or null."
    )
    name_color = serializers.CharField(
        source="name_color.sku", allow_null=True, help_text="The sku of the name colour you show, or null."
    )


class StyleInputSerializer(serializers.Serializer):
    bubble = serializers.CharField(
        max_length=64, required=False, allow_null=True, help_text="A bubble you own (sku), or null for none."
    )
    name_color = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="A name colour you own (sku), or null for none.",
    )


class GiftSendInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="A gift in your inventory.")
    client_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        default=None,
        help_text="As for messages: a repeat from you returns 200 and the first message, using nothing.",
    )
