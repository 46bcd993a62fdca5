"""A PostgreSQL backend killed (`pg_terminate_backend`) in the middle of a write, against a live daphne:
a transfer, a purchase, a red-packet claim, an HTTP message send and a socket `message.send`.

"In the middle": the test holds a conflicting row lock in a connection of its own (the payer's wallet
account, the conversation row), sends the request, waits until the server's backend is blocked behind
that lock (pg_blocking_pids) with part of its transaction already written (the idempotency key, the
purchase row, the packet's lock), terminates that backend, then lets the lock go. Then:

- nothing of the request is in the database (one transaction, rolled back by PostgreSQL);
- the client gets a clean 503 `service_unavailable` with Retry-After (HTTP), or an `error` frame
  `service_unavailable` carrying its client_id (socket), never a 500;
- the retry with the same Idempotency-Key or client_id completes exactly once (a third call replays);
- the same daphne process keeps working: its database pool holds one connection
  (DATABASE_POOL_MAX_SIZE=1), so every request after the kill proves the dead one was dropped.

Real processes: a private redis-server and a daphne on the test database."""

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import websockets

from coins.ledger import wallet_balance, wallet_for
from coins.models import Transaction
from core.models import IdempotencyRecord
from messaging.models import Message
from redpackets.models import RedPacketShare
from redpackets.services import red_packet_send
from store.demo import seed_store_catalog
from store.models import Purchase
from tests.coins.helpers import grant
from tests.conftest import token_for
from tests.messaging.processes import expect, test_database_url
from tests.redpackets.helpers import direct_between, group_of
from tests.reliability.fault_servers import configured_daphne
from tests.reliability.faults import Daphne, private_redis, wait_for, ws_connect

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker) -> Iterator[Daphne]:
    """One daphne for the module (it starts slowly on a loaded machine), with one pooled connection."""
    tmp_path = tmp_path_factory.mktemp("pg-faults")
    with (
        django_db_blocker.unblock(),
        private_redis(tmp_path) as redis_server,
        configured_daphne(redis_server, tmp_path, "pg-faults", DATABASE_POOL_MAX_SIZE="1") as process,
    ):
        yield process


@contextmanager
def row_locked(table: str, row_id: int) -> Iterator[psycopg.Connection]:
    """Hold `FOR UPDATE` on one row from a connection of the test's own until the block ends."""
    with psycopg.connect(test_database_url()) as holder:
        holder.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [row_id])
        yield holder
        holder.rollback()


def kill_backend_blocked_by(holder: psycopg.Connection) -> int:
    """Wait for a backend blocked behind `holder`'s lock and terminate it; its pid."""
    found: list[int] = []

    def blocked() -> bool:
        with psycopg.connect(test_database_url(), autocommit=True) as probe:
            rows = probe.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND %s = ANY(pg_blocking_pids(pid))",
                [holder.info.backend_pid],
            ).fetchall()
        found[:] = [row[0] for row in rows]
        return bool(found)

    wait_for(blocked, "the request's backend to block on the held lock", timeout=30)
    assert len(found) == 1, found
    with psycopg.connect(test_database_url(), autocommit=True) as killer:
        assert killer.execute("SELECT pg_terminate_backend(%s)", found).fetchone()[0] is True
    return found[0]


def call_killed_midway(
    server: Daphne, table: str, row_id: int, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, dict]:
    """The answer to a request whose backend is terminated while it waits on a held row lock."""
    answer: list[tuple[int, Any, dict]] = []
    with row_locked(table, row_id) as holder:
        request = threading.Thread(target=lambda: answer.append(server.call(method, path, **kwargs)))
        request.start()
        kill_backend_blocked_by(holder)
    request.join(timeout=30)
    assert answer, "the request never answered"
    return answer[0]


def assert_clean_503(status: int, body: Any, headers: dict) -> None:
    assert status == 503, body
    assert body["code"] == "service_unavailable" and body["detail"]
    assert headers.get("Retry-After")


def assert_still_serving(server: Daphne, token: str) -> None:
    status, wallet, _ = server.call("GET", "/api/v1/coins/wallet", token=token)
    assert status == 200, wallet


def money_headers(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_transfer_whose_backend_is_killed_writes_nothing_and_its_retry_posts_once(
    server, make_user, friends
):
    alice, bob = make_user(), make_user()
    friends(alice, bob)
    grant(alice, 100)
    token, key = token_for(alice), f"transfer-{uuid.uuid4()}"
    body = {"to": bob.number, "amount": 30, "memo": "rent"}

    # when: the transfer's backend is killed while it waits for bob's wallet row
    status, answer, headers = call_killed_midway(
        server,
        "coins_account",
        wallet_for(bob).pk,
        "POST",
        "/api/v1/coins/transfers",
        token=token,
        body=body,
        headers=money_headers(key),
    )
    # then: a clean 503 and nothing written, not even the idempotency key
    assert_clean_503(status, answer, headers)
    assert not Transaction.objects.filter(kind="transfer").exists()
    assert not IdempotencyRecord.objects.filter(key=key).exists()
    assert (wallet_balance(alice), wallet_balance(bob)) == (100, 0)

    # when: the client retries with the same key, twice
    first = server.call("POST", "/api/v1/coins/transfers", token=token, body=body, headers=money_headers(key))
    again = server.call("POST", "/api/v1/coins/transfers", token=token, body=body, headers=money_headers(key))
    # then: one transfer, the second answer a replay of the first
    assert first[0] == 201, first[1]
    assert again[0] == 201 and again[1] == first[1] and again[2].get("Idempotent-Replayed") == "true"
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert (wallet_balance(alice), wallet_balance(bob)) == (70, 30)


def test_a_purchase_whose_backend_is_killed_writes_nothing_and_its_retry_buys_once(server, make_user):
    seed_store_catalog()
    buyer = make_user()
    grant(buyer, 200)
    token, key = token_for(buyer), f"purchase-{uuid.uuid4()}"
    body = {"sku": "gift-cake", "quantity": 2}

    # when: the purchase's backend is killed after it saved the purchase row, waiting for the wallet
    status, answer, headers = call_killed_midway(
        server,
        "coins_account",
        wallet_for(buyer).pk,
        "POST",
        "/api/v1/store/purchases",
        token=token,
        body=body,
        headers=money_headers(key),
    )
    assert_clean_503(status, answer, headers)
    assert not Purchase.objects.exists()
    assert not Transaction.objects.filter(kind="purchase").exists()
    assert wallet_balance(buyer) == 200
    status, inventory, _ = server.call("GET", "/api/v1/store/inventory", token=token)
    assert status == 200 and inventory == []

    first = server.call("POST", "/api/v1/store/purchases", token=token, body=body, headers=money_headers(key))
    again = server.call("POST", "/api/v1/store/purchases", token=token, body=body, headers=money_headers(key))
    assert first[0] == 201, first[1]
    assert again[0] == 201 and again[1] == first[1]
    assert Purchase.objects.count() == 1
    assert wallet_balance(buyer) == 100
    status, inventory, _ = server.call("GET", "/api/v1/store/inventory", token=token)
    assert [(row["sku"], row["quantity"]) for row in inventory] == [("gift-cake", 2)]


def test_a_red_packet_claim_whose_backend_is_killed_writes_nothing_and_its_retry_claims_once(
    server, make_user
):
    sender, claimer, other = make_user(), make_user(), make_user()
    group = group_of(sender, claimer, other)
    grant(sender, 100)
    packet = red_packet_send(sender=sender, conversation_id=group.pk, total=40, count=2, mode="equal")
    token = token_for(claimer)
    path = f"/api/v1/red-packets/{packet.pk}/claim"

    # when: the claim's backend is killed holding the packet's lock, waiting for the claimer's wallet
    status, answer, headers = call_killed_midway(
        server, "coins_account", wallet_for(claimer).pk, "POST", path, token=token
    )
    assert_clean_503(status, answer, headers)
    assert not RedPacketShare.objects.filter(claimed_by=claimer).exists()
    assert not Transaction.objects.filter(kind="red_packet_claim").exists()
    assert wallet_balance(claimer) == 0
    # and the packet's lock went with the backend: another member claims at once
    other_claim = server.call("POST", path, token=token_for(other))
    assert other_claim[0] == 200 and other_claim[1]["amount"] == 20, other_claim[1]

    # when: the claimer tries again, twice
    first, again = server.call("POST", path, token=token), server.call("POST", path, token=token)
    # then: the first retry claims the last share; the second finds it claimed already (a claimer's
    # own share is checked before the packet's state: services.red_packet_claim's documented order)
    assert first[0] == 200 and first[1]["amount"] == 20, first[1]
    assert again[0] == 409 and again[1]["code"] == "already_claimed", again[1]
    packet.refresh_from_db()
    assert (packet.status, packet.remaining_count) == ("exhausted", 0)
    assert RedPacketShare.objects.filter(claimed_by=claimer).count() == 1
    assert Transaction.objects.filter(kind="red_packet_claim").count() == 2
    assert wallet_balance(claimer) == 20


def test_an_http_send_whose_backend_is_killed_stores_nothing_and_its_retry_stores_once(server, make_user):
    alice, bob = make_user(), make_user()
    conversation = direct_between(alice, bob)
    token, path = token_for(alice), f"/api/v1/conversations/{conversation.pk}/messages"
    body = {"body": "are you there?", "client_id": f"c-{uuid.uuid4()}"}

    # when: the send's backend is killed while it waits for the conversation's row
    status, answer, headers = call_killed_midway(
        server, "messaging_conversation", conversation.pk, "POST", path, token=token, body=body
    )
    assert_clean_503(status, answer, headers)
    assert not Message.objects.filter(conversation=conversation).exists()

    first = server.call("POST", path, token=token, body=body)
    again = server.call("POST", path, token=token, body=body)
    assert first[0] == 201, first[1]
    assert again[0] == 200 and again[1]["id"] == first[1]["id"]
    assert list(Message.objects.filter(conversation=conversation).values_list("body", flat=True)) == [
        "are you there?"
    ]
    assert_still_serving(server, token)


async def _answer_to(ws: websockets.ClientConnection, client_id: str, timeout: float = 30) -> dict:
    """The next `message.ack` or `error` frame for `client_id`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = json.loads(await asyncio.wait_for(ws.recv(), end - loop.time()))
        if got["type"] in ("message.ack", "error") and got.get("client_id") == client_id:
            return got


async def _socket_send_killed_midway(
    server: Daphne, token: str, conversation_id: int, client_id: str
) -> tuple[dict, dict, dict]:
    """`message.send` on a socket whose backend is killed while it waits for the conversation's
    row; (the answer to it, the answer to its retry, the answer to one more)."""
    frame = {"type": "message.send", "conversation": conversation_id, "body": "hello", "client_id": client_id}
    ws = await ws_connect(server, token)
    try:
        await ws.send(json.dumps({"type": "ping"}))
        await expect(ws, "pong", timeout=10)
        with row_locked("messaging_conversation", conversation_id) as holder:
            await ws.send(json.dumps(frame))
            await asyncio.to_thread(kill_backend_blocked_by, holder)
        answer = await _answer_to(ws, client_id)
        answers = [answer]
        for _ in range(2):
            await ws.send(json.dumps(frame))
            answers.append(await _answer_to(ws, client_id))
        return answers[0], answers[1], answers[2]
    finally:
        await ws.close()


def test_a_socket_send_whose_backend_is_killed_is_refused_cleanly_and_its_retry_stores_once(
    server, make_user
):
    alice, bob = make_user(), make_user()
    conversation = direct_between(alice, bob)
    token, client_id = token_for(alice), f"c-{uuid.uuid4()}"

    answer, retry, again = asyncio.run(_socket_send_killed_midway(server, token, conversation.pk, client_id))

    # then: the killed send is refused cleanly (service_unavailable, its client_id echoed), or it
    # was stored by the server's own retry on a fresh connection and acknowledged; never server_error
    assert answer["type"] == "message.ack" or answer["code"] == "service_unavailable", answer
    # and the client's retries with the same client_id get the one stored message
    assert retry["type"] == again["type"] == "message.ack", (retry, again)
    assert retry["message"]["id"] == again["message"]["id"]
    if answer["type"] == "message.ack":
        assert answer["message"]["id"] == retry["message"]["id"]
    assert Message.objects.filter(conversation=conversation, client_id=client_id).count() == 1
    assert_still_serving(server, token)
