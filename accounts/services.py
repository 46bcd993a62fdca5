"""Every write to people, tokens, friendships, requests and blocks.

Socket events go out through messaging.realtime after the transaction commits.

Credentials (CONTRACT section 7): a socket lives only as long as the credentials it was opened
with. The model signals (accounts.signals) call `device_token_deleted` for every deleted token and
`user_credentials_changed` for every saved user, so logout, the admin, queryset deletes and
`set_password()` + `save()` all close what they end; `password_change` is the API's way in, and
keeps the token or session it was made with.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.contrib.auth import authenticate, password_validation, update_session_auth_hash
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
    RequestNotPending,
    RequestPending,
)
from accounts.models import Block, DeviceToken, FriendRequest, Friendship, KeptCredentials, User
from accounts.presence import online_user_ids, visible_presence
from accounts.selectors import are_friends, friend_ids_of, is_blocked_between, user_get_by_number
from core import text_rules
from core.exceptions import InvalidInput, NotFound
from messaging.realtime import close_other_sockets_on_commit, close_sockets_on_commit, send_event_on_commit

# --- Sign-up, tokens, profile ---------------------------------------------------------------------

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length


def _check_username(username: str) -> str:
    """The username as stored (NFKC), or InvalidInput: Django's validator, no look-alike mix of
    scripts, and taken when it, or what it looks like, is a username already (core.text_rules)."""
    username = text_rules.username_normalize(username.strip())
    try:
        UnicodeUsernameValidator()(username)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"username": list(exc.messages)}) from exc
    if len(username) > USERNAME_MAX_LENGTH:  # NFKC may lengthen it ("ﷺ" is 18 letters)
        message = f"At most {USERNAME_MAX_LENGTH} characters."
        raise InvalidInput(message, fields={"username": [message]})
    problem = text_rules.username_problem(username)
    if problem is not None:
        raise InvalidInput(problem, fields={"username": [problem]})
    look_alike = text_rules.username_skeleton(username)
    if User.objects.filter(Q(username__iexact=username) | Q(username__iexact=look_alike)).exists():
        raise _username_taken()
    return username


def _username_taken() -> InvalidInput:
    return InvalidInput(
        "This username is already taken.", fields={"username": ["This username is already taken."]}
    )


def user_register(*, username: str, password: str, display_name: str = "", email: str = "") -> User:
    """Create a user with a fresh account number. Password rules are Django's validators."""
    username = _check_username(username)
    display_name = text_rules.check_name("display_name", display_name.strip())
    user = User(username=username, display_name=display_name or username, email=email.strip())
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
    """Log a device out: its token stops working and its open sockets are closed (by
    `device_token_deleted`, as for every deleted token)."""
    DeviceToken.objects.filter(pk=token.pk).delete()


# Users whose every socket is being closed by one message: their tokens' own closes are skipped.
_closing_all_sockets_of: ContextVar[frozenset[int]] = ContextVar(
    "closing_all_sockets_of", default=frozenset()
)


@contextmanager
def _one_close_for(user_id: int) -> Iterator[None]:
    reset = _closing_all_sockets_of.set(_closing_all_sockets_of.get() | {user_id})
    try:
        yield
    finally:
        _closing_all_sockets_of.reset(reset)


def device_token_deleted(*, token: DeviceToken) -> None:
    """A device token was deleted, by any means (logout, the admin, a queryset): close the sockets
    opened with it once the deletion commits."""
    if token.user_id not in _closing_all_sockets_of.get():
        close_sockets_on_commit(token.user_id, token_id=token.pk)


def user_credentials_changed(*, user: User, password_changed: bool, deactivated: bool) -> None:
    """A saved user got a new password or became inactive (accounts.signals). A new password
    deletes every device token and closes every socket of the user, except the credentials named in
    `user.credentials_kept` (a password change keeps those it was made with); browser sessions stop
    by themselves, as their stored session auth hash no longer matches. A deactivated user's sockets
    all close (their tokens and sessions no longer authenticate an inactive user)."""
    kept = user.credentials_kept or KeptCredentials()
    user.credentials_kept = None
    if password_changed:
        with transaction.atomic(), _one_close_for(user.pk):
            DeviceToken.objects.filter(user_id=user.pk).exclude(pk=kept.token_id).delete()
            close_other_sockets_on_commit(
                user.pk,
                keep_token_id=kept.token_id,
                keep_session_key=kept.session_key,
                session_key_now=kept.session_key_now,
            )
    elif deactivated:
        close_other_sockets_on_commit(user.pk)


def session_sockets_close(*, user_id: int, session_key: str | None) -> None:
    """A browser session ended (logout): close the sockets it opened."""
    if session_key:
        close_sockets_on_commit(user_id, session_key=session_key)


def login_with_password(*, username: str, password: str, address: str, request: Any = None) -> User:
    """Check a password under the failed-login limits (accounts.login_limits: the attempt is counted
    before the check); raises LoginLockedOut or InvalidCredentials."""
    attempt = login_limits.attempt_begin(account=login_limits.account_of_username(username), address=address)
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials()
    login_limits.attempt_succeeded(attempt)
    return user


def password_set(
    *,
    user: User,
    password: str,
    keep_token_id: int | None = None,
    keep_session_key: str | None = None,
    request: Any = None,
) -> None:
    """Give `user` a new password (already validated): every device token but `keep_token_id` is
    deleted and every socket but those opened with the kept token or session closes with 4401.
    With the `request` whose session is kept, that session gets the new auth hash and a new key
    (Django's update_session_auth_hash: a stolen copy of the old cookie stops working), and its
    open sockets are told the new key, so they stay open and re-check under it."""
    with transaction.atomic():
        user.set_password(password)
        session_key_now = None
        if request is not None and keep_session_key is not None:
            update_session_auth_hash(request, user)  # hashes the new password already set above
            # Stored now, not when the response goes out: the session's sockets re-check it on
            # their next ping, which may come before that.
            request.session.save()
            session_key_now = request.session.session_key
        user.credentials_kept = KeptCredentials(
            token_id=keep_token_id, session_key=keep_session_key, session_key_now=session_key_now
        )
        try:
            user.save(update_fields=["password"])
        finally:
            user.credentials_kept = None


def password_change(
    *,
    user: User,
    old_password: str,
    new_password: str,
    address: str,
    token_id: int | None = None,
    request: Any = None,
) -> None:
    """`POST me/password`: check the old password as a login (a wrong one counts as a failed login;
    while locked out, LoginLockedOut), validate the new one with Django's validators (InvalidInput
    on `new_password`), then set it keeping only the credentials used: the device token `token_id`
    or, without one, the browser session of `request` (whose stored hash is updated, and whose key
    is rotated as Django does, so a stolen copy of the cookie stops working)."""
    attempt = login_limits.attempt_begin(account=login_limits.account_of_user(user.pk), address=address)
    if not user.check_password(old_password):
        raise InvalidCredentials("The old password is wrong.")
    login_limits.attempt_succeeded(attempt)
    try:
        password_validation.validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"new_password": list(exc.messages)}) from exc
    session = getattr(request, "session", None) if token_id is None else None
    password_set(
        user=user,
        password=new_password,
        keep_token_id=token_id,
        keep_session_key=session.session_key if session is not None else None,
        request=request if session is not None else None,
    )


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
    for name in ("display_name", "signature"):
        if name in changes:
            text_rules.check_name(name, changes[name])
    old_presence = user.presence
    with transaction.atomic():
        for name, value in changes.items():
            setattr(user, name, value)
        user.save(update_fields=[*changes] or None)
        if user.presence != old_presence:
            _presence_changed_on_commit(user, old_presence)
    return user


def chat_style_set(*, user_id: int, bubble: str, name_color: str, vip_until: datetime | None) -> None:
    """Record the person's chat style (colours as #rrggbb or "" for none, the end of their VIP
    time), which every message they send from now on carries. Called by the store, which decides
    what they are (store.styles); runs inside its transaction. One UPDATE: no signals, and no other
    column of the row is written."""
    User.objects.filter(pk=user_id).update(
        chat_bubble=bubble, chat_name_color=name_color, vip_until=vip_until
    )


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
    text_rules.check_name("group", group)
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
