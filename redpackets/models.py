"""Red packets (CONTRACT section 6): lucky money sent into a conversation, claimed share by share.

A packet's coins leave the sender's wallet when it is sent and wait in one shard of the
`red_packets:escrow` system account (`escrow_account`, chosen at random when it is sent and used by
every later posting of the packet, so the packet's escrow is one account's business). Its shares
are drawn when it is sent and stored, one row per share; claims take them in `position` order.

Invariants (the services keep them under the packet's row lock; the database refuses the rest):
- the shares of a packet number `count`, each at least 1 coin, and sum to `total`;
- `remaining_amount` / `remaining_count` are the unclaimed shares' sum and number while the packet
  is open, and so exactly what the escrow holds for it; both are 0 once it is exhausted or expired
  (`refunded_amount` then says what went back to the sender);
- a person claims at most one share of a packet (unique (packet, claimed_by) among claimed
  shares), and a share is claimed at most once, with its ledger transaction
  (`red_packet_claim:<packet>:<user>`); the sender's postings are `red_packet:<packet>` and
  `red_packet_refund:<packet>`, so no path can move a packet's money twice;
- status moves open -> exhausted (every share claimed) or open -> expired (what was left went back
  to the sender), never back.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

GREETING_MAX_LENGTH = 100
DEFAULT_GREETING = "Best wishes"


class RedPacket(models.Model):
    class Mode(models.TextChoices):
        RANDOM = "random", "Random (lucky) shares"
        EQUAL = "equal", "Equal shares"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        EXHAUSTED = "exhausted", "Every share claimed"
        EXPIRED = "expired", "Expired (the rest returned)"

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        "messaging.Conversation", on_delete=models.PROTECT, related_name="red_packets"
    )
    message = models.OneToOneField(
        "messaging.Message",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="red_packet",
        help_text="The red_packet message announcing it (set in the transaction that sends it).",
    )
    mode = models.CharField(max_length=6, choices=Mode.choices)
    greeting = models.CharField(max_length=GREETING_MAX_LENGTH, default=DEFAULT_GREETING)
    total = models.PositiveIntegerField(help_text="Whole coins, the sum of the shares.")
    count = models.PositiveIntegerField(help_text="Number of shares.")
    remaining_amount = models.PositiveIntegerField(help_text="Unclaimed coins still in escrow.")
    remaining_count = models.PositiveIntegerField(help_text="Unclaimed shares.")
    refunded_amount = models.PositiveIntegerField(default=0, help_text="Returned to the sender at expiry.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.OPEN)
    escrow_account = models.ForeignKey("coins.Account", on_delete=models.PROTECT, related_name="+")
    send_transaction = models.OneToOneField(
        "coins.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund_transaction = models.OneToOneField(
        "coins.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    luckiest = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who drew the largest share (ties: the earliest), once every share is claimed.",
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When it became exhausted or expired."
    )

    class Meta:
        indexes = [
            # The expiry sweep: open packets by deadline.
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="redpacket_open_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=1), name="redpacket_count_positive"),
            models.CheckConstraint(condition=Q(total__gte=F("count")), name="redpacket_share_at_least_one"),
            models.CheckConstraint(
                condition=Q(remaining_count__lte=F("count"))
                & Q(remaining_amount__lte=F("total"))
                & Q(remaining_amount__gte=F("remaining_count"))
                & Q(refunded_amount__lte=F("total")),
                name="redpacket_remaining_within_total",
            ),
            models.CheckConstraint(
                condition=(Q(remaining_count=0) & Q(remaining_amount=0))
                | (Q(remaining_count__gt=0) & Q(remaining_amount__gt=0)),
                name="redpacket_remaining_count_iff_amount",
            ),
            models.CheckConstraint(
                condition=Q(status="open", finished_at__isnull=True, remaining_count__gt=0, refunded_amount=0)
                | Q(status="exhausted", finished_at__isnull=False, remaining_count=0, refunded_amount=0)
                | Q(status="expired", finished_at__isnull=False, remaining_count=0),
                name="redpacket_status_consistent",
            ),
            models.CheckConstraint(
                condition=Q(luckiest__isnull=True) | Q(status="exhausted"),
                name="redpacket_luckiest_when_exhausted",
            ),
            models.CheckConstraint(condition=Q(mode__in=["random", "equal"]), name="redpacket_mode_known"),
        ]

    def __str__(self) -> str:
        return f"red packet {self.pk}: {self.total} coins in {self.count} ({self.status})"


class RedPacketShare(models.Model):
    """One precomputed share. `position` is the claim order: the n-th claim takes position n-1.
    Unclaimed: no `claimed_by`, `claimed_at` or `claim_transaction`; claimed: all three."""

    packet = models.ForeignKey(RedPacket, on_delete=models.PROTECT, related_name="shares")
    position = models.PositiveIntegerField()
    amount = models.PositiveIntegerField()
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_transaction = models.OneToOneField(
        "coins.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["packet", "position"], name="redpacketshare_unique_position"),
            models.UniqueConstraint(
                fields=["packet", "claimed_by"],
                condition=Q(claimed_by__isnull=False),
                name="redpacketshare_one_claim_per_person",
            ),
            models.CheckConstraint(condition=Q(amount__gte=1), name="redpacketshare_amount_positive"),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True, claimed_at__isnull=True, claim_transaction__isnull=True)
                | Q(claimed_by__isnull=False, claimed_at__isnull=False, claim_transaction__isnull=False),
                name="redpacketshare_claim_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"share {self.position} of red packet {self.packet_id}: {self.amount}"
