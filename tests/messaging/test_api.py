"""The conversations and messages API (CONTRACT section 4)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Block, Friendship
from messaging.models import Membership, Message
from tests.api_helpers import assert_error
from tests.messaging.conftest import befriend

CONVERSATIONS = "/api/v1/conversations"


def url(conversation, tail: str = "") -> str:
    return f"{CONVERSATIONS}/{conversation.pk}{tail}"


def test_everything_needs_a_login(anon, direct):
    for response in (
        anon.get(CONVERSATIONS),
        anon.post(f"{CONVERSATIONS}/direct", {"user": 1}, format="json"),
        anon.get(url(direct, "/messages")),
        anon.get("/api/v1/messages/search?q=x"),
    ):
        assert_error(response, 401, "not_authenticated")


def test_direct_conversation_201_then_200(alice, bob, client_for):
    befriend(alice, bob)
    first = client_for(alice).post(f"{CONVERSATIONS}/direct", {"user": bob.number}, format="json")
    assert first.status_code == 201
    body = first.json()
    assert body["kind"] == "direct" and body["title"] == "Bob" and body["members_count"] == 2
    assert body["unread_count"] == 0 and body["last_message"] is None and body["my_role"] == "member"
    again = client_for(bob).post(f"{CONVERSATIONS}/direct", {"user": alice.number}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["title"] == "Alice"


def test_direct_conversation_errors(alice, bob, carol, client_for):
    api = client_for(alice)
    assert_error(api.post(f"{CONVERSATIONS}/direct", {"user": bob.number}, format="json"), 403, "not_friends")
    Block.objects.create(blocker=bob, blocked=alice)
    assert_error(api.post(f"{CONVERSATIONS}/direct", {"user": bob.number}, format="json"), 403, "blocked")
    assert_error(api.post(f"{CONVERSATIONS}/direct", {"user": 99999999}, format="json"), 404, "not_found")
    assert_error(api.post(f"{CONVERSATIONS}/direct", {"user": "x"}, format="json"), 400, "invalid")


def test_create_group_and_list(alice, bob, carol, client_for):
    befriend(alice, bob)
    befriend(alice, carol)
    api = client_for(alice)
    response = api.post(
        CONVERSATIONS,
        {"kind": "group", "title": "Hikers", "members": [bob.number, carol.number]},
        format="json",
    )
    assert response.status_code == 201
    group = response.json()
    assert (group["title"], group["members_count"], group["my_role"]) == ("Hikers", 3, "owner")
    assert [c["id"] for c in client_for(bob).get(CONVERSATIONS).json()] == [group["id"]]
    assert client_for(bob).get(CONVERSATIONS).json()[0]["my_role"] == "member"


def test_create_group_errors(alice, bob, carol, client_for):
    befriend(alice, bob)
    api = client_for(alice)
    body = {"kind": "group", "title": "G", "members": [bob.number, carol.number]}
    assert_error(api.post(CONVERSATIONS, body, format="json"), 403, "not_friends")
    assert_error(api.post(CONVERSATIONS, {**body, "kind": "direct"}, format="json"), 400, "invalid")
    assert_error(api.post(CONVERSATIONS, {**body, "title": ""}, format="json"), 400, "invalid")
    too_many = {**body, "members": list(range(10000, 10501))}
    assert_error(api.post(CONVERSATIONS, too_many, format="json"), 400, "invalid")


def test_conversation_detail_and_patch(alice, bob, carol, group, client_for):
    assert client_for(bob).get(url(group)).json()["title"] == "Hikers"
    assert_error(
        client_for(bob).patch(url(group), {"title": "Mine"}, format="json"), 403, "permission_denied"
    )
    response = client_for(alice).patch(url(group), {"title": "Climbers"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "Climbers"
    response = client_for(bob).patch(url(group), {"muted": True}, format="json")
    assert response.json()["muted"] is True
    assert client_for(alice).get(url(group)).json()["muted"] is False


def test_non_members_get_404_everywhere(alice, bob, carol, direct, send, client_for):
    message = send(alice, direct)
    api = client_for(carol)
    for response in (
        api.get(url(direct)),
        api.patch(url(direct), {"muted": True}, format="json"),
        api.get(url(direct, "/members")),
        api.get(url(direct, "/messages")),
        api.post(url(direct, "/messages"), {"body": "hi"}, format="json"),
        api.post(url(direct, "/read"), {"up_to": message.pk}, format="json"),
        api.patch(f"/api/v1/messages/{message.pk}", {"body": "x"}, format="json"),
        api.delete(f"/api/v1/messages/{message.pk}"),
        api.get(f"/api/v1/messages/search?q=hi&conversation={direct.pk}"),
        api.get(f"{CONVERSATIONS}/999999"),
    ):
        assert_error(response, 404, "not_found")


def test_members_endpoints(alice, bob, carol, group, make_user, client_for):
    dave = make_user(username="dave", display_name="Dave")
    befriend(alice, dave)
    members = client_for(bob).get(url(group, "/members")).json()
    assert [(m["user"]["number"], m["role"]) for m in members] == [
        (alice.number, "owner"),
        (bob.number, "member"),
        (carol.number, "member"),
    ]
    assert members[0]["user"]["presence"] == "offline"
    assert_error(
        client_for(bob).post(url(group, "/members"), {"members": [dave.number]}, format="json"),
        403,
        "permission_denied",
    )
    response = client_for(alice).post(url(group, "/members"), {"members": [dave.number]}, format="json")
    assert response.status_code == 200 and len(response.json()) == 4
    response = client_for(alice).patch(url(group, f"/members/{bob.number}"), {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert_error(
        client_for(bob).patch(url(group, f"/members/{carol.number}"), {"role": "admin"}, format="json"),
        403,
        "permission_denied",
    )
    assert client_for(bob).delete(url(group, f"/members/{dave.number}")).status_code == 204
    assert client_for(carol).delete(url(group, f"/members/{carol.number}")).status_code == 204
    assert_error(client_for(carol).get(url(group)), 404, "not_found")
    assert client_for(alice).get(url(group)).json()["members_count"] == 2


def test_send_and_history(alice, bob, direct, client_for):
    api = client_for(alice)
    response = api.post(url(direct, "/messages"), {"body": "<b>hi</b> ", "client_id": "c-1"}, format="json")
    assert response.status_code == 201
    message = response.json()
    assert message["body"] == "<b>hi</b> " and message["client_id"] == "c-1"
    assert message["sender"] == {"number": alice.number, "display_name": "Alice"}
    assert set(message) >= {"id", "conversation", "kind", "created_at", "edited_at", "recalled", "data"}
    repeat = api.post(url(direct, "/messages"), {"body": "other", "client_id": "c-1"}, format="json")
    assert repeat.status_code == 200 and repeat.json() == message
    for i in range(4):
        api.post(url(direct, "/messages"), {"body": f"m{i}"}, format="json")
    history = client_for(bob).get(url(direct, "/messages?limit=3")).json()
    assert [m["body"] for m in history["results"]] == ["m1", "m2", "m3"] and history["has_more"] is True
    first_id = history["results"][0]["id"]
    older = client_for(bob).get(url(direct, f"/messages?before={first_id}")).json()
    assert [m["body"] for m in older["results"]] == ["<b>hi</b> ", "m0"] and older["has_more"] is False
    newer = client_for(bob).get(url(direct, f"/messages?after={message['id']}&limit=2")).json()
    assert [m["body"] for m in newer["results"]] == ["m0", "m1"] and newer["has_more"] is True


def test_send_validation(alice, bob, direct, client_for):
    api = client_for(alice)
    for body in (
        {"body": ""},
        {"body": "x" * 4001},
        {"body": "x", "kind": "gift"},
        {"body": "x", "data": []},
    ):
        assert_error(api.post(url(direct, "/messages"), body, format="json"), 400, "invalid")
    assert_error(
        api.post(url(direct, "/messages"), "not json", content_type="application/json"), 400, "malformed"
    )


def test_send_refused_after_unfriend_and_block(alice, bob, direct, client_for):
    Friendship.objects.all().delete()
    assert_error(
        client_for(alice).post(url(direct, "/messages"), {"body": "x"}, format="json"), 403, "not_friends"
    )
    Block.objects.create(blocker=alice, blocked=bob)
    assert_error(client_for(bob).post(url(direct, "/messages"), {"body": "x"}, format="json"), 403, "blocked")


def test_sending_is_rate_limited(alice, bob, direct, client_for, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "messages": "3/minute"}
    api = client_for(alice)
    for _ in range(3):
        assert api.post(url(direct, "/messages"), {"body": "x"}, format="json").status_code == 201
    response = api.post(url(direct, "/messages"), {"body": "x"}, format="json")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert api.get(url(direct, "/messages")).status_code == 200  # reading is not limited


def test_unread_counts_and_read_markers(alice, bob, direct, send, client_for):
    messages = [send(alice, direct, f"m{i}") for i in range(3)]
    api = client_for(bob)
    assert api.get(url(direct)).json()["unread_count"] == 3
    assert api.post(url(direct, "/read"), {"up_to": messages[1].pk}, format="json").status_code == 204
    assert api.get(url(direct)).json()["unread_count"] == 1
    assert api.post(url(direct, "/read"), {"up_to": messages[0].pk}, format="json").status_code == 204
    conversation = api.get(CONVERSATIONS).json()[0]
    assert conversation["unread_count"] == 1 and conversation["last_read_id"] == messages[1].pk
    assert conversation["last_message"]["body"] == "m2"
    assert_error(api.post(url(direct, "/read"), {"up_to": -1}, format="json"), 400, "invalid")


def test_edit(alice, bob, direct, send, client_for, sticker_rules_off):
    message = send(alice, direct, "typo")
    response = client_for(alice).patch(f"/api/v1/messages/{message.pk}", {"body": "fixed"}, format="json")
    assert response.status_code == 200 and response.json()["body"] == "fixed" and response.json()["edited_at"]
    assert_error(
        client_for(bob).patch(f"/api/v1/messages/{message.pk}", {"body": "x"}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(
        client_for(alice).patch(f"/api/v1/messages/{message.pk}", {"body": " "}, format="json"),
        400,
        "invalid",
    )
    sticker = send(alice, direct, "", kind="sticker", data={"sku": "cats", "sticker": 1})
    assert_error(
        client_for(alice).patch(f"/api/v1/messages/{sticker.pk}", {"body": "x"}, format="json"),
        400,
        "not_editable",
    )


def test_recall(alice, bob, carol, group, send, client_for):
    message = send(bob, group, "oops")
    assert_error(client_for(carol).delete(f"/api/v1/messages/{message.pk}"), 403, "permission_denied")
    assert client_for(bob).delete(f"/api/v1/messages/{message.pk}").status_code == 204
    shown = client_for(carol).get(url(group, "/messages")).json()["results"][0]
    assert shown["recalled"] is True and shown["body"] == ""
    old = send(bob, group, "old")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=2, seconds=1))
    assert_error(client_for(bob).delete(f"/api/v1/messages/{old.pk}"), 403, "recall_window_passed")
    assert client_for(alice).delete(f"/api/v1/messages/{old.pk}").status_code == 204


def test_search(alice, bob, carol, direct, group, send, client_for):
    dinner = send(bob, direct, "今天晚上一起吃饭吗")
    send(alice, group, "Dinner tonight?")
    send(carol, group, "晚上好")
    response = client_for(alice).get("/api/v1/messages/search", {"q": "吃饭"})
    assert [m["id"] for m in response.json()["results"]] == [dinner.pk]
    response = client_for(alice).get("/api/v1/messages/search", {"q": "晚上"})
    assert [m["body"] for m in response.json()["results"]] == ["晚上好", "今天晚上一起吃饭吗"]  # newest first
    response = client_for(alice).get("/api/v1/messages/search", {"q": "DINNER", "conversation": group.pk})
    assert [m["body"] for m in response.json()["results"]] == ["Dinner tonight?"]
    assert client_for(carol).get("/api/v1/messages/search", {"q": "吃饭"}).json()["results"] == []
    assert_error(client_for(alice).get("/api/v1/messages/search"), 400, "invalid")


def test_trailing_slash_works_too(alice, direct, client_for):
    assert client_for(alice).get(f"{CONVERSATIONS}/").status_code == 200
    assert client_for(alice).get(url(direct, "/messages/")).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/conversations", "/api/v1/conversations/{conversation_id}/messages"]
)
def test_schema_documents_the_endpoints(client, db, path):
    schema = client.get("/api/schema/?format=json").json()
    assert path in schema["paths"]
    assert "/api/v1/messages/search" in schema["paths"]


def test_membership_roles_are_stored(alice, group):
    assert Membership.objects.get(conversation=group, user=alice).role == "owner"
