"""Demo people for `python manage.py seed_demo` (demo app): five people who are friends, in buddy
groups, with a pending request and a block, and the operator `admin`, all with the published
password DEMO_PASSWORD. Only ever created with DEBUG on (CONTRACT section 1): a known password
must never reach a production database. Idempotent: a second run duplicates nothing."""

from django.conf import settings

from accounts import selectors, services
from accounts.models import Block, FriendRequest, User

DEMO_PASSWORD = "huddle-demo-2026"  # noqa: S105 - printed by `make dev` for the demo logins

PEOPLE = [
    ("alice", "Alice Wang", "Coffee first, then code."),
    ("bob", "Bob Li", "Weekend hiker"),
    ("carol", "Carol Chen", "在学中文"),
    ("dave", "Dave Zhang", ""),
    ("erin", "Erin Liu", "New in town"),
]
FRIENDS = [
    ("alice", "bob", "Classmates"),
    ("alice", "carol", None),
    ("bob", "carol", None),
    ("alice", "dave", "Family"),
]
PENDING = [("erin", "alice", "Hi Alice, we met at the meetup!")]
BLOCKS = [("carol", "erin")]


class DemoAccountsRefused(RuntimeError):
    """Demo accounts (published password) were asked for with DEBUG off."""


def _person(username: str, display_name: str, signature: str) -> User:
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        user = services.user_register(username=username, password=DEMO_PASSWORD, display_name=display_name)
        services.profile_update(user=user, signature=signature)
    return user


def seed_accounts() -> dict[str, User]:
    """The demo people by username (and the operator `admin`). Refuses with DEBUG off."""
    if not settings.DEBUG:
        raise DemoAccountsRefused("Demo accounts have a published password: only with DEBUG on.")
    people = {name: _person(name, display, signature) for name, display, signature in PEOPLE}
    for a, b, group in FRIENDS:
        if not selectors.are_friends(people[a], people[b]):
            request = FriendRequest.objects.filter(
                from_user=people[a], to_user=people[b], status=FriendRequest.Status.PENDING
            ).first() or services.friend_request_send(
                sender=people[a], to_number=people[b].number, message="Hi!"
            )
            services.friend_request_accept(user=people[b], request_id=request.pk)
        if group:
            services.friend_group_set(user=people[a], number=people[b].number, group=group)
    for a, b, message in PENDING:
        if not FriendRequest.objects.filter(from_user=people[a], to_user=people[b]).exists():
            services.friend_request_send(sender=people[a], to_number=people[b].number, message=message)
    for a, b in BLOCKS:
        if not Block.objects.filter(blocker=people[a], blocked=people[b]).exists():
            services.block_create(user=people[a], number=people[b].number)
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", password=DEMO_PASSWORD, display_name="Operator")
    return people
