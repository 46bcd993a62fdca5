"""Friends, friend requests and blocks over the API (CONTRACT section 3)."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Block, FriendRequest, Friendship, User
from accounts.presence import socket_opened
from tests.api_helpers import assert_error, public
from tests.factories import BlockFactory, FriendRequestFactory

FRIENDS = "/api/v1/friends"
REQUESTS = "/api/v1/friends/requests"
BLOCKS = "/api/v1/blocks"


def assert_recent_utc(value: str) -> None:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0)
    assert abs(timezone.now() - moment) < timedelta(minutes=1)


def send_request(client, to: User, message: str | None = None):
    body: dict = {"to": to.number}
    if message is not None:
        body["message"] = message
    return client.post(REQUESTS, body, format="json")


def answer(client, request_id: int, verb: str):
    return client.post(f"{REQUESTS}/{request_id}/{verb}")


def friend_numbers(client) -> set[int]:
    r = client.get(FRIENDS)
    assert r.status_code == 200
    return {f["user"]["number"] for f in r.json()}


def are_friends(a: User, b: User) -> tuple[bool, bool]:
    return (
        Friendship.objects.filter(user=a, friend=b).exists(),
        Friendship.objects.filter(user=b, friend=a).exists(),
    )


# --- POST friends/requests --------------------------------------------------------------------------


def test_send_request_answers_201_with_the_request(alice, bob, client_for):
    # when
    r = send_request(client_for(alice), bob, message="  Hi Bob!  ")
    # then
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "from", "to", "message", "status", "created_at"}
    assert isinstance(body["id"], int)
    assert body["from"] == public(alice, presence="online")  # the caller sees their own presence
    assert body["to"] == public(bob)
    assert body["message"] == "Hi Bob!"
    assert body["status"] == "pending"
    assert_recent_utc(body["created_at"])
    request = FriendRequest.objects.get(pk=body["id"])
    assert (request.from_user, request.to_user, request.status) == (alice, bob, "pending")


def test_send_request_without_message(alice, bob, client_for):
    r = send_request(client_for(alice), bob)
    assert r.status_code == 201
    assert r.json()["message"] == ""


def test_request_event_goes_to_the_recipient_only(
    alice, bob, carol, client_for, captured_events, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        r = send_request(client_for(alice), bob, message="hello")
    # then
    body = r.json()
    assert captured_events == [
        (
            [bob.pk],
            {
                "type": "friend.request",
                "request": {
                    "id": body["id"],
                    "from": public(alice),
                    "to": public(bob, presence="online"),
                    "message": "hello",
                    "status": "pending",
                    "created_at": body["created_at"],
                },
            },
        )
    ]


def test_refused_request_sends_no_event(
    alice, bob, client_for, friends, captured_events, django_capture_on_commit_callbacks
):
    friends(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        send_request(client_for(alice), bob)
    assert captured_events == []


def test_request_to_unknown_number_is_404(alice, client_for):
    assert_error(client_for(alice).post(REQUESTS, {"to": 99999999}, format="json"), 404, "not_found")
    assert not FriendRequest.objects.exists()


def test_request_to_deactivated_user_is_404(alice, make_user, client_for):
    gone = make_user(is_active=False)
    assert_error(send_request(client_for(alice), gone), 404, "not_found")


def test_request_to_self_is_400(alice, client_for):
    body = assert_error(send_request(client_for(alice), alice), 400, "invalid")
    assert body["fields"]
    assert not FriendRequest.objects.exists()


@pytest.mark.parametrize("body", [{}, {"to": "bob"}, {"to": None}])
def test_request_with_bad_to_is_400(alice, client_for, body):
    result = assert_error(client_for(alice).post(REQUESTS, body, format="json"), 400, "invalid")
    assert result["fields"]["to"]


def test_request_message_too_long_is_400(alice, bob, client_for):
    body = assert_error(send_request(client_for(alice), bob, message="x" * 201), 400, "invalid")
    assert body["fields"]["message"]


def test_request_to_a_friend_is_409_already_friends(alice, bob, client_for, friends):
    friends(alice, bob)
    assert_error(send_request(client_for(alice), bob), 409, "already_friends")
    assert_error(send_request(client_for(bob), alice), 409, "already_friends")
    assert not FriendRequest.objects.exists()


def test_repeated_request_is_409_request_pending(alice, bob, client_for):
    assert send_request(client_for(alice), bob).status_code == 201
    assert_error(send_request(client_for(alice), bob), 409, "request_pending")
    assert FriendRequest.objects.count() == 1


def test_request_while_one_is_pending_the_other_way_is_409(alice, bob, client_for):
    assert send_request(client_for(alice), bob).status_code == 201
    assert_error(send_request(client_for(bob), alice), 409, "request_pending")
    assert FriendRequest.objects.count() == 1


def test_request_again_after_a_decline_is_allowed(alice, bob, client_for):
    first = send_request(client_for(alice), bob).json()
    assert answer(client_for(bob), first["id"], "decline").status_code == 200
    second = send_request(client_for(alice), bob)
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]


@pytest.mark.parametrize("blocker_is_sender", [True, False])
def test_request_between_blocked_people_is_403_blocked(alice, bob, client_for, blocker_is_sender):
    # given: a block one way or the other
    blocker, blocked = (alice, bob) if blocker_is_sender else (bob, alice)
    BlockFactory(blocker=blocker, blocked=blocked)
    # when / then: neither can ask the other
    assert_error(send_request(client_for(alice), bob), 403, "blocked")
    assert_error(send_request(client_for(bob), alice), 403, "blocked")
    assert not FriendRequest.objects.exists()


# --- GET friends/requests ----------------------------------------------------------------------------


def test_pending_requests_are_listed_incoming_and_outgoing(alice, bob, carol, make_user, client_for):
    # given: bob asked alice, alice asked carol, and requests that are no longer pending
    dave, erin = make_user(), make_user()
    from_bob = send_request(client_for(bob), alice, message="hey").json()
    to_carol = send_request(client_for(alice), carol).json()
    FriendRequestFactory(from_user=dave, to_user=alice, status="declined")
    FriendRequestFactory(from_user=alice, to_user=erin, status="accepted")
    # when
    r = client_for(alice).get(REQUESTS)
    # then
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"incoming", "outgoing"}
    assert [x["id"] for x in body["incoming"]] == [from_bob["id"]]
    assert [x["id"] for x in body["outgoing"]] == [to_carol["id"]]
    incoming = body["incoming"][0]
    assert incoming["from"] == public(bob)
    assert incoming["to"] == public(alice, presence="online")
    assert incoming["message"] == "hey"
    assert incoming["status"] == "pending"
    # and each side sees it from their own end
    assert [x["id"] for x in client_for(bob).get(REQUESTS).json()["outgoing"]] == [from_bob["id"]]
    assert client_for(bob).get(REQUESTS).json()["incoming"] == []
    assert [x["id"] for x in client_for(carol).get(REQUESTS).json()["incoming"]] == [to_carol["id"]]


def test_requests_of_others_are_not_listed(alice, bob, carol, client_for):
    send_request(client_for(alice), bob)
    assert client_for(carol).get(REQUESTS).json() == {"incoming": [], "outgoing": []}


def test_answered_requests_leave_the_lists(alice, bob, carol, client_for):
    accepted = send_request(client_for(bob), alice).json()
    declined = send_request(client_for(carol), alice).json()
    answer(client_for(alice), accepted["id"], "accept")
    answer(client_for(alice), declined["id"], "decline")
    for person in (alice, bob, carol):
        assert client_for(person).get(REQUESTS).json() == {"incoming": [], "outgoing": []}


# --- accept / decline -------------------------------------------------------------------------------


def test_accept_makes_friends_on_both_sides(alice, bob, client_for):
    # given
    request = send_request(client_for(alice), bob).json()
    # when
    r = answer(client_for(bob), request["id"], "accept")
    # then
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == request["id"]
    assert body["status"] == "accepted"
    assert body["from"]["number"] == alice.number
    assert body["to"]["number"] == bob.number
    assert are_friends(alice, bob) == (True, True)
    for me, other in ((alice, bob), (bob, alice)):
        listed = client_for(me).get(FRIENDS).json()
        assert len(listed) == 1
        assert listed[0]["user"] == public(other)
        assert listed[0]["group"] == "My Friends"
        assert_recent_utc(listed[0]["since"])


def test_accept_sends_friend_accepted_to_both(
    alice, bob, client_for, captured_events, django_capture_on_commit_callbacks
):
    # given: alice is online and busy when bob accepts; bob is not online
    alice.presence = "busy"
    alice.save(update_fields=["presence"])
    socket_opened(alice.pk)
    request = send_request(client_for(alice), bob).json()
    captured_events.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        answer(client_for(bob), request["id"], "accept")
    # then: each learns about the other, with the presence a friend now sees
    assert sorted(captured_events, key=lambda e: e[0]) == sorted(
        [
            ([alice.pk], {"type": "friend.accepted", "user": public(bob)}),
            ([bob.pk], {"type": "friend.accepted", "user": public(alice, presence="busy")}),
        ],
        key=lambda e: e[0],
    )


def test_accepting_twice_is_200_and_changes_nothing(
    alice, bob, client_for, captured_events, django_capture_on_commit_callbacks
):
    request = send_request(client_for(alice), bob).json()
    assert answer(client_for(bob), request["id"], "accept").status_code == 200
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = answer(client_for(bob), request["id"], "accept")
    assert again.status_code == 200
    assert again.json()["status"] == "accepted"
    assert Friendship.objects.count() == 2
    assert captured_events == []


def test_decline_leaves_them_strangers(
    alice, bob, client_for, captured_events, django_capture_on_commit_callbacks
):
    request = send_request(client_for(alice), bob).json()
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = answer(client_for(bob), request["id"], "decline")
    assert r.status_code == 200
    assert r.json()["id"] == request["id"]
    assert r.json()["status"] == "declined"
    assert are_friends(alice, bob) == (False, False)
    assert FriendRequest.objects.get(pk=request["id"]).status == "declined"
    assert not any(e["type"] == "friend.accepted" for _, e in captured_events)


def test_declining_twice_is_200(alice, bob, client_for):
    request = send_request(client_for(alice), bob).json()
    assert answer(client_for(bob), request["id"], "decline").status_code == 200
    again = answer(client_for(bob), request["id"], "decline")
    assert again.status_code == 200
    assert again.json()["status"] == "declined"


def test_declining_an_accepted_request_is_409(alice, bob, client_for):
    request = send_request(client_for(alice), bob).json()
    answer(client_for(bob), request["id"], "accept")
    assert_error(answer(client_for(bob), request["id"], "decline"), 409, "request_not_pending")
    assert FriendRequest.objects.get(pk=request["id"]).status == "accepted"
    assert are_friends(alice, bob) == (True, True)


def test_accepting_a_declined_request_is_409(alice, bob, client_for):
    request = send_request(client_for(alice), bob).json()
    answer(client_for(bob), request["id"], "decline")
    assert_error(answer(client_for(bob), request["id"], "accept"), 409, "request_not_pending")
    assert are_friends(alice, bob) == (False, False)


@pytest.mark.parametrize("verb", ["accept", "decline"])
def test_only_the_recipient_may_answer(alice, bob, carol, client_for, verb):
    # given
    request = send_request(client_for(alice), bob).json()
    # when / then: the sender and a third person get 404, as if it did not exist
    assert_error(answer(client_for(alice), request["id"], verb), 404, "not_found")
    assert_error(answer(client_for(carol), request["id"], verb), 404, "not_found")
    assert FriendRequest.objects.get(pk=request["id"]).status == "pending"
    assert not Friendship.objects.exists()


@pytest.mark.parametrize("verb", ["accept", "decline"])
def test_answering_an_unknown_request_is_404(alice, client_for, verb):
    assert_error(answer(client_for(alice), 987654, verb), 404, "not_found")


def test_a_request_closed_by_a_block_cannot_be_accepted(alice, bob, client_for):
    request = send_request(client_for(alice), bob).json()
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    assert_error(answer(client_for(bob), request["id"], "accept"), 409, "request_not_pending")
    assert are_friends(alice, bob) == (False, False)


# --- GET/PATCH/DELETE friends ------------------------------------------------------------------------


def test_friend_list_shape(alice, bob, carol, make_user, client_for, friends):
    # given: two friends, one online and away, and a stranger
    friends(alice, bob)
    friends(alice, carol, group="Work")
    carol.presence = "away"
    carol.save(update_fields=["presence"])
    socket_opened(carol.pk)
    make_user()
    # when
    r = client_for(alice).get(FRIENDS)
    # then
    assert r.status_code == 200
    listed = r.json()
    assert isinstance(listed, list)
    assert all(set(f) == {"user", "group", "since"} for f in listed)
    by_number = {f["user"]["number"]: f for f in listed}
    assert set(by_number) == {bob.number, carol.number}
    assert by_number[bob.number]["user"] == public(bob)
    assert by_number[bob.number]["group"] == "My Friends"
    assert by_number[carol.number]["user"] == public(carol, presence="away")
    assert by_number[carol.number]["group"] == "Work"
    for f in listed:
        assert_recent_utc(f["since"])


def test_friend_list_is_empty_for_a_loner(alice, client_for):
    assert client_for(alice).get(FRIENDS).json() == []


def test_move_a_friend_to_a_group(alice, bob, client_for, friends):
    # given
    friends(alice, bob)
    # when
    r = client_for(alice).patch(f"{FRIENDS}/{bob.number}", {"group": "  Classmates "}, format="json")
    # then: the caller's side changed, the friend's did not
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == public(bob)
    assert body["group"] == "Classmates"
    assert_recent_utc(body["since"])
    assert client_for(alice).get(FRIENDS).json()[0]["group"] == "Classmates"
    assert client_for(bob).get(FRIENDS).json()[0]["group"] == "My Friends"
    assert Friendship.objects.get(user=bob, friend=alice).group == "My Friends"


def test_moving_a_non_friend_is_404(alice, bob, client_for):
    assert_error(
        client_for(alice).patch(f"{FRIENDS}/{bob.number}", {"group": "X"}, format="json"), 404, "not_found"
    )
    assert_error(
        client_for(alice).patch(f"{FRIENDS}/99999999", {"group": "X"}, format="json"), 404, "not_found"
    )


@pytest.mark.parametrize("body", [{"group": ""}, {"group": "   "}, {}, {"group": "g" * 33}])
def test_moving_to_a_bad_group_is_400(alice, bob, client_for, friends, body):
    friends(alice, bob)
    result = assert_error(
        client_for(alice).patch(f"{FRIENDS}/{bob.number}", body, format="json"), 400, "invalid"
    )
    assert result["fields"]["group"]
    assert Friendship.objects.get(user=alice, friend=bob).group == "My Friends"


def test_unfriend_removes_both_sides(alice, bob, carol, client_for, friends):
    # given
    friends(alice, bob)
    friends(alice, carol)
    # when
    r = client_for(alice).delete(f"{FRIENDS}/{bob.number}")
    # then
    assert r.status_code == 204
    assert r.content == b""
    assert are_friends(alice, bob) == (False, False)
    assert friend_numbers(client_for(alice)) == {carol.number}
    assert friend_numbers(client_for(bob)) == set()
    # and the other side cannot unfriend again
    assert_error(client_for(bob).delete(f"{FRIENDS}/{alice.number}"), 404, "not_found")


def test_unfriending_a_non_friend_is_404(alice, bob, carol, client_for, friends):
    friends(bob, carol)
    assert_error(client_for(alice).delete(f"{FRIENDS}/{bob.number}"), 404, "not_found")
    assert_error(client_for(alice).delete(f"{FRIENDS}/99999999"), 404, "not_found")
    assert are_friends(bob, carol) == (True, True)


def test_after_unfriending_they_may_ask_again(alice, bob, client_for, friends):
    friends(alice, bob)
    client_for(bob).delete(f"{FRIENDS}/{alice.number}")
    assert send_request(client_for(alice), bob).status_code == 201


# --- blocks ------------------------------------------------------------------------------------------


def test_block_answers_201_then_200(alice, bob, client_for):
    # when
    first = client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    # then
    assert first.status_code == 201
    body = first.json()
    assert set(body) == {"user", "created_at"}
    assert body["user"] == public(bob)
    assert_recent_utc(body["created_at"])
    # and blocking again changes nothing
    again = client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    assert again.status_code == 200
    assert again.json() == body
    assert Block.objects.filter(blocker=alice, blocked=bob).count() == 1


def test_block_unfriends_both_sides(alice, bob, client_for, friends):
    friends(alice, bob)
    assert client_for(alice).post(BLOCKS, {"user": bob.number}, format="json").status_code == 201
    assert are_friends(alice, bob) == (False, False)
    assert friend_numbers(client_for(alice)) == set()
    assert friend_numbers(client_for(bob)) == set()


@pytest.mark.parametrize("blocker_sent_it", [True, False])
def test_block_declines_pending_requests(alice, bob, client_for, blocker_sent_it):
    # given: a pending request one way or the other
    sender, recipient = (alice, bob) if blocker_sent_it else (bob, alice)
    request = send_request(client_for(sender), recipient).json()
    # when: alice blocks bob
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    # then
    assert FriendRequest.objects.get(pk=request["id"]).status == "declined"
    for person in (alice, bob):
        assert client_for(person).get(REQUESTS).json() == {"incoming": [], "outgoing": []}


def test_block_leaves_other_friendships_and_requests_alone(alice, bob, carol, make_user, client_for, friends):
    friends(alice, carol)
    dave = make_user()
    request = send_request(client_for(dave), alice).json()
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    assert are_friends(alice, carol) == (True, True)
    assert FriendRequest.objects.get(pk=request["id"]).status == "pending"


def test_block_unknown_number_is_404(alice, client_for):
    assert_error(client_for(alice).post(BLOCKS, {"user": 99999999}, format="json"), 404, "not_found")
    assert not Block.objects.exists()


def test_block_self_is_400(alice, client_for):
    body = assert_error(client_for(alice).post(BLOCKS, {"user": alice.number}, format="json"), 400, "invalid")
    assert body["fields"]
    assert not Block.objects.exists()


@pytest.mark.parametrize("body", [{}, {"user": "bob"}])
def test_block_with_bad_user_is_400(alice, client_for, body):
    result = assert_error(client_for(alice).post(BLOCKS, body, format="json"), 400, "invalid")
    assert result["fields"]["user"]


def test_block_list_shows_only_the_callers_blocks(alice, bob, carol, client_for):
    # given: alice blocks bob and carol; bob blocks carol
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    client_for(alice).post(BLOCKS, {"user": carol.number}, format="json")
    client_for(bob).post(BLOCKS, {"user": carol.number}, format="json")
    # when
    mine = client_for(alice).get(BLOCKS)
    # then
    assert mine.status_code == 200
    listed = mine.json()
    assert isinstance(listed, list)
    assert all(set(b) == {"user", "created_at"} for b in listed)
    assert {b["user"]["number"] for b in listed} == {bob.number, carol.number}
    assert [b["user"]["number"] for b in client_for(bob).get(BLOCKS).json()] == [carol.number]
    assert client_for(carol).get(BLOCKS).json() == []


def test_unblock_then_404(alice, bob, client_for):
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    r = client_for(alice).delete(f"{BLOCKS}/{bob.number}")
    assert r.status_code == 204
    assert not Block.objects.exists()
    assert client_for(alice).get(BLOCKS).json() == []
    assert_error(client_for(alice).delete(f"{BLOCKS}/{bob.number}"), 404, "not_found")


def test_unblock_of_someone_not_blocked_is_404(alice, bob, client_for):
    assert_error(client_for(alice).delete(f"{BLOCKS}/{bob.number}"), 404, "not_found")
    assert_error(client_for(alice).delete(f"{BLOCKS}/99999999"), 404, "not_found")


def test_unblock_allows_requests_again_but_does_not_restore_friendship(alice, bob, client_for, friends):
    friends(alice, bob)
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    client_for(alice).delete(f"{BLOCKS}/{bob.number}")
    assert are_friends(alice, bob) == (False, False)
    assert send_request(client_for(bob), alice).status_code == 201


def test_blocks_both_ways_are_independent(alice, bob, client_for):
    # given: each blocks the other
    assert client_for(alice).post(BLOCKS, {"user": bob.number}, format="json").status_code == 201
    assert client_for(bob).post(BLOCKS, {"user": alice.number}, format="json").status_code == 201
    # when: alice lifts hers
    client_for(alice).delete(f"{BLOCKS}/{bob.number}")
    # then: bob's block still stops requests both ways
    assert_error(send_request(client_for(alice), bob), 403, "blocked")
    assert_error(send_request(client_for(bob), alice), 403, "blocked")


# --- nobody sees or changes another person's requests or blocks ---------------------------------------


def test_blocked_person_cannot_lift_or_see_the_block(alice, bob, client_for):
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    assert client_for(bob).get(BLOCKS).json() == []
    assert_error(client_for(bob).delete(f"{BLOCKS}/{alice.number}"), 404, "not_found")
    assert Block.objects.filter(blocker=alice, blocked=bob).exists()


def test_third_person_cannot_lift_a_block(alice, bob, carol, client_for):
    client_for(alice).post(BLOCKS, {"user": bob.number}, format="json")
    assert_error(client_for(carol).delete(f"{BLOCKS}/{bob.number}"), 404, "not_found")
    assert Block.objects.filter(blocker=alice, blocked=bob).exists()


def test_third_person_cannot_touch_a_friendship(alice, bob, carol, client_for, friends):
    friends(alice, bob)
    assert_error(client_for(carol).delete(f"{FRIENDS}/{bob.number}"), 404, "not_found")
    assert_error(
        client_for(carol).patch(f"{FRIENDS}/{bob.number}", {"group": "X"}, format="json"), 404, "not_found"
    )
    assert are_friends(alice, bob) == (True, True)
    assert Friendship.objects.get(user=alice, friend=bob).group == "My Friends"


def test_a_request_between_others_looks_like_no_request(alice, bob, carol, client_for):
    # given
    request = send_request(client_for(alice), bob).json()
    # when / then: carol gets exactly what an unknown id gets
    for verb in ("accept", "decline"):
        mine = answer(client_for(carol), request["id"], verb)
        unknown = answer(client_for(carol), request["id"] + 1000, verb)
        assert mine.status_code == unknown.status_code == 404
        assert mine.json() == unknown.json()
    assert FriendRequest.objects.get(pk=request["id"]).status == "pending"
