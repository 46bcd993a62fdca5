"""The contract's JSON shapes for red packets (CONTRACT section 6): input and output serializers.

Output serializers read `viewer`, `friend_ids` and `online_ids` from the context, as the user
serializer does (accounts.selectors.user_render_context).
"""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import UserSerializer
from core.fields import CoinAmountField, StrictIntegerField
from messaging.models import GROUP_MAX_MEMBERS
from redpackets.models import GREETING_MAX_LENGTH, RedPacket


class RedPacketSendInputSerializer(serializers.Serializer):
    total = CoinAmountField(
        max_value=settings.MAX_TRANSFER_COINS,
        help_text=f"Whole coins, 1 to {settings.MAX_TRANSFER_COINS:,} (a JSON integer), 1 or more a share.",
    )
    count = StrictIntegerField(
        min_value=1,
        max_value=GROUP_MAX_MEMBERS - 1,
        help_text="Number of shares: at most the people who can claim (the other person of a direct "
        "conversation; the other members of a group).",
    )
    mode = serializers.ChoiceField(
        choices=RedPacket.Mode.choices,
        help_text="random: lucky shares, each at least 1 coin, fair to every place in the queue; "
        "equal: the same share each (the total must be divisible by the count).",
    )
    greeting = serializers.CharField(
        max_length=GREETING_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text=f'At most {GREETING_MAX_LENGTH} characters; empty: "Best wishes". The message\'s body.',
    )

    def validate(self, data: dict) -> dict:
        total, count = data["total"], data["count"]
        if total < count:
            raise serializers.ValidationError({"total": ["At least 1 coin a share."]})
        if data["mode"] == RedPacket.Mode.EQUAL and total % count:
            raise serializers.ValidationError(
                {"total": [f"Must be divisible by the count ({count}) for equal shares."]}
            )
        return data


class ClaimLineSerializer(serializers.Serializer):
    user = UserSerializer(source="claimed_by")
    amount = serializers.IntegerField()
    at = serializers.DateTimeField(source="claimed_at")


class RedPacketSerializer(serializers.Serializer):
    """Renders a redpackets.selectors.RedPacketView (not imported: serializers sit below selectors)."""

    id = serializers.IntegerField(source="packet.pk")
    conversation = serializers.IntegerField(source="packet.conversation_id")
    message = serializers.IntegerField(source="packet.message_id", help_text="The red_packet message's id.")
    sender = UserSerializer(source="packet.sender")
    mode = serializers.ChoiceField(source="packet.mode", choices=RedPacket.Mode.choices)
    greeting = serializers.CharField(source="packet.greeting")
    total = serializers.IntegerField(source="packet.total")
    count = serializers.IntegerField(source="packet.count")
    remaining_amount = serializers.IntegerField(
        source="packet.remaining_amount", help_text="Unclaimed coins; 0 once exhausted or expired."
    )
    remaining_count = serializers.IntegerField(
        source="packet.remaining_count", help_text="Unclaimed shares; 0 once exhausted or expired."
    )
    refunded_amount = serializers.IntegerField(
        source="packet.refunded_amount", help_text="What went back to the sender at expiry."
    )
    status = serializers.ChoiceField(
        source="packet.status",
        choices=RedPacket.Status.choices,
        help_text="open; exhausted (every share claimed); expired (the rest went back to the sender).",
    )
    claims = ClaimLineSerializer(many=True, help_text="In claim order.")
    luckiest = serializers.SerializerMethodField(
        help_text="Who drew the largest share (ties: the earliest claim), once every share is claimed."
    )
    my_amount = serializers.IntegerField(allow_null=True, help_text="What you claimed, if you did.")
    my_claim = serializers.IntegerField(
        source="my_amount", allow_null=True, help_text="The same as `my_amount`: what you claimed, or null."
    )
    expired = serializers.BooleanField(
        help_text="Expired with shares unclaimed: past `expires_at` (claims are refused), also before "
        "the rest has gone back to the sender (`status` still open). An exhausted packet is not expired."
    )
    can_claim = serializers.BooleanField(help_text="Whether a claim by you could succeed now.")
    created_at = serializers.DateTimeField(source="packet.created_at")
    expires_at = serializers.DateTimeField(source="packet.expires_at")

    @extend_schema_field(UserSerializer(allow_null=True))
    def get_luckiest(self, view: Any) -> dict | None:
        luckiest = view.packet.luckiest
        return UserSerializer(luckiest, context=self.context).data if luckiest is not None else None


class ClaimSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text="The coins you got.")
    balance = serializers.IntegerField(help_text="Your balance after the claim.")
    red_packet = serializers.IntegerField()
