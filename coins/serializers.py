"""The contract's JSON shapes for coins (CONTRACT section 5): small input and output serializers."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import UserSerializer
from coins.models import Topup, TopupPackage, Transaction
from coins.payments.registry import PROVIDERS
from core.fields import CoinAmountField, StrictIntegerField


class WalletSerializer(serializers.Serializer):
    balance = serializers.IntegerField()


class PriceSerializer(serializers.Serializer):
    amount_minor = serializers.IntegerField(source="price_minor", help_text="In the minor unit (fen, cents).")
    currency = serializers.CharField(help_text="ISO 4217, e.g. CNY.")


class PackageSerializer(serializers.ModelSerializer):
    price = PriceSerializer(source="*")

    class Meta:
        model = TopupPackage
        fields = ["id", "coins", "price"]


class TopupSerializer(serializers.ModelSerializer):
    price = PriceSerializer(source="*")
    checkout_url = serializers.SerializerMethodField()

    class Meta:
        model = Topup
        fields = ["id", "status", "coins", "price", "checkout_url", "refund_status", "created_at"]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Where to pay, while pending."))
    def get_checkout_url(self, topup: Topup) -> str | None:
        provider = PROVIDERS.get(topup.provider)
        if topup.status != Topup.Status.PENDING or provider is None:
            return None
        return provider.checkout_url(topup)


class TopupInputSerializer(serializers.Serializer):
    package = StrictIntegerField(help_text="A package id from coins/packages.")


class TransferInputSerializer(serializers.Serializer):
    to = StrictIntegerField(help_text="The friend's account number.")
    amount = CoinAmountField(help_text="Whole coins, 1 to 1,000,000 (a JSON integer).")
    memo = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_amount(self, amount: int) -> int:
        if amount > settings.MAX_TRANSFER_COINS:
            raise serializers.ValidationError(f"At most {settings.MAX_TRANSFER_COINS} coins a transfer.")
        return amount


class TransferSerializer(serializers.Serializer):
    transaction = serializers.IntegerField(help_text="The ledger transaction id.")
    balance = serializers.IntegerField(help_text="Your balance after the transfer.")


class StatementLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The entry id (the pagination cursor).")
    transaction = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Transaction.Kind.choices)
    amount = serializers.IntegerField(help_text="Signed: + is money in.")
    balance_after = serializers.IntegerField()
    memo = serializers.CharField()
    counterparty = UserSerializer(allow_null=True, help_text="The other person of a transfer.")
    created_at = serializers.DateTimeField()
