"""People, their devices' tokens, friendships, friend requests and blocks.

Invariants kept here and in the database:
- `User.number` is the QQ-style account number: unique, >= 10000, allocated in increasing order
  and never reused (see accounts.numbers); the primary key stays internal.
- Usernames are unique ignoring case.
- A friendship is two rows, one per side, each with that side's buddy group.
- At most one pending friend request between two people, whichever way it goes.
- Credentials end where their data changes (accounts.signals): a deleted DeviceToken closes the
  sockets opened with it; a new password on an existing user deletes their device tokens and
  closes their sockets (a browser session stops by its session auth hash); a user saved inactive
  has their sockets closed. `User.credentials_kept` names credentials a password change keeps.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Greatest, Least, Lower, Upper

from accounts.numbers import FIRST_NUMBER, allocate_account_number


class Presence(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    BUSY = "busy", "Busy"
    INVISIBLE = "invisible", "Invisible"


@dataclass(frozen=True)
class KeptCredentials:
    """The device token or browser session a password change keeps (the one it was made with)."""

    token_id: int | None = None
    session_key: str | None = None
    # The kept session's key after the change rotated it (Django's update_session_auth_hash), so
    # that session's open sockets re-check the session under its new key.
    session_key_now: str | None = None


class HuddleUserManager(UserManager):
    def get_by_natural_key(self, username: str | None) -> "User":
        # Usernames are stored NFKC-normalised (core.text_rules): full-width "alice" logs in as "alice".
        return self.get(username__iexact=self.model.normalize_username(username))


class User(AbstractUser):
    number = models.BigIntegerField(unique=True, editable=False, help_text="The public account number.")
    display_name = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True, help_text="Private: receipts are mailed here.")
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.ONLINE)
    read_receipts = models.BooleanField(default=True)
    # The sender's style in chat, denormalised here by the store (store.style) so that a send,
    # which reads this row anyway, stamps it on the message without asking the store.
    chat_bubble = models.CharField(
        max_length=7, blank=True, help_text="The active chat bubble's colour (#rrggbb); empty: none."
    )
    chat_name_color = models.CharField(
        max_length=7, blank=True, help_text="The active name colour (#rrggbb); empty: none."
    )
    vip_until = models.DateTimeField(null=True, blank=True, help_text="The end of the paid VIP time.")

    objects = HuddleUserManager()

    # Set for one save by a password change that keeps the credentials it was made with (see
    # accounts.services.password_set); any other new password revokes every credential.
    credentials_kept: KeptCredentials | None = None
    # `is_active` as last read from or written to the database (None: unknown), so saving a user
    # inactive is seen as a deactivation once.
    stored_is_active: bool | None = None

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=FIRST_NUMBER), name="user_number_min"),
        ]
        # Logging in looks the name up with `username__iexact`, which PostgreSQL runs as
        # UPPER(username) = UPPER(%s): this index serves it (the unique one is on LOWER).
        indexes = [models.Index(Upper("username"), name="user_username_upper")]

    def __str__(self) -> str:
        return f"{self.username} ({self.number})"

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> "User":
        user = super().from_db(db, field_names, values)
        user.stored_is_active = user.__dict__.get("is_active")
        return user

    def save(self, *args, **kwargs) -> None:
        if self.number is None:
            self.number = allocate_account_number(using=kwargs.get("using") or "default")
        if not self.display_name:
            self.display_name = self.username
        super().save(*args, **kwargs)


class AccountNumberCounter(models.Model):
    """The last number handed out, for databases without sequences (SQLite). One row."""

    last = models.BigIntegerField()

    def __str__(self) -> str:
        return f"last account number {self.last}"


class DeviceToken(models.Model):
    """An API token for one device; logging out deletes only this one. Only a digest is stored."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_tokens")
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token of {self.user_id} from {self.created_at:%Y-%m-%d}"


class Friendship(models.Model):
    """One side of a friendship: `user` sees `friend` in their buddy group `group`."""

    DEFAULT_GROUP = "My Friends"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friendships")
    friend = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    group = models.CharField(max_length=32, default=DEFAULT_GROUP)
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "friend"], name="friendship_unique_pair"),
            models.CheckConstraint(condition=~models.Q(user=models.F("friend")), name="friendship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.friend_id} [{self.group}]"


class FriendRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_sent"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_received"
    )
    message = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Least("from_user", "to_user"),
                Greatest("from_user", "to_user"),
                condition=models.Q(status="pending"),
                name="friend_request_one_pending_per_pair",
            ),
            models.CheckConstraint(
                condition=~models.Q(from_user=models.F("to_user")), name="friend_request_not_self"
            ),
        ]
        indexes = [models.Index(fields=["to_user", "status"]), models.Index(fields=["from_user", "status"])]

    def __str__(self) -> str:
        return f"{self.from_user_id} -> {self.to_user_id} ({self.status})"


class Block(models.Model):
    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique_pair"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
