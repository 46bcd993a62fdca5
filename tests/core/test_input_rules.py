"""Input rules applied where requests enter (core.parsers, core.input_rules): U+0000, a lone
surrogate or an integer past 64 bits anywhere in a JSON body is 400 `invalid` naming the field,
JSON nested past the recursion limit is 400 `malformed`,
and ids past 64 bits in a URL match no route (404) — never a 500 (CONTRACT sections 2 and 4)."""

import json

import pytest
from django.test import Client

from core.input_rules import INTEGER_MESSAGE, NUL_MESSAGE, SURROGATE_MESSAGE, unstorable_path
from core.routes import MAX_ID
from tests.api_helpers import assert_error

pytestmark = pytest.mark.django_db


def post_json(api, path: str, raw: str):
    return api.generic("POST", path, raw, content_type="application/json")


def patch_json(api, path: str, raw: str):
    return api.generic("PATCH", path, raw, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "Al\x00ice"}, "display_name"),
        ({"signature": "ok", "display_name": "x\x00"}, "display_name"),
    ],
)
def test_nul_in_profile_text_is_invalid_and_changes_nothing(api, user, body, field):
    before = user.display_name

    response = patch_json(api, "/api/v1/me", json.dumps(body))

    fields = assert_error(response, 400, "invalid")["fields"]
    assert field in fields
    user.refresh_from_db()
    assert user.display_name == before


def test_nul_deep_inside_a_message_is_invalid_and_stores_nothing(api, user, friends, make_user):
    from messaging.models import Message

    bob = make_user()
    friends(user, bob)
    conversation = api.post("/api/v1/conversations/direct", {"user": bob.number}, format="json").json()
    raw = json.dumps({"body": "hi", "data": {"a": [{"b": "x\x00y"}]}})

    response = post_json(api, f"/api/v1/conversations/{conversation['id']}/messages", raw)

    assert assert_error(response, 400, "invalid")["fields"] == {
        "data.a.0.b": ["Text may not contain the NUL character (U+0000)."]
    }
    assert not Message.objects.exists()


def test_nul_in_an_object_key_is_invalid(api):
    response = patch_json(api, "/api/v1/me", json.dumps({"display_name": "ok", "x\x00": 1}))

    assert_error(response, 400, "invalid")


def test_json_nested_past_the_recursion_limit_is_malformed(api):
    response = patch_json(api, "/api/v1/me", "[" * 100_000 + "]" * 100_000)

    assert_error(response, 400, "malformed")


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/conversations/{MAX_ID + 1}",
        f"/api/v1/conversations/{10**30}/messages",
        f"/api/v1/messages/{10**25}",
        f"/api/v1/users/{MAX_ID + 1}",
        f"/api/v1/coins/topups/{10**40}",
    ],
)
def test_ids_past_64_bits_in_the_url_are_404(api, path):
    assert_error(api.get(path), 404, "not_found")


def test_the_largest_64_bit_id_is_an_ordinary_miss(api):
    assert_error(api.get(f"/api/v1/conversations/{MAX_ID}"), 404, "not_found")


def test_unstorable_path_names_the_first_offending_place():
    assert unstorable_path({"a": [1, {"b": "ok"}, "x\x00"]}) == ("a.2", NUL_MESSAGE)
    assert unstorable_path({"a": {"b": "fine"}, "n": [2**63 - 1, -(2**63), True, 1.5]}) is None
    assert unstorable_path("\x00") == ("non_field_errors", NUL_MESSAGE)
    assert unstorable_path({"a": ["\ud800"]}) == ("a.0", SURROGATE_MESSAGE)
    assert unstorable_path({"a": {"b": 2**63}}) == ("a.b", INTEGER_MESSAGE)
    assert unstorable_path({"a": -(2**63) - 1}) == ("a", INTEGER_MESSAGE)
    deep: list = []
    node = deep
    for _ in range(50_000):  # far past the recursion limit: the walk is iterative
        node.append([])
        node = node[0]
    node.append("\x00")
    assert unstorable_path(deep) is not None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsafe_methods_on_a_path_no_route_matches_are_404_not_csrf(method):
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")  # a browser with cookies: CSRF would refuse it if the route existed

    response = client.generic(
        method, "/api/v1/conversations/%C2%84/read", "{}", content_type="application/json"
    )

    assert_error(response, 404, "not_found")


def test_a_lone_surrogate_in_a_money_request_is_invalid_not_a_crash(api, user, friends, make_user):
    bob = make_user()
    friends(user, bob)
    raw = '{"to": NUMBER, "amount": 1, "memo": "\\ud800"}'.replace("NUMBER", str(bob.number))

    response = api.generic(
        "POST", "/api/v1/coins/transfers", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert assert_error(response, 400, "invalid")["fields"] == {"memo": [SURROGATE_MESSAGE]}


@pytest.mark.parametrize("number", [2**63, 2**64, -(2**63) - 1])
def test_integers_past_64_bits_in_a_body_are_invalid(api, number):
    raw = json.dumps({"kind": "group", "title": "t", "members": [number]})

    response = post_json(api, "/api/v1/conversations", raw)

    assert assert_error(response, 400, "invalid")["fields"] == {"members.0": [INTEGER_MESSAGE]}
