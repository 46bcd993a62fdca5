"""The contract's JSON shapes for people, friendships, requests and blocks (CONTRACT section 3).

Output serializers are used by the API views and by the socket events the services send, so a
user looks the same everywhere. They read `viewer`, `friend_ids` and `online_ids` from the context
(see selectors.user_render_context) to show each viewer only the presence they may see.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Block, FriendRequest, Friendship, Presence, User
from accounts.presence import visible_presence


class UserSerializer(serializers.ModelSerializer):
    # Output only: no `pattern` in the schema (Django's username validator accepts Unicode letters
    # and digits that a JSON Schema `\w`, ASCII only, does not).
    username = serializers.CharField(read_only=True)
    avatar_url = serializers.SerializerMethodField()
    presence = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["number", "username", "display_name", "signature", "avatar_url", "presence"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_avatar_url(self, user: User) -> str:
        return avatar_url(user)

    @extend_schema_field(serializers.ChoiceField(choices=["online", "away", "busy", "offline"]))
    def get_presence(self, user: User) -> str:
        viewer = self.context.get("viewer")
        return visible_presence(
            user,
            viewer_is_self=viewer is not None and viewer.pk == user.pk,
            viewer_is_friend=user.pk in self.context.get("friend_ids", ()),
            online=user.pk in self.context.get("online_ids", ()),
        )


def avatar_url(user: User) -> str:
    if user.avatar:
        return user.avatar.url
    return f"/avatars/default/{user.number}.svg"


class MeSerializer(UserSerializer):
    presence = serializers.ChoiceField(choices=Presence.choices, read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "email", "read_receipts"]


class RegisteredSerializer(MeSerializer):
    token = serializers.CharField()

    class Meta(MeSerializer.Meta):
        fields = [*MeSerializer.Meta.fields, "token"]


class FriendSerializer(serializers.ModelSerializer):
    user = UserSerializer(source="friend")

    class Meta:
        model = Friendship
        fields = ["user", "group", "since"]


class FriendRequestSerializer(serializers.ModelSerializer):
    to = UserSerializer(source="to_user")

    class Meta:
        model = FriendRequest
        fields = ["id", "to", "message", "status", "created_at"]

    def get_fields(self) -> dict:
        # "from" is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        return {"id": fields.pop("id"), "from": UserSerializer(source="from_user"), **fields}


class FriendRequestsSerializer(serializers.Serializer):
    incoming = FriendRequestSerializer(many=True)
    outgoing = FriendRequestSerializer(many=True)


class BlockSerializer(serializers.ModelSerializer):
    user = UserSerializer(source="blocked")

    class Meta:
        model = Block
        fields = ["user", "created_at"]


# --- Input ----------------------------------------------------------------------------------------


class RegisterInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    display_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class ProfileInputSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=64, required=False)
    signature = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    presence = serializers.ChoiceField(choices=Presence.choices, required=False)
    read_receipts = serializers.BooleanField(required=False)


class AvatarInputSerializer(serializers.Serializer):
    avatar = serializers.FileField()


class UserSearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100)


class FriendRequestInputSerializer(serializers.Serializer):
    to = serializers.IntegerField()
    message = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class FriendGroupInputSerializer(serializers.Serializer):
    group = serializers.CharField(max_length=32)


class BlockInputSerializer(serializers.Serializer):
    user = serializers.IntegerField()
