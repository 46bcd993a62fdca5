"""Resync (messaging.sync): exactly what a client missed, also across out-of-order commits."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from messaging import services
from messaging.models import Message
from messaging.sync import sync_for_user


def ids(result) -> list[int]:
    return [m.pk for m in result.messages]


def test_sync_from_zero_and_from_a_cursor(alice, bob, direct, group, send):
    messages = [send(alice, direct), send(bob, group), send(alice, group)]
    assert ids(sync_for_user(user=bob, after=0)) == [m.pk for m in messages]
    result = sync_for_user(user=bob, after=messages[0].pk)
    assert ids(result) == [m.pk for m in messages[1:]]
    assert (result.last, result.has_more, result.changes) == (messages[2].pk, False, [])


def test_sync_only_covers_my_conversations(alice, bob, carol, direct, send):
    send(alice, direct)
    assert ids(sync_for_user(user=carol, after=0)) == []


def test_sync_reports_edits_and_recalls_since_the_cursor(alice, bob, direct, send):
    old, cursor = send(alice, direct, "old"), send(alice, direct, "cursor")
    services.message_edit(user=alice, message_id=old.pk, body="edited")
    result = sync_for_user(user=bob, after=cursor.pk)
    assert ids(result) == [] and [m.body for m in result.changes] == ["edited"]
    assert sync_for_user(user=bob, after=0).changes == []  # none from 0: messages come as they are


def test_sync_has_more(alice, bob, direct, send):
    messages = [send(alice, direct) for _ in range(5)]
    page = sync_for_user(user=bob, after=0, limit=2)
    assert ids(page) == [m.pk for m in messages[:2]] and page.has_more
    page = sync_for_user(user=bob, after=page.last, limit=3)
    assert ids(page) == [m.pk for m in messages[2:]] and not page.has_more


def _hold_open(
    work: Callable[[], object], started: threading.Event, release: threading.Event, out: list
) -> None:
    """Run `work` in a transaction that stays open until `release` is set."""
    try:
        with transaction.atomic():
            out.append(work())
            started.set()
            assert release.wait(10)
    except Exception as exc:  # pragma: no cover - surfaced by the test's assertions
        out.append(exc)
        started.set()
    finally:
        connection.close()


def _in_thread(work: Callable[[], object]) -> object:
    out: list = []

    def run() -> None:
        try:
            out.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    return out[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_gap_when_a_lower_id_commits_after_a_higher_one(alice, bob, direct, group):
    # given: message L takes its id first, but its transaction stays open ...
    started, release, held = threading.Event(), threading.Event(), []
    slow = threading.Thread(
        target=_hold_open,
        args=(
            lambda: services.message_send(sender=alice, conversation_id=direct.pk, body="slow")[0],
            started,
            release,
            held,
        ),
    )
    slow.start()
    assert started.wait(10)
    low = held[0]
    # ... while message H, with a higher id, commits in another conversation
    high, _ = _in_thread(lambda: services.message_send(sender=alice, conversation_id=group.pk, body="fast"))
    assert high.pk > low.pk
    # a client syncing now sees H but not L (not committed), and moves its cursor to H
    first = sync_for_user(user=bob, after=0)
    assert ids(first) == [high.pk] and first.last == high.pk
    # when: L commits
    release.set()
    slow.join(10)
    # then: syncing from H brings L, once, and nothing else
    second = sync_for_user(user=bob, after=first.last)
    assert ids(second) == [low.pk] and second.last == high.pk and not second.has_more
    # and a message committed before H's snapshot is not sent again
    third_message, _ = services.message_send(sender=bob, conversation_id=group.pk, body="later")
    assert ids(sync_for_user(user=bob, after=third_message.pk)) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_edit_committing_after_a_newer_message_is_not_missed(alice, bob, direct, group, send):
    old = send(alice, direct, "old")
    started, release, held = threading.Event(), threading.Event(), []
    editor = threading.Thread(
        target=_hold_open,
        args=(
            lambda: services.message_edit(user=alice, message_id=old.pk, body="edited late"),
            started,
            release,
            held,
        ),
    )
    editor.start()
    assert started.wait(10)
    cursor, _ = _in_thread(
        lambda: services.message_send(sender=alice, conversation_id=group.pk, body="newer")
    )
    release.set()
    editor.join(10)
    result = sync_for_user(user=bob, after=cursor.pk)
    assert ids(result) == [] and [m.body for m in result.changes] == ["edited late"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_other_transactions_running_meanwhile_cause_no_resend(alice, bob, direct, group, send):
    """A long transaction elsewhere (another app, a report) lowers the snapshot's xmin; messages
    that committed before the cursor's snapshot still are not sent again."""
    started, release, held = threading.Event(), threading.Event(), []
    bystander = threading.Thread(
        target=_hold_open,
        args=(lambda: _current_txid(), started, release, held),
    )
    bystander.start()
    assert started.wait(10)
    try:
        before = send(alice, direct, "before")
        cursor = send(alice, group, "cursor")
        assert ids(sync_for_user(user=bob, after=cursor.pk)) == []
        assert Message.objects.get(pk=before.pk).snapshot_xmin <= held[0]
    finally:
        release.set()
        bystander.join(10)


def _current_txid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return cursor.fetchone()[0]
