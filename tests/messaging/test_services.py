"""The messaging services: sending, edits, recalls, read markers, unread counts, members."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Block, Friendship
from core.exceptions import Forbidden, InvalidInput, NotFound
from messaging import conversations, selectors, services
from messaging.errors import (
    Blocked,
    BodyTooLong,
    GroupFull,
    NotEditable,
    NotFriends,
    RecallWindowPassed,
    SenderGone,
)
from messaging.models import Conversation, Membership, Message
from messaging.rendering import message_payload
from tests.factories import UserFactory
from tests.messaging.conftest import befriend


def unread(user, conversation) -> int:
    return selectors.conversation_view(user=user, conversation_id=conversation.pk).unread_count


# --- Sending ------------------------------------------------------------------------------------------


def test_send_stores_the_message_and_fans_it_out_after_commit(
    alice, bob, carol, group, captured_events, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        message, created = services.message_send(
            sender=alice, conversation_id=group.pk, body="  hello  ", client_id="c1"
        )
    # then
    assert created
    assert message.body == "  hello  "  # stored as typed
    assert message.seq == 1
    group.refresh_from_db()
    assert (group.last_message_id, group.last_seq) == (message.pk, 1)
    assert captured_events == [
        (
            sorted([alice.pk, bob.pk, carol.pk]),
            {
                "type": "message.new",
                "message": {
                    "id": message.pk,
                    "conversation": group.pk,
                    "seq": 1,
                    "sender": {"number": alice.number, "display_name": "Alice"},
                    "kind": "text",
                    "body": "  hello  ",
                    "client_id": "c1",
                    "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
                    "edited_at": None,
                    "recalled": False,
                    "data": {},
                    "sender_style": {"bubble": None, "name_color": None, "vip": False},
                },
            },
        )
    ]


def test_nothing_is_sent_when_the_transaction_rolls_back(alice, group, captured_events):
    # given: no on-commit callbacks run in this (rolled back) test transaction
    services.message_send(sender=alice, conversation_id=group.pk, body="x")
    assert captured_events == []


def test_seq_counts_per_conversation(alice, bob, direct, group, send):
    assert [send(alice, group).seq for _ in range(3)] == [1, 2, 3]
    assert send(bob, direct).seq == 1


def _group_of(owner, size: int) -> Conversation:
    people = UserFactory.create_batch(size)
    for person in people:
        befriend(owner, person)
    return conversations.conversation_group_create(
        user=owner, title="big", member_numbers=[p.number for p in people]
    )


@pytest.mark.parametrize("size", [2, 40])
def test_send_costs_a_fixed_number_of_queries_whatever_the_group_size(
    alice, size, django_assert_num_queries, django_capture_on_commit_callbacks, captured_events
):
    group = _group_of(alice, size)
    # PostgreSQL: one call of the messaging_send function, +2 because inside the test's
    # transaction the service takes a savepoint. Elsewhere (ORM): sender, lock, member ids,
    # savepoint, insert, release, update, +2 for the service's own savepoint likewise.
    with (
        django_assert_num_queries(3 if connection.vendor == "postgresql" else 9),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.message_send(sender=alice, conversation_id=group.pk, body="hi", client_id=f"q{size}")
    assert len(captured_events[0][0]) == size + 1


def test_direct_send_costs_one_more_query_on_sqlite(alice, bob, direct, group, django_assert_num_queries):
    # PostgreSQL: one call (in a savepoint) either way. ORM, without a client_id (no savepoint
    # around the insert): sender, savepoint, lock, member ids, insert, update, release; a direct
    # send adds the block-and-friendship check.
    on_postgres = connection.vendor == "postgresql"
    with django_assert_num_queries(3 if on_postgres else 7):
        services.message_send(sender=alice, conversation_id=group.pk, body="hi")
    with django_assert_num_queries(3 if on_postgres else 8):
        services.message_send(sender=alice, conversation_id=direct.pk, body="hi")


def test_a_repeated_client_id_returns_the_first_message(
    alice, group, captured_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first, created = services.message_send(
            sender=alice, conversation_id=group.pk, body="a", client_id="k"
        )
        again, created_again = services.message_send(
            sender=alice, conversation_id=group.pk, body="b", client_id="k"
        )
    assert created and not created_again
    assert again.pk == first.pk and again.body == "a"
    assert len(captured_events) == 1
    assert Message.objects.count() == 1


def test_a_sender_given_by_id_is_read_with_the_send(alice, group, captured_events):
    # given: the socket's copy of Alice is stale
    alice.display_name = "Old name"
    type(alice).objects.filter(pk=alice.pk).update(display_name="Alice Liddell")
    # when
    message, created = services.message_send(sender=alice.pk, conversation_id=group.pk, body="hi")
    # then: the message names her as she is now
    assert created and message.sender.pk == alice.pk
    assert message_payload(message)["sender"] == {"number": alice.number, "display_name": "Alice Liddell"}


@pytest.mark.parametrize("given_as", ["id", "user"])
@pytest.mark.parametrize("kind", ["text", "system"])
def test_a_deactivated_sender_is_refused_and_nothing_is_stored(
    alice, group, given_as, kind, django_capture_on_commit_callbacks
):
    # given: Alice was deactivated after her copy was loaded (a request in flight)
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    sender = alice.pk if given_as == "id" else alice
    # when / then: refused on both databases, also for a server-side system message
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(SenderGone):
        services.message_send(sender=sender, conversation_id=group.pk, body="hi", kind=kind, trusted=True)
    group.refresh_from_db()
    assert Message.objects.count() == 0 and group.last_seq == 0
    assert callbacks == []


def test_a_refusal_inside_a_callers_transaction_leaves_it_usable(alice, bob, direct, group):
    Block.objects.create(blocker=bob, blocked=alice)
    with transaction.atomic():
        with pytest.raises(Blocked):
            services.message_send(sender=alice, conversation_id=direct.pk, body="hi")
        # the caller's transaction goes on
        _, created = services.message_send(sender=alice, conversation_id=group.pk, body="still here")
    assert created and list(Message.objects.values_list("body", flat=True)) == ["still here"]


def test_a_send_inside_a_transaction_that_rolls_back_leaves_nothing(
    alice, group, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.message_send(sender=alice, conversation_id=group.pk, body="never", trusted=True)
            raise RuntimeError("the caller fails after the send")
    group.refresh_from_db()
    assert Message.objects.count() == 0 and (group.last_seq, group.last_message_id) == (0, 0)
    assert callbacks == []


@pytest.mark.django_db(transaction=True)
def test_the_event_goes_out_once_after_commit(alice, group, captured_events):
    # in autocommit: at once, once
    services.message_send(sender=alice, conversation_id=group.pk, body="now")
    assert [event["message"]["body"] for _, event in captured_events] == ["now"]
    # inside a caller's transaction: only when it commits
    with transaction.atomic():
        services.message_send(sender=alice, conversation_id=group.pk, body="later")
        assert len(captured_events) == 1
    assert [event["message"]["body"] for _, event in captured_events] == ["now", "later"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_client_id_still_uncommitted_elsewhere_returns_that_message(alice, direct, group):
    """A retry that arrives while the original is not committed yet (another conversation, so no
    shared lock) waits for it and answers with it."""
    holding, release, results = threading.Event(), threading.Event(), []

    def original() -> None:
        try:
            with transaction.atomic():
                results.append(
                    services.message_send(sender=alice, conversation_id=direct.pk, body="a", client_id="k")
                )
                holding.set()
                assert release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=original)
    thread.start()
    assert holding.wait(10)
    retry_result: list = []

    def retry() -> None:
        try:
            retry_result.append(
                services.message_send(sender=alice, conversation_id=group.pk, body="b", client_id="k")
            )
        finally:
            connection.close()

    retrying = threading.Thread(target=retry)
    retrying.start()
    retrying.join(1)
    assert retrying.is_alive()  # waiting for the original's transaction
    release.set()
    thread.join(10)
    retrying.join(10)
    (first, created), (again, created_again) = results[0], retry_result[0]
    assert created and not created_again and again.pk == first.pk and again.body == "a"
    assert Message.objects.filter(sender=alice, client_id="k").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_keep_seq_gapless_and_one_message_per_client_id(alice, bob, carol, group):
    """8 threads send at once into one conversation, each message twice with the same client_id
    (a retry racing the original): every client_id is stored once, seq is 1..n without gaps,
    and the conversation points at its last message."""
    senders = [alice, bob, carol]
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        try:
            barrier.wait(10)
            for round_ in range(10):
                key = f"k{index % 4}-{round_}"  # threads i and i+4 race on the same keys
                sender = senders[(index % 4) % 3]
                message, created = services.message_send(
                    sender=sender.pk if index % 2 else sender,
                    conversation_id=group.pk,
                    body=key,
                    client_id=key,
                )
                results.append((message.pk, created))
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    stored = list(Message.objects.filter(conversation=group).order_by("seq").values_list("seq", "id", "body"))
    assert [seq for seq, _, _ in stored] == list(range(1, 41))
    assert sum(created for _, created in results) == 40 and len(results) == 80
    assert {pk for pk, _ in results} == {pk for _, pk, _ in stored}
    group.refresh_from_db()
    assert (group.last_seq, group.last_message_id) == (40, stored[-1][1])


def test_client_id_is_per_sender(alice, bob, group, send):
    assert send(alice, group, client_id="same").pk != send(bob, group, client_id="same").pk


@pytest.mark.parametrize("kind", ["gift", "red_packet", "system", "nonsense"])
def test_clients_may_send_only_text_and_stickers(alice, group, kind):
    with pytest.raises(InvalidInput) as error:
        services.message_send(sender=alice, conversation_id=group.pk, body="x", kind=kind)
    assert "kind" in error.value.fields


def test_server_side_callers_send_other_kinds_with_data(alice, group):
    message, _ = services.message_send(
        sender=alice, conversation_id=group.pk, kind="red_packet", data={"red_packet": 7}, trusted=True
    )
    assert (message.kind, message.data, message.body) == ("red_packet", {"red_packet": 7}, "")


def test_a_system_message_may_name_a_former_member(alice, bob, group):
    conversations.member_remove(user=bob, conversation_id=group.pk, number=bob.number)
    message, _ = services.message_send(
        sender=bob, conversation_id=group.pk, kind="system", body="Bob left", trusted=True
    )
    assert message.kind == "system"
    with pytest.raises(NotFound):
        services.message_send(sender=bob, conversation_id=group.pk, body="let me back")


def test_a_sticker_needs_its_pack_and_id(alice, group, sticker_rules_off):
    message, _ = services.message_send(
        sender=alice, conversation_id=group.pk, kind="sticker", data={"sku": "cats", "sticker": 3}
    )
    assert message.body == ""
    with pytest.raises(InvalidInput):
        services.message_send(sender=alice, conversation_id=group.pk, kind="sticker", data={})


@pytest.mark.parametrize("body", ["", "   \n ", None, 5])
def test_text_needs_a_body(alice, group, body):
    with pytest.raises(InvalidInput):
        services.message_send(sender=alice, conversation_id=group.pk, body=body)


def test_text_holds_at_most_4000_characters_after_trimming(alice, group):
    services.message_send(sender=alice, conversation_id=group.pk, body="  " + "字" * 4000 + "  ")
    with pytest.raises(BodyTooLong):
        services.message_send(sender=alice, conversation_id=group.pk, body="a" * 4001)


def test_non_members_cannot_send(carol, direct):
    with pytest.raises(NotFound):
        services.message_send(sender=carol, conversation_id=direct.pk, body="hi")
    with pytest.raises(NotFound):
        services.message_send(sender=carol, conversation_id=999999, body="hi")


def test_unfriended_people_cannot_message_each_other(alice, bob, direct):
    Friendship.objects.all().delete()
    with pytest.raises(NotFriends):
        services.message_send(sender=alice, conversation_id=direct.pk, body="hi")


@pytest.mark.parametrize("blocker", ["alice", "bob"])
def test_blocked_wins_over_not_friends(alice, bob, direct, blocker):
    people = {"alice": alice, "bob": bob}
    Friendship.objects.all().delete()
    Block.objects.create(blocker=people[blocker], blocked=bob if blocker == "alice" else alice)
    for sender in (alice, bob):
        with pytest.raises(Blocked):
            services.message_send(sender=sender, conversation_id=direct.pk, body="hi")


def test_people_who_block_each_other_may_still_share_a_group(alice, bob, group, send):
    Block.objects.create(blocker=bob, blocked=alice)
    assert send(alice, group).pk


# --- Direct conversations and groups ------------------------------------------------------------------


def test_one_direct_conversation_per_pair(alice, bob):
    befriend(alice, bob)
    first, created = conversations.conversation_direct_open(user=alice, number=bob.number)
    again, created_again = conversations.conversation_direct_open(user=bob, number=alice.number)
    assert created and not created_again and first.pk == again.pk
    assert first.members_count == 2


def test_direct_open_is_refused_to_strangers_and_the_blocked(alice, bob, carol):
    with pytest.raises(NotFriends):
        conversations.conversation_direct_open(user=alice, number=bob.number)
    Block.objects.create(blocker=carol, blocked=alice)
    with pytest.raises(Blocked):
        conversations.conversation_direct_open(user=alice, number=carol.number)
    with pytest.raises(InvalidInput):
        conversations.conversation_direct_open(user=alice, number=alice.number)


def test_direct_open_race_returns_the_winner(alice, bob, monkeypatch):
    """The second opener misses the first one's row at its check, then hits the unique key."""
    befriend(alice, bob)
    winner, _ = conversations.conversation_direct_open(user=alice, number=bob.number)
    real_filter = Conversation.objects.filter
    calls = []

    def blind_first_check(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            return real_filter(pk=-1)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Conversation.objects, "filter", blind_first_check)
    again, created = conversations.conversation_direct_open(user=bob, number=alice.number)
    assert (again.pk, created) == (winner.pk, False)


def test_group_members_must_be_friends(alice, bob, carol):
    befriend(alice, bob)
    with pytest.raises(NotFriends):
        conversations.conversation_group_create(
            user=alice, title="g", member_numbers=[bob.number, carol.number]
        )
    with pytest.raises(InvalidInput):
        conversations.conversation_group_create(user=alice, title="  ", member_numbers=[bob.number])


def test_a_group_is_refused_past_its_member_limit(alice, monkeypatch):
    monkeypatch.setattr(conversations, "GROUP_MAX_MEMBERS", 3)
    people = UserFactory.create_batch(3)
    for p in people:
        befriend(alice, p)
    with pytest.raises(GroupFull):
        conversations.conversation_group_create(
            user=alice, title="g", member_numbers=[p.number for p in people]
        )
    group = conversations.conversation_group_create(
        user=alice, title="g", member_numbers=[p.number for p in people[:2]]
    )
    with pytest.raises(GroupFull):
        conversations.members_add(user=alice, conversation_id=group.pk, numbers=[people[2].number])


def test_group_creation_tells_every_member(
    alice, bob, carol, captured_events, django_capture_on_commit_callbacks
):
    befriend(alice, bob)
    befriend(alice, carol)
    with django_capture_on_commit_callbacks(execute=True):
        group = conversations.conversation_group_create(
            user=alice, title="Hikers", member_numbers=[bob.number, carol.number, alice.number]
        )
    assert group.members_count == 3
    roles = {ids[0]: e["conversation"]["my_role"] for ids, e in captured_events}
    assert roles == {alice.pk: "owner", bob.pk: "member", carol.pk: "member"}
    assert {e["type"] for _, e in captured_events} == {"conversation.new"}


# --- Members --------------------------------------------------------------------------------------------


def test_members_add_and_remove(
    alice, bob, carol, group, make_user, captured_events, django_capture_on_commit_callbacks
):
    dave = make_user(username="dave")
    befriend(alice, dave)
    with pytest.raises(Forbidden):
        conversations.members_add(user=bob, conversation_id=group.pk, numbers=[dave.number])
    with django_capture_on_commit_callbacks(execute=True):
        added = conversations.members_add(
            user=alice, conversation_id=group.pk, numbers=[dave.number, bob.number]
        )
    assert [m.user_id for m in added] == [dave.pk]
    assert captured_events[-1][0] == [dave.pk] and captured_events[-1][1]["type"] == "conversation.new"
    group.refresh_from_db()
    assert group.members_count == 4
    # when: Alice removes Dave
    with django_capture_on_commit_callbacks(execute=True):
        conversations.member_remove(user=alice, conversation_id=group.pk, number=dave.number)
    assert captured_events[-1] == ([dave.pk], {"type": "conversation.left", "conversation": group.pk})
    group.refresh_from_db()
    assert group.members_count == 3


def test_a_removed_member_gets_no_more_messages(
    alice, bob, carol, group, captured_events, django_capture_on_commit_callbacks
):
    conversations.member_remove(user=alice, conversation_id=group.pk, number=carol.number)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(sender=alice, conversation_id=group.pk, body="after")
    assert captured_events[-1][0] == sorted([alice.pk, bob.pk])
    with pytest.raises(NotFound):
        selectors.message_history(user=carol, conversation_id=group.pk)


def test_admins_remove_only_members_and_only_the_owner_sets_roles(alice, bob, carol, group):
    with pytest.raises(Forbidden):
        conversations.member_role_set(user=bob, conversation_id=group.pk, number=carol.number, role="admin")
    conversations.member_role_set(user=alice, conversation_id=group.pk, number=bob.number, role="admin")
    with pytest.raises(Forbidden):
        conversations.member_remove(user=bob, conversation_id=group.pk, number=alice.number)
    with pytest.raises(Forbidden):
        conversations.member_remove(user=carol, conversation_id=group.pk, number=bob.number)
    conversations.member_remove(user=bob, conversation_id=group.pk, number=carol.number)
    assert not Membership.objects.filter(conversation=group, user=carol).exists()


def test_the_owner_leaving_hands_the_group_over(alice, bob, carol, group):
    conversations.member_role_set(user=alice, conversation_id=group.pk, number=carol.number, role="admin")
    conversations.member_remove(user=alice, conversation_id=group.pk, number=alice.number)
    roles = dict(Membership.objects.filter(conversation=group).values_list("user_id", "role"))
    assert roles == {bob.pk: "member", carol.pk: "owner"}


def test_ownership_transfer(alice, bob, group):
    conversations.member_role_set(user=alice, conversation_id=group.pk, number=bob.number, role="owner")
    roles = dict(Membership.objects.filter(conversation=group).values_list("user_id", "role"))
    assert roles[alice.pk] == "admin" and roles[bob.pk] == "owner"


def test_direct_conversations_have_no_member_management(alice, bob, direct):
    from messaging.errors import NotGroup

    with pytest.raises(NotGroup):
        conversations.member_remove(user=alice, conversation_id=direct.pk, number=alice.number)


# --- Edits and recalls ------------------------------------------------------------------------------------


def test_edit_own_text(alice, bob, group, send, captured_events, django_capture_on_commit_callbacks):
    message = send(alice, group, "typo")
    with django_capture_on_commit_callbacks(execute=True):
        edited = services.message_edit(user=alice, message_id=message.pk, body="fixed")
    assert edited.body == "fixed" and edited.edited_at is not None
    assert captured_events[-1][1]["type"] == "message.edited"
    assert captured_events[-1][1]["message"]["body"] == "fixed"
    with pytest.raises(Forbidden):
        services.message_edit(user=bob, message_id=message.pk, body="mine now")


def test_only_text_is_editable(alice, group, sticker_rules_off):
    sticker, _ = services.message_send(
        sender=alice, conversation_id=group.pk, kind="sticker", data={"sku": "s", "sticker": 1}
    )
    with pytest.raises(NotEditable):
        services.message_edit(user=alice, message_id=sticker.pk, body="x")


def test_recall_within_two_minutes(
    alice, bob, group, send, captured_events, django_capture_on_commit_callbacks
):
    message = send(bob, group, "oops")
    with django_capture_on_commit_callbacks(execute=True):
        recalled = services.message_recall(user=bob, message_id=message.pk)
    assert (recalled.recalled, recalled.body, recalled.data) == (True, "", {})
    assert captured_events[-1][1]["type"] == "message.recalled"
    assert captured_events[-1][1]["message"]["recalled"] is True
    with pytest.raises(NotEditable):
        services.message_edit(user=bob, message_id=message.pk, body="x")


def test_recall_window(alice, bob, carol, group, send):
    message = send(bob, group, "old")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    with pytest.raises(RecallWindowPassed):
        services.message_recall(user=bob, message_id=message.pk)
    with pytest.raises(Forbidden):
        services.message_recall(user=carol, message_id=message.pk)
    # the group's owner may recall any time
    assert services.message_recall(user=alice, message_id=message.pk).recalled


def test_recall_window_in_direct_conversations(alice, bob, direct, send):
    message = send(alice, direct, "old")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    with pytest.raises(RecallWindowPassed):
        services.message_recall(user=alice, message_id=message.pk)


def test_edits_and_recalls_of_unseen_messages_are_not_found(carol, direct, alice, send):
    message = send(alice, direct)
    with pytest.raises(NotFound):
        services.message_recall(user=carol, message_id=message.pk)
    with pytest.raises(NotFound):
        services.message_edit(user=carol, message_id=message.pk, body="x")


# --- Read markers and unread counts -----------------------------------------------------------------------


def test_unread_counts_after_sends_reads_and_recalls(alice, bob, carol, group, send):
    first, second, third = send(alice, group), send(alice, group), send(carol, group)
    send(bob, group)  # own messages are never unread
    assert unread(bob, group) == 3
    services.conversation_read(user=bob, conversation_id=group.pk, up_to=first.pk)
    assert unread(bob, group) == 2
    services.message_recall(user=alice, message_id=second.pk)
    assert unread(bob, group) == 1
    services.conversation_read(user=bob, conversation_id=group.pk, up_to=third.pk + 100)
    assert unread(bob, group) == 0
    assert unread(alice, group) == 2  # Carol's and Bob's


def test_unread_counts_after_member_changes(alice, bob, carol, group, make_user, send):
    dave = make_user(username="dave")
    befriend(alice, dave)
    send(bob, group)
    send(carol, group)
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[dave.number])
    assert unread(dave, group) == 0  # what was said before joining is neither shown nor unread
    send(bob, group)
    assert unread(dave, group) == 1
    conversations.member_remove(user=alice, conversation_id=group.pk, number=dave.number)
    conversations.members_add(user=alice, conversation_id=group.pk, numbers=[dave.number])
    assert unread(dave, group) == 0


def test_read_marker_never_moves_backwards(
    alice, bob, direct, send, captured_events, django_capture_on_commit_callbacks
):
    messages = [send(alice, direct) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            services.conversation_read(user=bob, conversation_id=direct.pk, up_to=messages[2].pk)
            == messages[2].pk
        )
        assert (
            services.conversation_read(user=bob, conversation_id=direct.pk, up_to=messages[0].pk)
            == messages[2].pk
        )
    reads = [(ids, e) for ids, e in captured_events if e["type"] == "read"]
    assert reads == [
        (
            sorted([alice.pk, bob.pk]),
            {"type": "read", "conversation": direct.pk, "user": bob.number, "up_to": messages[2].pk},
        )
    ]
    assert Membership.objects.get(conversation=direct, user=bob).last_read_id == messages[2].pk


def test_read_receipts_off_tells_only_the_reader(
    alice, bob, direct, send, captured_events, django_capture_on_commit_callbacks
):
    bob.read_receipts = False
    bob.save()
    message = send(alice, direct)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_read(user=bob, conversation_id=direct.pk, up_to=message.pk)
    assert [ids for ids, e in captured_events if e["type"] == "read"] == [[bob.pk]]


def test_reading_someone_elses_conversation_is_not_found(carol, direct):
    with pytest.raises(NotFound):
        services.conversation_read(user=carol, conversation_id=direct.pk, up_to=1)


def test_conversation_list_order_and_contents(alice, bob, carol, direct, group, send):
    send(bob, direct, "older")
    last = send(carol, group, "newest")
    views = selectors.conversation_list_for_user(alice)
    payloads = [selectors.conversation_payload(v) for v in views]
    assert [p["id"] for p in payloads] == [group.pk, direct.pk]
    assert payloads[0]["last_message"]["id"] == last.pk
    assert payloads[0]["title"] == "Hikers" and payloads[0]["my_role"] == "owner"
    assert (
        payloads[1]["title"] == "Bob"
        and payloads[1]["kind"] == "direct"
        and payloads[1]["peer"] == bob.number
    )
    assert [p["unread_count"] for p in payloads] == [1, 1]


def test_conversation_list_costs_three_queries(alice, bob, direct, group, send, django_assert_num_queries):
    send(bob, direct)
    send(bob, group)
    with django_assert_num_queries(3):
        selectors.conversation_list_for_user(alice)


def test_search_finds_chinese_and_english(alice, bob, carol, direct, group, send):
    hit = send(bob, direct, "今天晚上一起吃饭吗？")  # noqa: RUF001
    send(alice, group, "Dinner TONIGHT at eight")
    send(carol, group, "明天见")
    recalled = send(alice, direct, "晚上 secret")
    services.message_recall(user=alice, message_id=recalled.pk)
    assert [m.pk for m in selectors.message_search(user=alice, query="一起吃饭")] == [hit.pk]
    assert [m.body for m in selectors.message_search(user=bob, query="tonight")] == [
        "Dinner TONIGHT at eight"
    ]
    assert list(selectors.message_search(user=carol, query="吃饭")) == []  # not Carol's conversation
    assert [m.pk for m in selectors.message_search(user=alice, query="晚上", conversation_id=direct.pk)] == [
        hit.pk
    ]
    with pytest.raises(NotFound):
        selectors.message_search(user=carol, query="x", conversation_id=direct.pk)


@pytest.mark.postgres
def test_search_uses_the_trigram_index(alice, bob, direct, send):
    """The index matches Django's icontains (`UPPER(body) LIKE UPPER(...)`), Chinese included.
    (With one user's few conversations the planner may rightly start from the memberships.)"""
    for i in range(50):
        send(bob, direct, f"message number {i} 今天晚上")
    sql, params = Message.objects.filter(body__icontains="今天晚上").only("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_body_upper_trgm" in plan
