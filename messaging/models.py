"""Conversations, memberships and messages.

Invariants kept here and in the database:
- A direct conversation is between exactly two people and there is one per pair: `direct_key`
  ("<smaller user id>:<larger user id>") is unique, so two people opening it at the same moment
  get the same row (the loser of the race catches the IntegrityError and reads the winner's).
- A group has one owner and at most `GROUP_MAX_MEMBERS` members; `members_count` is kept in step
  with the memberships inside the same transaction (under the conversation's row lock).
- Message ids come from one site-wide sequence in allocation order; `seq` numbers the messages of
  one conversation 1, 2, 3, ... with no holes (allocated under the conversation's row lock), so a
  client can see that it missed one. `client_id` is unique per sender.
- The conversation keeps `last_message_id`, `last_seq` and `last_activity`, so a user's list
  sorts by activity without touching messages.
- A member sees the messages from the moment they (last) joined: those with id >
  `Membership.history_from_id` (CONTRACT section 4; messaging.selectors applies it).

Unread counts are *computed*, not kept as counters: "other people's non-recalled messages with
id > my read marker" is `last_seq` minus the seq at the marker (one index probe, since seq follows
id without holes), less the reader's own and other people's recalled messages after the marker
(two small index ranges; messaging.selectors). Counters updated with F() on every send would
write one row per member per message (500 rows for a full group, each a lock that readers moving
their markers contend on) and would have to be corrected on recalls and member changes; computing
is always right and keeps the send path's cost independent of the group's size.

Resync across out-of-order commits (PostgreSQL): every message stores the id of the transaction
that inserted it (`txid`) and the snapshot taken before its insert (`snapshot`, and its xmin as
`snapshot_xmin`). A message with a lower id that committed after message X became visible was not
visible in X's snapshot, and its txid is >= X's snapshot xmin: `sync(after=X)` adds exactly the
messages that X's snapshot could not see (see messaging.sync). Edits and recalls store the
transaction id of the change (`change_txid`), checked against the same snapshot.
On SQLite writes are serialised, so id order is commit order and these columns stay empty.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

GROUP_MAX_MEMBERS = 500
BODY_MAX_LENGTH = 4000
TITLE_MAX_LENGTH = 100


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True, help_text="Groups only.")
    direct_key = models.CharField(
        max_length=41,
        null=True,
        blank=True,
        unique=True,
        help_text="'<lower id>:<higher id>' of a direct pair.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    members_count = models.PositiveIntegerField(default=0)
    last_message_id = models.BigIntegerField(default=0)
    last_seq = models.BigIntegerField(default=0)
    last_activity = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["-last_activity", "-id"], name="conversation_activity")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="group", direct_key__isnull=True)
                | Q(kind="direct", direct_key__isnull=False),
                name="conversation_direct_key_iff_direct",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} {self.title or self.direct_key}"

    @staticmethod
    def direct_key_for(user_a_id: int, user_b_id: int) -> str:
        low, high = sorted((user_a_id, user_b_id))
        return f"{low}:{high}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.MEMBER)
    last_read_id = models.BigIntegerField(default=0, help_text="The read marker: last message id read.")
    # Set under the conversation's row lock when the membership is created, which is also the lock
    # every send takes: within a conversation id order is commit order, so `id > history_from_id`
    # is exactly "said after this member joined". Leaving deletes the membership, so a rejoin
    # starts again.
    history_from_id = models.BigIntegerField(
        default=0,
        help_text="The member sees this conversation's messages with larger ids: its last message "
        "when they (last) joined; 0 for founding members and direct conversations.",
    )
    muted = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Led by user: also the index of "my conversations".
            models.UniqueConstraint(
                fields=["user", "conversation"], name="membership_unique_user_conversation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        STICKER = "sticker", "Sticker"
        GIFT = "gift", "Gift"
        RED_PACKET = "red_packet", "Red packet"
        SYSTEM = "system", "System"

    # The composite (conversation, id) index below replaces the foreign key's own index.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.BigIntegerField(help_text="1, 2, 3, ... within the conversation.")
    # The composite (sender, conversation, id) index below replaces the foreign key's own index.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    # NULL, not "", for "none": the per-sender unique constraint must not cover messages without one.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    data = models.JSONField(default=dict, blank=True)
    # The sender's style when they sent it, stamped by the server (never by clients): see
    # messaging.rendering.sender_style_of. `{}` for messages stored before it existed.
    sender_style = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    recalled = models.BooleanField(default=False)
    recalled_at = models.DateTimeField(null=True, blank=True)
    # Resync bookkeeping (PostgreSQL only; see the module docstring and messaging.sync).
    txid = models.BigIntegerField(null=True, blank=True, editable=False)
    snapshot_xmin = models.BigIntegerField(null=True, blank=True, editable=False)
    snapshot = models.TextField(blank=True, editable=False, help_text="pg_snapshot before the insert.")
    changed_at = models.DateTimeField(null=True, blank=True, help_text="Last edit or recall.")
    change_txid = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            # History pages, unread counts (id > marker) and sync, all per conversation.
            models.Index(fields=["conversation", "id"], name="message_conversation_id"),
            # Unread counts (messaging.selectors): the user's own messages after their read marker,
            # and other people's recalled ones; both take only a few entries to count.
            models.Index(fields=["sender", "conversation", "id"], name="message_sender_conv_id"),
            models.Index(
                fields=["conversation", "id"],
                name="message_recalled_conv_id",
                condition=Q(recalled=True),
            ),
            models.Index(fields=["txid"], name="message_txid", condition=Q(txid__isnull=False)),
            models.Index(
                fields=["changed_at"], name="message_changed_at", condition=Q(changed_at__isnull=False)
            ),
            models.Index(
                fields=["change_txid"], name="message_change_txid", condition=Q(change_txid__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_conversation_seq"),
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_sender_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.conversation_id} #{self.seq}"
