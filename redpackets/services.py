"""Every write of red packets: sending, claiming and expiring (CONTRACT section 6).

Each service owns its database transaction (from the API, @idempotent's transaction wraps it, so
the Idempotency-Key record and the effect commit together) and moves coins only through
coins.ledger.ledger_post, with a key built from the packet, so a retry from any path is a no-op:
- send: wallet -> the packet's escrow shard, `red_packet:<packet>`; the packet, its shares and
  its `red_packet` message are written in the same transaction;
- claim: escrow -> the claimer's wallet, `red_packet_claim:<packet>:<user>`;
- expire: escrow -> the sender's wallet (what is left), `red_packet_refund:<packet>`.
Claims and expiry lock the packet row first (FOR NO KEY UPDATE: shares' foreign keys point at it)
and check its state under the lock, so exactly `count` claims ever succeed and the refund happens
once, also when the expiry task runs twice or meets a last-second claim.
Socket events go out after commit through messaging.realtime; balance events come from the ledger.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import Transaction
from core import text_rules
from core.exceptions import InvalidInput
from core.input_rules import reject_unstorable
from messaging.errors import ConversationNotFound
from messaging.models import Conversation, Membership, Message
from messaging.realtime import send_event_on_commit
from messaging.selectors import member_ids_seeing
from messaging.services import direct_peer_check, message_send
from redpackets.errors import (
    AlreadyClaimed,
    RedPacketExhausted,
    RedPacketExpired,
    RedPacketNotFound,
    SenderCannotClaim,
)
from redpackets.models import DEFAULT_GREETING, GREETING_MAX_LENGTH, RedPacket, RedPacketShare
from redpackets.splitting import split_shares

LIFETIME = timedelta(hours=24)
ESCROW = "red_packets:escrow"


# --- Sending ----------------------------------------------------------------------------------------


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_send_input(total: Any, count: Any, mode: Any, greeting: Any) -> tuple[int, int, str, str]:
    """The API's serializer checks the same; server-side callers reach here without it."""
    fields: dict[str, list[str]] = {}
    if not _is_whole(total) or not 1 <= total <= settings.MAX_TRANSFER_COINS:
        fields["total"] = [f"A whole number of coins from 1 to {settings.MAX_TRANSFER_COINS}."]
    if not _is_whole(count) or count < 1:
        fields["count"] = ["A whole number of shares, at least 1."]
    if mode not in RedPacket.Mode.values:
        fields["mode"] = ["Use random or equal."]
    if greeting is None:
        greeting = ""
    if not isinstance(greeting, str):
        fields["greeting"] = ["Must be a string."]
    elif len(greeting.strip()) > GREETING_MAX_LENGTH:
        fields["greeting"] = [f"At most {GREETING_MAX_LENGTH} characters."]
    if fields:
        raise InvalidInput(fields=fields)
    reject_unstorable({"greeting": greeting})
    text_rules.check_name("greeting", greeting.strip())
    if total < count:
        raise InvalidInput(
            "Every share needs at least 1 coin.", fields={"total": ["At least 1 coin a share."]}
        )
    if mode == RedPacket.Mode.EQUAL and total % count:
        raise InvalidInput(
            "Equal shares need a total divisible by the count.",
            fields={"total": [f"Must be divisible by the count ({count}) for equal shares."]},
        )
    return total, count, mode, greeting.strip() or DEFAULT_GREETING


def _claimers_possible(sender: User, conversation_id: int) -> int:
    """How many people could claim: the other member of a direct conversation, the other members
    of a group. ConversationNotFound unless the sender is a member; in a direct conversation the
    sending rules apply (blocked / not friends), checked before any money moves."""
    membership = (
        Membership.objects.select_related("conversation")
        .filter(user_id=sender.pk, conversation_id=conversation_id)
        .first()
    )
    if membership is None:
        raise ConversationNotFound()
    conversation = membership.conversation
    others = Membership.objects.filter(conversation_id=conversation_id).exclude(user_id=sender.pk)
    if conversation.kind == Conversation.Kind.DIRECT:
        peer = others.values_list("user_id", flat=True).first()
        direct_peer_check(sender, peer if peer is not None else sender.pk)
        return 1
    return others.count()


def red_packet_send(
    *,
    sender: User,
    conversation_id: int,
    total: Any,
    count: Any,
    mode: Any,
    greeting: Any = "",
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> RedPacket:
    """Send a red packet of `total` coins in `count` shares into a conversation of the sender's.

    Raises InvalidInput (fields total, count, mode, greeting: amounts out of range, fewer coins
    than shares, more shares than people who could claim, an equal split that does not divide),
    ConversationNotFound (not a member), Blocked / NotFriends (a direct conversation the sender
    may no longer write in), InsufficientFunds. Nothing is written when it raises. The shares are
    drawn from `rng` (default: the system's CSPRNG; tests inject a seeded one)."""
    total, count, mode, greeting = _clean_send_input(total, count, mode, greeting)
    claimers = _claimers_possible(sender, conversation_id)
    if count > claimers:
        raise InvalidInput(
            "More shares than people who can claim them.",
            fields={
                "count": [
                    f"At most {claimers} here (everyone but you)." if claimers else "No one else is here."
                ]
            },
        )
    now = now or timezone.now()
    shares = split_shares(total, count, mode, rng)
    with transaction.atomic():
        packet = RedPacket.objects.create(
            sender=sender,
            conversation_id=conversation_id,
            mode=mode,
            greeting=greeting,
            total=total,
            count=count,
            remaining_amount=total,
            remaining_count=count,
            escrow_account=system_account(ESCROW),
            created_at=now,
            expires_at=now + LIFETIME,
        )
        RedPacketShare.objects.bulk_create(
            RedPacketShare(packet=packet, position=position, amount=amount)
            for position, amount in enumerate(shares)
        )
        txn = ledger_post(
            kind=Transaction.Kind.RED_PACKET,
            legs=[debit(wallet_for(sender), total), credit(packet.escrow_account, total)],
            memo=f"Red packet: {greeting}",
            metadata={"red_packet": packet.pk, "conversation": conversation_id, "count": count, "mode": mode},
            idempotency_key=f"red_packet:{packet.pk}",
            actor=sender,
            cause="red_packet",
        )
        # Last: the send holds the conversation's row lock (hot for every message) until commit.
        message, _ = message_send(
            sender=sender,
            conversation_id=conversation_id,
            body=greeting,
            kind=Message.Kind.RED_PACKET,
            data={"red_packet": packet.pk},
            trusted=True,
        )
        packet.message = message
        packet.send_transaction = txn
        packet.save(update_fields=["message", "send_transaction"])
    return packet


# --- Claiming ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    packet: RedPacket
    share: RedPacketShare
    balance: int  # the claimer's balance right after the claim


def _packet_seen_by(user: User, red_packet_id: int) -> RedPacket:
    """The packet, if `user` is a member of its conversation who sees its message (joined before it
    was sent); else RedPacketNotFound. Read without a lock: these fields never change."""
    packet = RedPacket.objects.filter(pk=red_packet_id).only("conversation_id", "message_id").first()
    if packet is None or packet.message_id is None:
        raise RedPacketNotFound()
    sees = Membership.objects.filter(
        user_id=user.pk, conversation_id=packet.conversation_id, history_from_id__lt=packet.message_id
    ).exists()
    if not sees:
        raise RedPacketNotFound()
    return packet


def _luckiest_claimer_id(packet: RedPacket) -> int | None:
    """The largest share's claimer; ties go to the earliest claim (claims take positions in order)."""
    return (
        RedPacketShare.objects.filter(packet=packet, claimed_by__isnull=False)
        .order_by("-amount", "position")
        .values_list("claimed_by_id", flat=True)
        .first()
    )


def red_packet_claim(*, user: User, red_packet_id: int, now: datetime | None = None) -> ClaimResult:
    """Claim the next share of a packet into `user`'s wallet.

    Raises RedPacketNotFound (cannot see it), SenderCannotClaim, AlreadyClaimed, RedPacketExhausted,
    RedPacketExpired (at or after `expires_at`, even before the expiry task has run), checked in
    that order under the packet's lock. The members who see the packet (the sender and the claimer
    among them) get `red_packet.claimed`."""
    _packet_seen_by(user, red_packet_id)
    with transaction.atomic():
        packet = RedPacket.objects.select_for_update(no_key=True).get(pk=red_packet_id)
        now = now or timezone.now()
        if packet.sender_id == user.pk:
            raise SenderCannotClaim()
        if RedPacketShare.objects.filter(packet=packet, claimed_by=user).exists():
            raise AlreadyClaimed()
        if packet.status == RedPacket.Status.EXHAUSTED:
            raise RedPacketExhausted()
        if _expired(packet, now):
            raise RedPacketExpired()

        share = RedPacketShare.objects.get(packet=packet, position=packet.count - packet.remaining_count)
        wallet = wallet_for(user)
        txn = ledger_post(
            kind=Transaction.Kind.RED_PACKET_CLAIM,
            legs=[debit(packet.escrow_account, share.amount), credit(wallet, share.amount)],
            memo="Red packet claimed",
            metadata={"red_packet": packet.pk, "share": share.pk},
            idempotency_key=f"red_packet_claim:{packet.pk}:{user.pk}",
            actor=user,
            cause="red_packet",
        )
        if txn.replayed:  # pragma: no cover - the share check above under the lock rules it out
            raise AlreadyClaimed()
        share.claimed_by = user
        share.claimed_at = now
        share.claim_transaction = txn
        try:
            with transaction.atomic():
                share.save(update_fields=["claimed_by", "claimed_at", "claim_transaction"])
        except IntegrityError:  # pragma: no cover - unique (packet, claimed_by): ruled out above
            raise AlreadyClaimed() from None

        packet.remaining_amount -= share.amount
        packet.remaining_count -= 1
        update = ["remaining_amount", "remaining_count"]
        if packet.remaining_count == 0:
            packet.status = RedPacket.Status.EXHAUSTED
            packet.finished_at = now
            packet.luckiest_id = _luckiest_claimer_id(packet)
            update += ["status", "finished_at", "luckiest"]
        packet.save(update_fields=update)

        # To everyone who sees the packet's card (and its sender, also after leaving), so the card
        # updates without a fetch.
        send_event_on_commit(
            {packet.sender_id, user.pk, *member_ids_seeing(packet.conversation_id, packet.message_id)},
            {
                "type": "red_packet.claimed",
                "red_packet": packet.pk,
                "conversation": packet.conversation_id,
                "user": user.number,
                "amount": share.amount,
                "remaining_count": packet.remaining_count,
            },
        )
        balance = next(e.balance_after for e in txn.posted_entries if e.account_id == wallet.pk)
    return ClaimResult(packet=packet, share=share, balance=balance)


def _expired(packet: RedPacket, now: datetime) -> bool:
    return packet.status == RedPacket.Status.EXPIRED or now >= packet.expires_at


# --- Expiry -----------------------------------------------------------------------------------------


def red_packet_expire(*, red_packet_id: int, now: datetime | None = None) -> RedPacket | None:
    """Return what is left of an open packet past its `expires_at` to its sender, once. Returns
    the packet when this call expired it; None when there was nothing to do (no such packet, not
    yet due, already exhausted or expired): a replay or an overlapping run is a no-op. The sender
    and the members who see the packet get `red_packet.expired` with what went back to the sender
    (the sender also `coins.balance`, from the ledger)."""
    with transaction.atomic():
        packet = RedPacket.objects.select_for_update(no_key=True).filter(pk=red_packet_id).first()
        now = now or timezone.now()
        if packet is None or packet.status != RedPacket.Status.OPEN or now < packet.expires_at:
            return None
        refund = packet.remaining_amount
        # An open packet always has something left (status constraint), so the refund is positive.
        txn = ledger_post(
            kind=Transaction.Kind.RED_PACKET_RETURN,
            legs=[debit(packet.escrow_account, refund), credit(wallet_for(packet.sender), refund)],
            memo="Red packet expired: unclaimed coins returned",
            metadata={"red_packet": packet.pk, "unclaimed_shares": packet.remaining_count},
            idempotency_key=f"red_packet_refund:{packet.pk}",
            cause="red_packet_expiry",
        )
        packet.status = RedPacket.Status.EXPIRED
        packet.refunded_amount = refund
        packet.remaining_amount = 0
        packet.remaining_count = 0
        packet.finished_at = now
        packet.refund_transaction = txn
        packet.save(
            update_fields=[
                "status",
                "refunded_amount",
                "remaining_amount",
                "remaining_count",
                "finished_at",
                "refund_transaction",
            ]
        )
        send_event_on_commit(
            {packet.sender_id, *member_ids_seeing(packet.conversation_id, packet.message_id)},
            {
                "type": "red_packet.expired",
                "red_packet": packet.pk,
                "conversation": packet.conversation_id,
                "refunded": refund,
            },
        )
    return packet
