"""Group commit of socket sends (messaging.send_batch): a batch answers each send as the single
path would, stores them with gapless seqs in one statement, counts the rate limit per frame, and
publishes each stored message once to its members after the commit."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from core.exceptions import InvalidInput, RateLimited
from messaging import send_batch
from messaging.errors import ConversationNotFound
from messaging.models import Conversation, Message
from messaging.realtime import user_group

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _frame(conversation: Conversation, body: str = "hi", client_id: str | None = None) -> dict:
    frame = {"type": "message.send", "conversation": conversation.pk, "body": body}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


def test_a_batch_answers_each_send_as_the_single_path_would(
    alice, bob, carol, make_user, direct, group, send
):
    erin = make_user(username="erin")
    first = send(alice, group, "first", client_id="taken")
    items = [
        (alice.pk, _frame(direct, "one", "x1")),
        (bob.pk, _frame(direct, "two")),
        (alice.pk, _frame(group, "again", "taken")),  # a repeated client_id: the first message
        (erin.pk, _frame(group)),  # not a member
        (carol.pk, _frame(direct)),  # not in that direct conversation
        (alice.pk, _frame(direct, "   ")),  # blank
        (alice.pk, _frame(direct, "one more", "x1")),  # repeats a send of this very batch
        (carol.pk, _frame(group, "three", "c1")),
    ]
    results = send_batch.store_sends(items)

    assert [r["body"] if isinstance(r, dict) else type(r) for r in results] == [
        "one",
        "two",
        "first",
        ConversationNotFound,
        ConversationNotFound,
        InvalidInput,
        "one",
        "three",
    ]
    assert results[2]["id"] == first.pk and results[6]["id"] == results[0]["id"]
    assert results[0]["sender"] == {"number": alice.number, "display_name": "Alice"}
    assert results[0]["client_id"] == "x1" and results[1]["client_id"] is None
    # Stored once each, seqs gapless in send order, the conversation's last message moved.
    stored = list(Message.objects.filter(conversation=direct).order_by("seq").values_list("seq", "body"))
    assert stored == [(1, "one"), (2, "two")]
    direct.refresh_from_db()
    assert (direct.last_seq, direct.last_message_id) == (2, results[1]["id"])
    assert Message.objects.filter(conversation=group).count() == 2
    # Each stored row carries the transaction ids sync relies on.
    row = Message.objects.get(pk=results[0]["id"])
    assert row.txid and row.snapshot_xmin and row.snapshot


def test_the_rate_limit_counts_every_frame_of_a_batch(settings, alice, direct):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "messages": "2/minute"}
    results = send_batch.store_sends(
        [(alice.pk, _frame(direct, "a")), (alice.pk, _frame(direct, "")), (alice.pk, _frame(direct, "c"))]
    )
    assert isinstance(results[0], dict)
    assert isinstance(results[1], InvalidInput)  # counted, then refused by validation
    assert isinstance(results[2], RateLimited) and results[2].retry_after > 0
    assert list(Message.objects.values_list("body", flat=True)) == ["a"]


async def test_concurrent_sends_are_batched_stored_once_and_published_once(alice, bob, direct, monkeypatch):
    batches: list[int] = []
    store = send_batch.store_sends

    def counting(items):
        batches.append(len(items))
        return store(items)

    monkeypatch.setattr(send_batch, "store_sends", counting)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group(bob.pk), channel)
    try:
        sends = [send_batch.send_message(alice.pk, _frame(direct, f"m{i}", f"c{i}")) for i in range(30)]
        results = await asyncio.gather(*sends)
        assert sorted(r["body"] for r in results) == sorted(f"m{i}" for i in range(30))
        assert max(batches) > 1 and sum(batches) == 30  # grouped, each send in exactly one batch
        received = [await asyncio.wait_for(layer.receive(channel), 10) for _ in range(30)]
        bodies = [event["event"]["message"]["body"] for event in received]
        assert sorted(bodies) == sorted(f"m{i}" for i in range(30))
        seqs = [event["event"]["message"]["seq"] for event in received]
        assert seqs == sorted(seqs) == list(range(1, 31))  # published in commit order
    finally:
        await layer.group_discard(user_group(bob.pk), channel)
    count = await database_sync_to_async(Message.objects.filter(conversation=direct).count)()
    assert count == 30
