"""Every write to people, tokens, friendships, requests and blocks.

Socket events go out through messaging.realtime after the transaction commits.
"""

from typing import Any

from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import avatars, login_limits
from accounts.authentication import new_token_key, token_digest
from accounts.errors import (
    AlreadyFriends,
    Blocked,
    InvalidCredentials,
    LoginLockedOut,
    RequestNotPending,
    RequestPending,
)
from accounts.models import Block, DeviceToken, FriendRequest, Friendship, User
from accounts.presence import online_user_ids, visible_presence
from accounts.selectors import are_friends, friend_ids_of, is_blocked_between, user_get_by_number
from core.exceptions import InvalidInput, NotFound
from messaging.realtime import close_sockets_on_commit, send_event_on_commit

# --- Sign-up, tokens, profile ---------------------------------------------------------------------


def _check_username(username: str) -> str:
    username = username.strip()
    try:
        UnicodeUsernameValidator()(username)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"username": list(exc.messages)}) from exc
    if User.objects.filter(username__iexact=username).exists():
        raise _username_taken()
    return username


def _username_taken() -> InvalidInput:
    return InvalidInput(
        "This username is already taken.", fields={"username": ["This username is already taken."]}
    )


def user_register(*, username: str, password: str, display_name: str = "", email: str = "") -> User:
    """Create a user with a fresh account number. Password rules are Django's validators."""
    username = _check_username(username)
    user = User(username=username, display_name=display_name.strip() or username, email=email.strip())
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"password": list(exc.messages)}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # two sign-ups raced for the same username
        raise _username_taken() from exc
    return user


def device_token_create(*, user: User, user_agent: str = "") -> str:
    """A new token for one device; returns the key (only its digest is stored)."""
    key = new_token_key()
    DeviceToken.objects.create(user=user, digest=token_digest(key), user_agent=user_agent[:200])
    return key


def device_token_delete(*, token: DeviceToken) -> None:
    """Log a device out: its token stops working and its open sockets are closed."""
    with transaction.atomic():
        DeviceToken.objects.filter(pk=token.pk).delete()
        close_sockets_on_commit(token.user_id, token_id=token.pk)


def session_sockets_close(*, user_id: int, session_key: str | None) -> None:
    """A browser session ended (logout): close the sockets it opened."""
    if session_key:
        close_sockets_on_commit(user_id, session_key=session_key)


def login_with_password(*, username: str, password: str, address: str, request: Any = None) -> User:
    """Check a password under the failed-login limits; raises LoginLockedOut or InvalidCredentials."""
    retry_after = login_limits.login_retry_after(username=username, address=address)
    if retry_after is not None:
        raise LoginLockedOut(retry_after)
    user = authenticate(request, username=username, password=password)
    if user is None:
        login_limits.login_failed(username=username, address=address)
        raise InvalidCredentials()
    login_limits.login_succeeded(username=username)
    return user


def profile_update(*, user: User, **changes: Any) -> User:
    """Change display name, signature, email, presence or read receipts; friends who can see the
    presence are told when it changes."""
    allowed = {"display_name", "signature", "email", "presence", "read_receipts"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(fields={name: ["This field cannot be changed."] for name in sorted(unknown)})
    if "display_name" in changes:
        changes["display_name"] = changes["display_name"].strip()
        if not changes["display_name"]:
            raise InvalidInput(fields={"display_name": ["This field may not be blank."]})
    old_presence = user.presence
    with transaction.atomic():
        for name, value in changes.items():
            setattr(user, name, value)
        user.save(update_fields=[*changes] or None)
        if user.presence != old_presence:
            _presence_changed_on_commit(user, old_presence)
    return user


def _presence_changed_on_commit(user: User, old_presence: str) -> None:
    """Tell online friends what they now see, if it differs from what they saw."""
    if not online_user_ids([user.pk]):
        return
    before = visible_presence(
        User(presence=old_presence), viewer_is_self=False, viewer_is_friend=True, online=True
    )
    after = visible_presence(user, viewer_is_self=False, viewer_is_friend=True, online=True)
    if before != after:
        friends = friend_ids_of(user)
        send_event_on_commit(
            online_user_ids(friends), {"type": "presence", "user": user.number, "presence": after}
        )


def avatar_set(*, user: User, upload: UploadedFile | None) -> User:
    extension = avatars.avatar_check(upload)
    old = user.avatar.name if user.avatar else None
    user.avatar.save(avatars.avatar_filename(user.number, extension), upload, save=False)
    user.save(update_fields=["avatar"])
    if old and old != user.avatar.name:
        user.avatar.storage.delete(old)
    return user


# --- Friends ----------------------------------------------------------------------------------------


def _other_user(user: User, number: int) -> User:
    other = user_get_by_number(number)
    if other.pk == user.pk:
        raise InvalidInput("You cannot do this with yourself.", fields={"user": ["This is you."]})
    return other


def friend_request_send(*, sender: User, to_number: int, message: str = "") -> FriendRequest:
    try:
        recipient = _other_user(sender, to_number)
    except InvalidInput as exc:
        raise InvalidInput("You cannot befriend yourself.", fields={"to": ["This is you."]}) from exc
    if is_blocked_between(sender, recipient):
        raise Blocked()
    if are_friends(sender, recipient):
        raise AlreadyFriends()
    pending = FriendRequest.objects.filter(
        Q(from_user=sender, to_user=recipient) | Q(from_user=recipient, to_user=sender),
        status=FriendRequest.Status.PENDING,
    )
    if pending.exists():
        raise RequestPending()
    try:
        with transaction.atomic():
            request = FriendRequest.objects.create(
                from_user=sender, to_user=recipient, message=message.strip()
            )
            _send_request_event(request)
    except IntegrityError as exc:  # the other one asked at the same moment
        raise RequestPending() from exc
    return request


def _send_request_event(request: FriendRequest) -> None:
    from accounts.serializers import FriendRequestSerializer

    context = {"viewer": request.to_user, "friend_ids": set(), "online_ids": set()}
    payload = FriendRequestSerializer(request, context=context).data
    send_event_on_commit([request.to_user_id], {"type": "friend.request", "request": payload})


def _incoming_request_for_update(user: User, request_id: int) -> FriendRequest:
    request = (
        FriendRequest.objects.select_for_update()
        .select_related("from_user", "to_user")
        .filter(pk=request_id, to_user=user)
        .first()
    )
    if request is None:
        raise NotFound("No such friend request.")
    return request


def friend_request_accept(*, user: User, request_id: int) -> FriendRequest:
    """The recipient accepts: both become friends, each in their default buddy group."""
    with transaction.atomic():
        request = _incoming_request_for_update(user, request_id)
        if request.status == FriendRequest.Status.ACCEPTED:
            return request
        if request.status != FriendRequest.Status.PENDING:
            raise RequestNotPending()
        request.status = FriendRequest.Status.ACCEPTED
        request.responded_at = timezone.now()
        request.save(update_fields=["status", "responded_at"])
        requester = request.from_user
        Friendship.objects.bulk_create(
            [Friendship(user=user, friend=requester), Friendship(user=requester, friend=user)],
            ignore_conflicts=True,
        )
        _send_accepted_events(user, requester)
    return request


def _send_accepted_events(accepter: User, requester: User) -> None:
    from accounts.serializers import UserSerializer

    def seen_by(viewer: User, other: User) -> dict:
        online = online_user_ids([other.pk])
        return UserSerializer(
            other, context={"viewer": viewer, "friend_ids": {other.pk}, "online_ids": online}
        ).data

    send_event_on_commit([requester.pk], {"type": "friend.accepted", "user": seen_by(requester, accepter)})
    send_event_on_commit([accepter.pk], {"type": "friend.accepted", "user": seen_by(accepter, requester)})


def friend_request_decline(*, user: User, request_id: int) -> FriendRequest:
    with transaction.atomic():
        request = _incoming_request_for_update(user, request_id)
        if request.status == FriendRequest.Status.DECLINED:
            return request
        if request.status != FriendRequest.Status.PENDING:
            raise RequestNotPending()
        request.status = FriendRequest.Status.DECLINED
        request.responded_at = timezone.now()
        request.save(update_fields=["status", "responded_at"])
    return request


def friend_remove(*, user: User, number: int) -> None:
    """Unfriend, on both sides."""
    with transaction.atomic():
        deleted, _ = Friendship.objects.filter(
            Q(user=user, friend__number=number) | Q(user__number=number, friend=user)
        ).delete()
    if not deleted:
        raise NotFound("This person is not your friend.")


def friend_group_set(*, user: User, number: int, group: str) -> Friendship:
    """Move a friend into one of the user's buddy groups (a group exists while it has friends)."""
    group = group.strip()
    if not group:
        raise InvalidInput(fields={"group": ["This field may not be blank."]})
    friendship = Friendship.objects.filter(user=user, friend__number=number).select_related("friend").first()
    if friendship is None:
        raise NotFound("This person is not your friend.")
    friendship.group = group
    friendship.save(update_fields=["group"])
    return friendship


# --- Blocks -------------------------------------------------------------------------------------------


def block_create(*, user: User, number: int) -> tuple[Block, bool]:
    """Block someone: also unfriends and closes pending requests both ways. Returns (block, created)."""
    blocked = _other_user(user, number)
    with transaction.atomic():
        block, created = Block.objects.get_or_create(blocker=user, blocked=blocked)
        if created:
            Friendship.objects.filter(Q(user=user, friend=blocked) | Q(user=blocked, friend=user)).delete()
            FriendRequest.objects.filter(
                Q(from_user=user, to_user=blocked) | Q(from_user=blocked, to_user=user),
                status=FriendRequest.Status.PENDING,
            ).update(status=FriendRequest.Status.DECLINED, responded_at=timezone.now())
    return block, created


def block_delete(*, user: User, number: int) -> None:
    deleted, _ = Block.objects.filter(blocker=user, blocked__number=number).delete()
    if not deleted:
        raise NotFound("You have not blocked this person.")
