"""Reads of red packets, always as seen by one user.

`red_packet_get_for_user` is the fetch-with-permission helper: a packet the caller may not see
is RedPacketNotFound, exactly as if it did not exist. A packet is seen by the members of its
conversation who see its message (they joined before it was sent: Membership.history_from_id
below its message's id), and always by its sender.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from coins.models import Entry, Side
from messaging.models import Membership
from redpackets.errors import RedPacketNotFound
from redpackets.models import RedPacket, RedPacketShare


def red_packet_get_for_user(*, user: User, red_packet_id: int) -> RedPacket:
    packet = RedPacket.objects.select_related("sender", "luckiest").filter(pk=red_packet_id).first()
    if packet is None or packet.message_id is None:
        raise RedPacketNotFound()
    if packet.sender_id != user.pk:
        sees = Membership.objects.filter(
            user_id=user.pk, conversation_id=packet.conversation_id, history_from_id__lt=packet.message_id
        ).exists()
        if not sees:
            raise RedPacketNotFound()
    return packet


@dataclass(frozen=True)
class RedPacketView:
    packet: RedPacket
    claims: list[RedPacketShare]  # claimed shares in claim order, with `claimed_by`
    viewer: User

    @property
    def my_amount(self) -> int | None:
        return next((s.amount for s in self.claims if s.claimed_by_id == self.viewer.pk), None)

    @property
    def expired(self) -> bool:
        packet = self.packet
        """Expired with shares left (an exhausted packet is not expired, whatever the time)."""
        if packet.status == RedPacket.Status.OPEN:
            return timezone.now() >= packet.expires_at
        return packet.status == RedPacket.Status.EXPIRED

    @property
    def can_claim(self) -> bool:
        packet = self.packet
        return (
            packet.status == RedPacket.Status.OPEN
            and timezone.now() < packet.expires_at
            and packet.sender_id != self.viewer.pk
            and self.my_amount is None
        )

    @property
    def users(self) -> list[User]:
        """Everyone the rendering names (for accounts.selectors.user_render_context)."""
        return [self.packet.sender, *(s.claimed_by for s in self.claims)]


def red_packet_view(*, user: User, packet: RedPacket) -> RedPacketView:
    claims = list(
        RedPacketShare.objects.select_related("claimed_by")
        .filter(packet=packet, claimed_by__isnull=False)
        .order_by("position")
    )
    return RedPacketView(packet=packet, claims=claims, viewer=user)


def red_packets_due_for_expiry(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of open packets at or past their deadline, oldest first (the partial index on open
    packets' `expires_at` serves this)."""
    now = now or timezone.now()
    return list(
        RedPacket.objects.filter(status=RedPacket.Status.OPEN, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def red_packet_escrow_held(packet: RedPacket) -> int:
    """What the escrow holds for this packet according to the ledger: its postings on its escrow
    account (credits in, debits out). Equals `remaining_amount`; 0 once exhausted or expired."""
    sums = Entry.objects.filter(
        account_id=packet.escrow_account_id, transaction__metadata__red_packet=packet.pk
    ).aggregate(
        credits=Sum("amount", filter=Q(side=Side.CREDIT), default=0),
        debits=Sum("amount", filter=Q(side=Side.DEBIT), default=0),
    )
    return sums["credits"] - sums["debits"]
