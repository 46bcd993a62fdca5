"""Input serializers of the messaging API, and the OpenAPI shapes of its output.

Messages and conversations are rendered by messaging.rendering / selectors.conversation_payload
(one dict for the API and the socket); `MessageSerializer` and `ConversationSerializer` describe
those dicts for the schema. Members are rendered here, with the user serializer's presence rules.
"""

from rest_framework import serializers

from accounts.serializers import UserSerializer
from core.input_rules import MAX_INT64
from messaging.models import GROUP_MAX_MEMBERS, Conversation, Membership, Message


class SenderSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    display_name = serializers.CharField()


class SenderStyleSerializer(serializers.Serializer):
    bubble = serializers.CharField(
        allow_null=True, help_text="The background colour (#rrggbb) of the sender's chat bubble, or null."
    )
    name_color = serializers.CharField(
        allow_null=True, help_text="The colour (#rrggbb) of the sender's name, or null."
    )
    vip = serializers.BooleanField(help_text="The sender was a VIP member when they sent it.")


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    seq = serializers.IntegerField(
        help_text="1, 2, 3, ... within the conversation: a hole means a missed message."
    )
    sender = SenderSerializer(allow_null=True, help_text="Null for system messages without a person.")
    kind = serializers.ChoiceField(choices=Message.Kind.choices)
    body = serializers.CharField(allow_blank=True, help_text="Empty once recalled.")
    client_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    recalled = serializers.BooleanField()
    data = serializers.DictField(help_text="Structured payload: sticker, gift or red packet.")
    sender_style = SenderStyleSerializer(
        help_text="Set by the server, never by clients: the sender's active bubble and name colour "
        "(store items) and VIP badge at the moment they sent the message; all null/false for system "
        "messages."
    )


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Conversation.Kind.choices)
    title = serializers.CharField(
        help_text="A direct conversation's title is the other person's display name."
    )
    members_count = serializers.IntegerField()
    unread_count = serializers.IntegerField(
        help_text="Other people's non-recalled messages after the caller's read marker."
    )
    last_message = MessageSerializer(allow_null=True)
    my_role = serializers.ChoiceField(choices=Membership.Role.choices)
    muted = serializers.BooleanField()
    last_read_id = serializers.IntegerField(help_text="The caller's read marker.")
    peer = serializers.IntegerField(allow_null=True, help_text="Direct: the other person's number.")
    peer_last_read_id = serializers.IntegerField(
        allow_null=True,
        help_text='Direct: the other person\'s read marker (0: nothing read yet), so "read" shows after a '
        "reload; null in groups and when they have read receipts off (as for `read` events).",
    )
    created_at = serializers.DateTimeField()


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer()

    class Meta:
        model = Membership
        fields = ["user", "role", "joined_at"]


# --- Input ----------------------------------------------------------------------------------------


class DirectInputSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text="The friend's account number.")


class GroupInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[Conversation.Kind.GROUP])
    title = serializers.CharField(max_length=100)
    members = serializers.ListField(
        child=serializers.IntegerField(),
        max_length=GROUP_MAX_MEMBERS,
        help_text="Friends' account numbers; with the caller at most 500.",
    )


class ConversationPatchSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100, required=False, help_text="Groups: owner and admins.")
    muted = serializers.BooleanField(required=False, help_text="The caller's own mute flag.")


class MembersInputSerializer(serializers.Serializer):
    members = serializers.ListField(
        child=serializers.IntegerField(), min_length=1, max_length=GROUP_MAX_MEMBERS
    )


class RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, help_text="`owner` hands the group over (you become an admin)."
    )


class MessageInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        default="",
        help_text="Text: 1-4000 characters.",
    )
    kind = serializers.ChoiceField(
        choices=[Message.Kind.TEXT, Message.Kind.STICKER], required=False, default=Message.Kind.TEXT
    )
    data = serializers.DictField(
        required=False,
        default=dict,
        help_text="Only where the kind defines it: text takes none (absent or `{}`); a sticker exactly "
        '`{"sku": pack_sku (1-64 characters), "sticker": id (a non-negative 64-bit integer or a string '
        "of 1-64 characters)}`. Anything else is 400 `invalid` with `fields.data`.",
    )
    client_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        default=None,
        help_text="Idempotency: a repeat returns 200.",
    )


class ReadInputSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(min_value=0)


class EditInputSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100)
    conversation = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT64)
