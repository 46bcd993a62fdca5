"""factory-boy factories for the tests."""

import factory
from factory.django import DjangoModelFactory

from accounts.models import Block, FriendRequest, Friendship, User

PASSWORD = "Correct-Horse-77-battery"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save_password(obj, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save(update_fields=["password"])


class FriendRequestFactory(DjangoModelFactory):
    class Meta:
        model = FriendRequest

    from_user = factory.SubFactory(UserFactory)
    to_user = factory.SubFactory(UserFactory)
    message = "Hi!"


class BlockFactory(DjangoModelFactory):
    class Meta:
        model = Block

    blocker = factory.SubFactory(UserFactory)
    blocked = factory.SubFactory(UserFactory)


def make_friends(a: User, b: User, group: str = Friendship.DEFAULT_GROUP) -> None:
    Friendship.objects.create(user=a, friend=b, group=group)
    Friendship.objects.create(user=b, friend=a)
