"""The red-packet services against the real database: sending, claiming, expiry, their errors and
events, and the ledger afterwards (the conftest checks it after every test)."""

import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.errors import Blocked
from accounts.models import Block
from coins.errors import InsufficientFunds
from coins.ledger import wallet_balance
from coins.models import Transaction
from core.exceptions import InvalidInput
from messaging.conversations import conversation_group_create, member_remove, members_add
from messaging.errors import ConversationNotFound
from messaging.models import Message
from redpackets import tasks
from redpackets.errors import (
    AlreadyClaimed,
    RedPacketExhausted,
    RedPacketExpired,
    RedPacketNotFound,
    SenderCannotClaim,
)
from redpackets.models import RedPacket, RedPacketShare
from redpackets.selectors import red_packet_escrow_held
from redpackets.services import LIFETIME, red_packet_claim, red_packet_expire, red_packet_send
from tests.coins.helpers import grant
from tests.redpackets.helpers import add_to_group, direct_between, group_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(make_user):
    return make_user(username="dave", display_name="Dave")


@pytest.fixture
def group(alice, bob, carol, dave):
    grant(alice, 1000)
    return group_of(alice, bob, carol, dave)


def send(sender, conversation, total=100, count=3, mode="random", **kwargs):
    return red_packet_send(
        sender=sender, conversation_id=conversation.pk, total=total, count=count, mode=mode, **kwargs
    )


# --- Sending ----------------------------------------------------------------------------------------


def test_send_moves_coins_to_escrow_and_posts_a_red_packet_message(
    alice, bob, carol, dave, group, captured_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        packet = send(alice, group, total=100, count=3, greeting="恭喜发财")

    assert wallet_balance(alice) == 900
    assert red_packet_escrow_held(packet) == 100
    assert (packet.total, packet.count, packet.remaining_amount, packet.remaining_count) == (100, 3, 100, 3)
    assert packet.status == "open" and packet.mode == "random"
    assert packet.expires_at - packet.created_at == LIFETIME == timedelta(hours=24)
    shares = list(packet.shares.order_by("position").values_list("amount", flat=True))
    assert len(shares) == 3 and sum(shares) == 100 and min(shares) >= 1
    message = Message.objects.get(pk=packet.message_id)
    assert (message.kind, message.body, message.data) == ("red_packet", "恭喜发财", {"red_packet": packet.pk})
    assert message.sender_id == alice.pk and message.conversation_id == group.pk
    txn = packet.send_transaction
    assert (txn.kind, txn.idempotency_key) == ("red_packet", f"red_packet:{packet.pk}")
    # then: the members get the message, the sender their new balance
    assert [e["type"] for _, e in captured_events] == ["coins.balance", "message.new"]
    assert captured_events[0] == ([alice.pk], {"type": "coins.balance", "balance": 900})
    ids, event = captured_events[1]
    assert ids == sorted(u.pk for u in (alice, bob, carol, dave))
    assert event["message"]["data"] == {"red_packet": packet.pk}


def test_default_greeting(alice, group):
    assert send(alice, group).greeting == "Best wishes"
    assert send(alice, group, greeting="   ").greeting == "Best wishes"


def test_equal_mode_splits_evenly(alice, group):
    packet = send(alice, group, total=90, count=3, mode="equal")
    assert list(packet.shares.values_list("amount", flat=True)) == [30, 30, 30]


def test_random_mode_uses_the_injected_source(alice, group):
    a = send(alice, group, total=100, count=3, rng=random.Random(7))
    b = send(alice, group, total=100, count=3, rng=random.Random(7))
    amounts = [list(p.shares.order_by("position").values_list("amount", flat=True)) for p in (a, b)]
    assert amounts[0] == amounts[1]


@pytest.mark.parametrize(
    ("total", "count", "mode", "greeting", "field"),
    [
        (0, 1, "random", "", "total"),
        (-5, 1, "random", "", "total"),
        ("5", 1, "random", "", "total"),
        (5.0, 1, "random", "", "total"),
        (True, 1, "random", "", "total"),
        (1_000_001, 1, "random", "", "total"),
        (5, 0, "random", "", "count"),
        (2, 3, "random", "", "total"),  # fewer coins than shares
        (10, 3, "equal", "", "total"),  # not divisible
        (10, 4, "random", "", "count"),  # only 3 others in the group
        (10, 1, "lucky", "", "mode"),
        (10, 1, "random", "x" * 101, "greeting"),
        (10, 1, "random", 5, "greeting"),
        (10, 1, "random", "a\x00b", "greeting"),
    ],
)
def test_send_validation(alice, group, total, count, mode, greeting, field):
    with pytest.raises(InvalidInput) as raised:
        send(alice, group, total=total, count=count, mode=mode, greeting=greeting)
    assert field in raised.value.fields
    assert wallet_balance(alice) == 1000
    assert not RedPacket.objects.exists() and not Message.objects.filter(kind="red_packet").exists()


def test_direct_conversation_allows_one_share_for_the_other_person(alice, bob):
    grant(alice, 100)
    chat = direct_between(alice, bob)
    with pytest.raises(InvalidInput) as raised:
        send(alice, chat, total=10, count=2)
    assert "count" in raised.value.fields
    assert send(alice, chat, total=10, count=1).count == 1


def test_direct_conversation_follows_the_sending_rules(alice, bob):
    grant(alice, 100)
    chat = direct_between(alice, bob)
    Block.objects.create(blocker=bob, blocked=alice)
    with pytest.raises(Blocked):
        send(alice, chat, total=10, count=1)
    assert wallet_balance(alice) == 100 and not RedPacket.objects.exists()


def test_non_member_cannot_send(alice, bob, group, make_user):
    outsider = make_user()
    grant(outsider, 100)
    with pytest.raises(ConversationNotFound):
        send(outsider, group, total=10, count=1)


def test_insufficient_funds_writes_nothing(alice, group):
    with pytest.raises(InsufficientFunds):
        send(alice, group, total=1001, count=3)
    assert wallet_balance(alice) == 1000
    assert not RedPacket.objects.exists() and not RedPacketShare.objects.exists()
    assert not Message.objects.filter(kind="red_packet").exists()


def test_alone_in_a_group_no_one_can_claim(alice, make_user):
    grant(alice, 10)
    solo = conversation_group_create(user=alice, title="Me", member_numbers=[])
    with pytest.raises(InvalidInput) as raised:
        send(alice, solo, total=5, count=1)
    assert raised.value.fields == {"count": ["No one else is here."]}


# --- Claiming ---------------------------------------------------------------------------------------


def test_claims_take_the_shares_in_order_and_the_last_marks_the_luckiest(
    alice, bob, carol, dave, group, captured_events, django_capture_on_commit_callbacks
):
    packet = send(alice, group, total=100, count=3)
    shares = list(packet.shares.order_by("position"))
    captured_events.clear()

    results = []
    for claimer in (bob, carol, dave):
        with django_capture_on_commit_callbacks(execute=True):
            results.append(red_packet_claim(user=claimer, red_packet_id=packet.pk))

    assert [r.share.pk for r in results] == [s.pk for s in shares]
    for claimer, share, result in zip((bob, carol, dave), shares, results, strict=True):
        assert wallet_balance(claimer) == share.amount == result.balance
    packet.refresh_from_db()
    assert (packet.status, packet.remaining_amount, packet.remaining_count) == ("exhausted", 0, 0)
    assert packet.finished_at is not None
    largest = max(shares, key=lambda s: (s.amount, -s.position))
    assert packet.luckiest_id == (bob, carol, dave)[largest.position].pk
    assert red_packet_escrow_held(packet) == 0
    claim_events = [(ids, e) for ids, e in captured_events if e["type"] == "red_packet.claimed"]
    # to every member who sees the card, with what a card needs to update without a fetch
    assert claim_events == [
        (
            sorted([alice.pk, bob.pk, carol.pk, dave.pk]),
            {
                "type": "red_packet.claimed",
                "red_packet": packet.pk,
                "conversation": group.pk,
                "user": claimer.number,
                "amount": share.amount,
                "remaining_count": remaining,
            },
        )
        for claimer, share, remaining in zip((bob, carol, dave), shares, (2, 1, 0), strict=True)
    ]
    balance_events = [(ids, e) for ids, e in captured_events if e["type"] == "coins.balance"]
    assert balance_events == [
        ([claimer.pk], {"type": "coins.balance", "balance": share.amount})
        for claimer, share in zip((bob, carol, dave), shares, strict=True)
    ]
    txn = Transaction.objects.get(idempotency_key=f"red_packet_claim:{packet.pk}:{bob.pk}")
    assert txn.kind == "red_packet_claim"


def test_luckiest_ties_go_to_the_earliest(alice, bob, carol, dave, group):
    packet = send(alice, group, total=30, count=3, mode="equal")
    for claimer in (carol, bob, dave):
        red_packet_claim(user=claimer, red_packet_id=packet.pk)
    packet.refresh_from_db()
    assert packet.luckiest_id == carol.pk


def test_claim_once(alice, bob, group):
    packet = send(alice, group)
    red_packet_claim(user=bob, red_packet_id=packet.pk)
    with pytest.raises(AlreadyClaimed):
        red_packet_claim(user=bob, red_packet_id=packet.pk)
    assert RedPacketShare.objects.filter(claimed_by=bob).count() == 1


def test_exhausted(alice, bob, carol, dave, group):
    packet = send(alice, group, total=10, count=2)
    red_packet_claim(user=bob, red_packet_id=packet.pk)
    red_packet_claim(user=carol, red_packet_id=packet.pk)
    with pytest.raises(RedPacketExhausted):
        red_packet_claim(user=dave, red_packet_id=packet.pk)
    with pytest.raises(AlreadyClaimed):  # a claimer hears they claimed, not that it is gone
        red_packet_claim(user=bob, red_packet_id=packet.pk)


def test_sender_cannot_claim_in_a_group(alice, group):
    packet = send(alice, group)
    with pytest.raises(SenderCannotClaim):
        red_packet_claim(user=alice, red_packet_id=packet.pk)


def test_in_a_direct_chat_only_the_other_person_claims(alice, bob):
    grant(alice, 50)
    chat = direct_between(alice, bob)
    packet = send(alice, chat, total=50, count=1)
    with pytest.raises(SenderCannotClaim):
        red_packet_claim(user=alice, red_packet_id=packet.pk)
    assert red_packet_claim(user=bob, red_packet_id=packet.pk).share.amount == 50
    assert wallet_balance(bob) == 50


def test_non_members_and_late_joiners_cannot_see_it(alice, bob, group, make_user):
    packet = send(alice, group)
    outsider, late = make_user(), make_user()
    add_to_group(alice, group, late)
    for person in (outsider, late):
        with pytest.raises(RedPacketNotFound):
            red_packet_claim(user=person, red_packet_id=packet.pk)
    with pytest.raises(RedPacketNotFound):
        red_packet_claim(user=bob, red_packet_id=packet.pk + 1000)
    # a packet sent after they joined is theirs to claim
    later = send(alice, group, total=10, count=1)
    assert red_packet_claim(user=late, red_packet_id=later.pk).share.amount == 10


def test_a_member_who_left_and_rejoined_sees_only_later_packets(alice, bob, group):
    packet = send(alice, group)
    member_remove(user=bob, conversation_id=group.pk, number=bob.number)
    members_add(user=alice, conversation_id=group.pk, numbers=[bob.number])
    with pytest.raises(RedPacketNotFound):
        red_packet_claim(user=bob, red_packet_id=packet.pk)


# --- Expiry -----------------------------------------------------------------------------------------


def test_claim_after_expiry_is_expired_even_before_the_task_runs(alice, bob, group):
    packet = send(alice, group)
    with pytest.raises(RedPacketExpired):
        red_packet_claim(user=bob, red_packet_id=packet.pk, now=packet.expires_at)
    assert red_packet_claim(user=bob, red_packet_id=packet.pk, now=packet.expires_at - timedelta(seconds=1))


def test_expiry_returns_what_is_left_once(
    alice, bob, group, captured_events, django_capture_on_commit_callbacks
):
    packet = send(alice, group, total=100, count=3)
    claimed = red_packet_claim(user=bob, red_packet_id=packet.pk).share.amount
    captured_events.clear()

    assert red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at - timedelta(seconds=1)) is None
    with django_capture_on_commit_callbacks(execute=True):
        expired = red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at)
    assert expired is not None
    assert red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at + timedelta(hours=1)) is None

    packet.refresh_from_db()
    assert packet.status == "expired"
    assert (packet.remaining_amount, packet.remaining_count, packet.refunded_amount) == (0, 0, 100 - claimed)
    assert wallet_balance(alice) == 1000 - claimed
    assert red_packet_escrow_held(packet) == 0
    refund = Transaction.objects.get(idempotency_key=f"red_packet_refund:{packet.pk}")
    assert refund.kind == "red_packet_return" and packet.refund_transaction_id == refund.pk
    assert captured_events == [
        ([alice.pk], {"type": "coins.balance", "balance": 1000 - claimed}),
        (
            sorted(group.memberships.values_list("user_id", flat=True)),
            {
                "type": "red_packet.expired",
                "red_packet": packet.pk,
                "conversation": group.pk,
                "refunded": 100 - claimed,
            },
        ),
    ]
    with pytest.raises(RedPacketExpired):
        red_packet_claim(user=bob.__class__.objects.get(username="carol"), red_packet_id=packet.pk)
    with pytest.raises(AlreadyClaimed):
        red_packet_claim(user=bob, red_packet_id=packet.pk)


def test_an_exhausted_packet_has_nothing_to_return(alice, bob, carol, group):
    packet = send(alice, group, total=10, count=2)
    red_packet_claim(user=bob, red_packet_id=packet.pk)
    red_packet_claim(user=carol, red_packet_id=packet.pk)
    assert red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at + LIFETIME) is None
    assert not Transaction.objects.filter(kind="red_packet_return").exists()
    with pytest.raises(RedPacketExhausted):
        red_packet_claim(user=carol.__class__.objects.get(username="dave"), red_packet_id=packet.pk)


def test_the_task_run_twice_refunds_once(alice, bob, group, monkeypatch):
    due = send(alice, group, total=100, count=3)
    red_packet_claim(user=bob, red_packet_id=due.pk)
    taken = 100 - RedPacket.objects.get(pk=due.pk).remaining_amount
    fresh_time = due.created_at + timedelta(hours=23)
    fresh = send(alice, group, total=50, count=2, now=fresh_time)

    later = due.expires_at + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert tasks.expire_red_packets.delay().get() == 1
    assert tasks.expire_red_packets.delay().get() == 0
    assert tasks.expire_red_packet.delay(due.pk).get() is False

    assert RedPacket.objects.get(pk=due.pk).status == "expired"
    assert RedPacket.objects.get(pk=fresh.pk).status == "open"  # not due yet
    assert Transaction.objects.filter(kind="red_packet_return").count() == 1
    assert wallet_balance(alice) == 1000 - taken - 50


def test_ledger_check_is_ok_afterwards(alice, bob, carol, group, capsys):
    packet = send(alice, group, total=100, count=3)
    red_packet_claim(user=bob, red_packet_id=packet.pk)
    red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at)
    call_command("ledger_check")
    assert '"ok": true' in capsys.readouterr().out


def test_a_claim_costs_the_same_queries_whatever_the_packet_size(alice, make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    grant(alice, 1000)
    costs = []
    for size in (3, 30):
        people = [make_user() for _ in range(size)]
        conversation = group_of(alice, *people)
        packet = send(alice, conversation, total=size * 10, count=size)
        red_packet_claim(user=people[0], red_packet_id=packet.pk)  # wallets and escrow exist
        with CaptureQueriesContext(connection) as queries:
            red_packet_claim(user=people[1], red_packet_id=packet.pk)
        costs.append(len(queries))
    assert costs[0] == costs[1]
