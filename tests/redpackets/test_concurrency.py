"""Red packets under real concurrency on PostgreSQL: threads with their own connections (at most
the pool's 10 at once; each returns its connection when done) claim, expire and send at the same
moment. Afterwards exactly `count` claims succeeded, nobody claimed twice, the amounts sum to the
total, each refund happened once, the packet's escrow is empty and the ledger is whole."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from coins.audit import ledger_report
from coins.ledger import wallet_balance
from coins.models import Transaction
from redpackets.errors import AlreadyClaimed, RedPacketExhausted, RedPacketExpired
from redpackets.models import RedPacket, RedPacketShare
from redpackets.selectors import red_packet_escrow_held
from redpackets.services import red_packet_claim, red_packet_expire, red_packet_send
from tests.coins.helpers import grant
from tests.concurrency import run_threads
from tests.conftest import token_for
from tests.redpackets.helpers import group_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_claimers_ten_shares(make_user):
    # given: a packet of 10 shares in a group of 51
    sender = make_user()
    claimers = [make_user() for _ in range(50)]
    group = group_of(sender, *claimers)
    grant(sender, 1000)
    packet = red_packet_send(sender=sender, conversation_id=group.pk, total=777, count=10, mode="random")
    outcomes: list[tuple[int, object]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            result: object = red_packet_claim(user=claimers[i], red_packet_id=packet.pk).share.amount
        except RedPacketExhausted as exc:
            result = exc
        with lock:
            outcomes.append((i, result))

    # when: all 50 claim at once
    errors = run_threads(50, work)

    # then
    assert errors == []
    won = [(i, amount) for i, amount in outcomes if isinstance(amount, int)]
    assert len(won) == 10
    assert len(outcomes) - len(won) == 40
    assert sum(amount for _, amount in won) == 777
    assert len({i for i, _ in won}) == 10
    for i, amount in won:
        assert wallet_balance(claimers[i]) == amount
    claimed_by = Counter(RedPacketShare.objects.filter(packet=packet).values_list("claimed_by", flat=True))
    assert None not in claimed_by and set(claimed_by.values()) == {1}
    assert Transaction.objects.filter(kind="red_packet_claim").count() == 10
    packet.refresh_from_db()
    assert (packet.status, packet.remaining_amount, packet.remaining_count) == ("exhausted", 0, 0)
    assert packet.luckiest_id is not None
    # and after expiry nothing is left in escrow, nothing went back
    assert red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at) is None
    assert red_packet_escrow_held(packet) == 0
    assert wallet_balance(sender) == 1000 - 777
    assert ledger_report().ok


def test_claims_racing_the_expiry_move_every_coin_once(make_user):
    # given: 10 shares, 8 claimers at the last second and 4 overlapping expiry runs
    sender = make_user()
    claimers = [make_user() for _ in range(8)]
    group = group_of(sender, *claimers)
    grant(sender, 500)
    packet = red_packet_send(sender=sender, conversation_id=group.pk, total=500, count=8, mode="random")
    last_second = packet.expires_at - timedelta(milliseconds=1)
    refunds: list[RedPacket] = []
    claimed: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        if i < 8:
            try:
                amount = red_packet_claim(
                    user=claimers[i], red_packet_id=packet.pk, now=last_second
                ).share.amount
            except RedPacketExpired:
                return
            with lock:
                claimed.append(amount)
        else:
            expired = red_packet_expire(red_packet_id=packet.pk, now=packet.expires_at)
            if expired is not None:
                with lock:
                    refunds.append(expired)

    errors = run_threads(12, work)

    assert errors == []
    packet.refresh_from_db()
    refunded = packet.refunded_amount
    assert sum(claimed) + refunded == 500
    assert len(refunds) == (1 if len(claimed) < 8 else 0)
    assert Transaction.objects.filter(kind="red_packet_return").count() == len(refunds)
    assert red_packet_escrow_held(packet) == 0
    assert wallet_balance(sender) == refunded
    assert ledger_report().ok


def test_one_person_claiming_from_ten_tabs_gets_one_share(make_user):
    sender, bob, carol = make_user(), make_user(), make_user()
    group = group_of(sender, bob, carol)
    grant(sender, 100)
    packet = red_packet_send(sender=sender, conversation_id=group.pk, total=100, count=2, mode="equal")
    won: list[int] = []
    refused: list[Exception] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            amount = red_packet_claim(user=bob, red_packet_id=packet.pk).share.amount
        except AlreadyClaimed as exc:
            with lock:
                refused.append(exc)
            return
        with lock:
            won.append(amount)

    assert run_threads(10, work) == []
    assert won == [50] and len(refused) == 9
    assert wallet_balance(bob) == 50
    assert ledger_report().ok


def test_http_claims_race_to_exactly_count_winners(make_user):
    sender = make_user()
    claimers = [make_user() for _ in range(20)]
    group = group_of(sender, *claimers)
    grant(sender, 60)
    packet = red_packet_send(sender=sender, conversation_id=group.pk, total=60, count=5, mode="random")
    clients = []
    for claimer in claimers:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(claimer)}")
        clients.append(client)
    statuses: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        response = clients[i].post(f"/api/v1/red-packets/{packet.pk}/claim")
        with lock:
            statuses.append((response.status_code, response.json()))

    assert run_threads(20, work) == []
    counts = Counter(status for status, _ in statuses)
    assert counts == {200: 5, 410: 15}
    assert {body["code"] for status, body in statuses if status == 410} == {"exhausted"}
    assert sum(body["amount"] for status, body in statuses if status == 200) == 60
    assert ledger_report().ok


def test_http_sends_racing_on_one_key_charge_once(make_user):
    sender, bob, carol = make_user(), make_user(), make_user()
    group = group_of(sender, bob, carol)
    grant(sender, 100)
    clients = []
    for _ in range(8):  # one client (one "device") per thread: a test client is not thread-safe
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(sender)}")
        clients.append(client)
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        response = clients[i].post(
            f"/api/v1/conversations/{group.pk}/red-packets",
            {"total": 30, "count": 2, "mode": "random"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="one-key",
        )
        with lock:
            answers.append((response.status_code, response.json()["id"]))

    assert run_threads(8, work) == []
    assert {status for status, _ in answers} == {201}
    assert len({packet_id for _, packet_id in answers}) == 1
    assert RedPacket.objects.count() == 1
    assert wallet_balance(sender) == 70
    assert ledger_report().ok
