"""Reads of people, friendships, requests and blocks."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from accounts.models import Block, FriendRequest, Friendship, User
from accounts.presence import online_user_ids
from core.exceptions import NotFound


def user_get_by_number(number: int) -> User:
    """The active user with this account number, or NotFound."""
    user = User.objects.filter(number=number, is_active=True).first()
    if user is None:
        raise NotFound("No user has this number.")
    return user


def users_search(query: str) -> QuerySet[User]:
    query = query.strip()
    condition = Q(username__icontains=query) | Q(display_name__icontains=query)
    if query.isdigit():
        condition |= Q(number=int(query))
    return User.objects.filter(condition, is_active=True)


def friend_ids_of(user: User, among: Iterable[int] | None = None) -> set[int]:
    rows = Friendship.objects.filter(user=user)
    if among is not None:
        rows = rows.filter(friend_id__in=list(among))
    return set(rows.values_list("friend_id", flat=True))


def are_friends(a: User, b: User) -> bool:
    return Friendship.objects.filter(user=a, friend=b).exists()


def is_blocked_between(a: User, b: User) -> bool:
    """True if either has blocked the other."""
    return Block.objects.filter(Q(blocker=a, blocked=b) | Q(blocker=b, blocked=a)).exists()


def friendships_of(user: User) -> QuerySet[Friendship]:
    return Friendship.objects.filter(user=user).select_related("friend").order_by("group", "friend__number")


def friend_requests_pending(user: User) -> tuple[list[FriendRequest], list[FriendRequest]]:
    """(incoming, outgoing) pending requests, newest first."""
    pending = FriendRequest.objects.filter(status=FriendRequest.Status.PENDING).select_related(
        "from_user", "to_user"
    )
    incoming = list(pending.filter(to_user=user).order_by("-id"))
    outgoing = list(pending.filter(from_user=user).order_by("-id"))
    return incoming, outgoing


def blocks_of(user: User) -> QuerySet[Block]:
    return Block.objects.filter(blocker=user).select_related("blocked").order_by("-id")


def user_render_context(viewer: User | None, users: Iterable[User]) -> dict:
    """What the user serializer needs to show presence: the viewer, which of `users` are the
    viewer's friends and which are online (two queries, whatever the number of users)."""
    ids = {u.pk for u in users if u is not None}
    if viewer is None or not viewer.is_authenticated:
        return {"viewer": None, "friend_ids": set(), "online_ids": set()}
    friend_ids = friend_ids_of(viewer, among=ids - {viewer.pk}) if ids - {viewer.pk} else set()
    return {"viewer": viewer, "friend_ids": friend_ids, "online_ids": online_user_ids(friend_ids)}
