"""The authorization matrix (issue 13, item 2): every API route and method the URL configuration
has, called as anonymous, as a stranger, as a former group member (one who left, one who was
removed), as a member and as the owner, against the contract's answer for each (CONTRACT
sections 2-6: no login is 401 `not_authenticated`; another user's things are 404 `not_found`,
exactly as if they did not exist).

The routes come from `get_resolver()`, not from this file: a route or method without a row in
ROWS fails `test_every_route_has_a_row` ("add a row for ..."), so a new endpoint cannot ship
without its authorization being decided here.
"""

import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from PIL import Image
from rest_framework.test import APIClient

from messaging.models import Membership
from tests.api_helpers import assert_error
from tests.coins.payment_support import event_for, signature
from tests.conftest import token_for
from tests.factories import PASSWORD
from tests.security.world import (
    ACTORS,
    AFTER_TEXT,
    BEFORE_TEXT,
    OUTSIDERS,
    OWNERS_BUBBLE,
    World,
    build_world,
)

API_PREFIX = "api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")

Expected = int | tuple[int, str]  # a status, or a status and the error's code


@dataclass(frozen=True)
class Row:
    """How to call one (route name, method) and what each actor gets."""

    path: Callable[[World], str]
    expect: dict[str, Expected]
    body: Callable[[World, str], Any] | None = None  # (world, actor) -> request body
    money: bool = False  # needs an Idempotency-Key
    multipart: bool = False
    then: Callable[[World, str, Any], None] | None = None  # (world, actor, response): more checks
    query: dict[str, str] = field(default_factory=dict)


# --- Expectations --------------------------------------------------------------------------------

NOT_AUTHENTICATED = (401, "not_authenticated")
NOT_FOUND = (404, "not_found")
FORBIDDEN = (403, "permission_denied")


def open_to_all(status: Expected) -> dict[str, Expected]:
    """No login needed (sign-up, log-in, the provider's webhook)."""
    return dict.fromkeys(ACTORS, status)


def own(status: Expected) -> dict[str, Expected]:
    """The caller's own things: everyone logged in gets them."""
    return {**dict.fromkeys(ACTORS, status), "anonymous": NOT_AUTHENTICATED}


def group_thing(owner: Expected, member: Expected) -> dict[str, Expected]:
    """The group's things: visible to its members only; to everyone else they do not exist."""
    expect = {**dict.fromkeys(ACTORS, NOT_FOUND), "anonymous": NOT_AUTHENTICATED}
    return {**expect, "owner": owner, "member": member}


def owners_thing(status: Expected) -> dict[str, Expected]:
    """The owner's own object (top-up, block, friend, incoming request): 404 to anyone else."""
    return group_thing(owner=status, member=NOT_FOUND)


# --- Request bodies -------------------------------------------------------------------------------


def png() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(out, format="PNG")
    return SimpleUploadedFile("a.png", out.getvalue(), content_type="image/png")


def friend_of(w: World, actor: str) -> int:
    """Someone the actor is friends with (the stranger has no friend: the owner, refused)."""
    return w.member.number if actor == "owner" else w.owner.number


def sees_no_message_said_after_leaving(w: World, actor: str, response: Any) -> None:
    bodies = {m["body"] for m in response.json()["results"]}
    if actor in OUTSIDERS:
        assert AFTER_TEXT not in bodies, f"{actor} found a message of a group they are not in"
    else:
        assert AFTER_TEXT in bodies


def group_not_listed_to_outsiders(w: World, actor: str, response: Any) -> None:
    ids = {c["id"] for c in response.json()}
    assert (w.group.pk in ids) == (actor in ("owner", "member")), ids


def group_not_in_search(w: World, actor: str, response: Any) -> None:
    conversations = {m["conversation"] for m in response.json()["results"]}
    assert (w.group.pk in conversations) == (actor in ("owner", "member")), conversations


def history_of_both_messages(w: World, actor: str, response: Any) -> None:
    texts = [m["body"] for m in response.json()["results"] if m["kind"] == "text"]
    assert texts == [BEFORE_TEXT, AFTER_TEXT], texts


def red_packet_body(w: World, actor: str) -> dict:
    return {"total": 10, "count": 1, "mode": "equal"}


def group_path(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/conversations/{w.group.pk}{suffix}"


# --- The matrix: (route name, method) -> row ------------------------------------------------------

ROWS: dict[tuple[str, str], Row] = {
    # Accounts (section 3)
    ("auth-register", "post"): Row(
        lambda w: "/api/v1/auth/register",
        open_to_all(201),
        body=lambda w, actor: {"username": f"new_{actor}", "password": PASSWORD},
    ),
    ("auth-token", "post"): Row(
        lambda w: "/api/v1/auth/token",
        open_to_all(200),
        body=lambda w, actor: {"username": w.owner.username, "password": PASSWORD},
    ),
    ("auth-logout", "post"): Row(lambda w: "/api/v1/auth/logout", own(204)),
    ("me", "get"): Row(lambda w: "/api/v1/me", own(200)),
    ("me", "patch"): Row(lambda w: "/api/v1/me", own(200), body=lambda w, a: {"signature": "hi"}),
    ("me-password", "post"): Row(
        lambda w: "/api/v1/me/password",
        own(204),
        body=lambda w, a: {"old_password": PASSWORD, "new_password": "Another-Horse-88-staple"},
    ),
    ("me-avatar", "put"): Row(
        lambda w: "/api/v1/me/avatar", own(200), body=lambda w, a: {"avatar": png()}, multipart=True
    ),
    ("user-search", "get"): Row(lambda w: "/api/v1/users", own(200), query={"q": "user"}),
    ("user-detail", "get"): Row(lambda w: f"/api/v1/users/{w.owner.number}", own(200)),
    ("friend-list", "get"): Row(lambda w: "/api/v1/friends", own(200)),
    ("friend-request-list", "get"): Row(lambda w: "/api/v1/friends/requests", own(200)),
    ("friend-request-list", "post"): Row(
        lambda w: "/api/v1/friends/requests", own(201), body=lambda w, a: {"to": w.nobody.number}
    ),
    ("friend-request-accept", "post"): Row(
        lambda w: f"/api/v1/friends/requests/{w.friend_request.pk}/accept", owners_thing(200)
    ),
    ("friend-request-decline", "post"): Row(
        lambda w: f"/api/v1/friends/requests/{w.friend_request.pk}/decline", owners_thing(200)
    ),
    # The owner's friend `newcomer`: nobody else's friend.
    ("friend-detail", "patch"): Row(
        lambda w: f"/api/v1/friends/{w.newcomer.number}",
        owners_thing(200),
        body=lambda w, a: {"group": "Work"},
    ),
    ("friend-detail", "delete"): Row(lambda w: f"/api/v1/friends/{w.newcomer.number}", owners_thing(204)),
    ("block-list", "get"): Row(lambda w: "/api/v1/blocks", own(200)),
    ("block-list", "post"): Row(
        lambda w: "/api/v1/blocks", own(201), body=lambda w, a: {"user": w.nobody.number}
    ),
    ("block-detail", "delete"): Row(lambda w: f"/api/v1/blocks/{w.blocked.number}", owners_thing(204)),
    # Conversations and messages (section 4)
    ("conversation-list", "get"): Row(
        lambda w: "/api/v1/conversations", own(200), then=group_not_listed_to_outsiders
    ),
    ("conversation-list", "post"): Row(
        lambda w: "/api/v1/conversations",
        own(201),
        body=lambda w, a: {"kind": "group", "title": "Mine", "members": []},
    ),
    # The owner and the member have theirs already (200); the stranger has no friend to open one with.
    ("conversation-direct", "post"): Row(
        lambda w: "/api/v1/conversations/direct",
        {
            "anonymous": NOT_AUTHENTICATED,
            "stranger": (403, "not_friends"),
            "left": 201,
            "removed": 201,
            "member": 200,
            "owner": 200,
        },
        body=lambda w, actor: {"user": friend_of(w, actor)},
    ),
    ("conversation-detail", "get"): Row(group_path(), group_thing(owner=200, member=200)),
    ("conversation-detail", "patch"): Row(
        group_path(), group_thing(owner=200, member=FORBIDDEN), body=lambda w, a: {"title": "Renamed"}
    ),
    ("conversation-member-list", "get"): Row(group_path("/members"), group_thing(owner=200, member=200)),
    ("conversation-member-list", "post"): Row(
        group_path("/members"),
        group_thing(owner=200, member=FORBIDDEN),
        body=lambda w, a: {"members": [w.newcomer.number]},
    ),
    ("conversation-member-detail", "patch"): Row(
        lambda w: f"/api/v1/conversations/{w.group.pk}/members/{w.member.number}",
        group_thing(owner=200, member=FORBIDDEN),
        body=lambda w, a: {"role": "admin"},
    ),
    # The member removing themself is leaving.
    ("conversation-member-detail", "delete"): Row(
        lambda w: f"/api/v1/conversations/{w.group.pk}/members/{w.member.number}",
        group_thing(owner=204, member=204),
    ),
    # The member sees the history from when they joined: both messages, said after they did.
    ("conversation-messages", "get"): Row(
        group_path("/messages"), group_thing(owner=200, member=200), then=history_of_both_messages
    ),
    ("conversation-messages", "post"): Row(
        group_path("/messages"), group_thing(owner=201, member=201), body=lambda w, a: {"body": "hello"}
    ),
    ("conversation-read", "post"): Row(
        group_path("/read"), group_thing(owner=204, member=204), body=lambda w, a: {"up_to": w.after.pk}
    ),
    ("message-search", "get"): Row(
        lambda w: "/api/v1/messages/search", own(200), query={"q": "said"}, then=group_not_in_search
    ),
    # The owner's message in the group: the member sees it but may not change it.
    ("message-detail", "patch"): Row(
        lambda w: f"/api/v1/messages/{w.after.pk}",
        group_thing(owner=200, member=FORBIDDEN),
        body=lambda w, a: {"body": "edited"},
    ),
    ("message-detail", "delete"): Row(
        lambda w: f"/api/v1/messages/{w.after.pk}", group_thing(owner=204, member=FORBIDDEN)
    ),
    # Coins (section 5)
    ("coins-wallet", "get"): Row(lambda w: "/api/v1/coins/wallet", own(200)),
    ("coins-transactions", "get"): Row(lambda w: "/api/v1/coins/transactions", own(200)),
    ("coins-packages", "get"): Row(lambda w: "/api/v1/coins/packages", own(200)),
    ("coins-topups", "get"): Row(lambda w: "/api/v1/coins/topups", own(200)),
    ("coins-topups", "post"): Row(
        lambda w: "/api/v1/coins/topups",
        own(201),
        body=lambda w, a: {"package": w.topup.package_id},
        money=True,
    ),
    ("coins-topup-detail", "get"): Row(lambda w: f"/api/v1/coins/topups/{w.topup.pk}", owners_thing(200)),
    ("coins-transfers", "post"): Row(
        lambda w: "/api/v1/coins/transfers",
        {**own(201), "stranger": (403, "not_friends")},
        body=lambda w, actor: {"to": friend_of(w, actor), "amount": 1},
        money=True,
    ),
    # Authenticated by the provider's signature alone, whoever else the caller is.
    ("payments-webhook", "post"): Row(
        lambda w: "/api/v1/payments/webhook/sandbox",
        open_to_all(200),
        body=lambda w, a: event_for(w.topup),
    ),
    # Store and red packets (section 6)
    ("store-items", "get"): Row(lambda w: "/api/v1/store/items", own(200)),
    ("store-purchases", "get"): Row(lambda w: "/api/v1/store/purchases", own(200)),
    ("store-purchases", "post"): Row(
        lambda w: "/api/v1/store/purchases", own(201), body=lambda w, a: {"sku": "stickers-faces"}, money=True
    ),
    ("store-inventory", "get"): Row(lambda w: "/api/v1/store/inventory", own(200)),
    ("store-vip", "get"): Row(lambda w: "/api/v1/store/vip", own(200)),
    # Only the owner ever had a membership to switch.
    ("store-vip", "patch"): Row(
        lambda w: "/api/v1/store/vip", owners_thing(200), body=lambda w, a: {"auto_renew": False}
    ),
    ("store-style", "get"): Row(lambda w: "/api/v1/store/style", own(200)),
    # The owner's bubble: no one else holds it.
    ("store-style", "patch"): Row(
        lambda w: "/api/v1/store/style",
        {**own((403, "not_owned")), "owner": 200},
        body=lambda w, a: {"bubble": OWNERS_BUBBLE},
    ),
    # Everyone holds a rose: only being in the group decides.
    ("store-gift-send", "post"): Row(
        group_path("/gifts"), group_thing(owner=201, member=201), body=lambda w, a: {"sku": "gift-rose"}
    ),
    ("red-packet-send", "post"): Row(
        group_path("/red-packets"), group_thing(owner=201, member=201), body=red_packet_body, money=True
    ),
    ("red-packet-detail", "get"): Row(
        lambda w: f"/api/v1/red-packets/{w.red_packet.pk}", group_thing(owner=200, member=200)
    ),
    # The member sent it: in a group the sender may not claim.
    ("red-packet-claim", "post"): Row(
        lambda w: f"/api/v1/red-packets/{w.red_packet.pk}/claim",
        group_thing(owner=200, member=(403, "sender_cannot_claim")),
    ),
}


# --- The routes, from the URL configuration -----------------------------------------------------


def _walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _allowed_methods(pattern: URLPattern, route: str) -> set[str]:
    view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if view_class is not None:
        return {m for m in METHODS if hasattr(view_class, m)}
    # A plain function view: whatever it does not answer 405 (no arguments matter for that).
    path = "/" + route.replace("<slug:provider_name>", "sandbox")
    client = Client()
    return {m for m in METHODS if getattr(client, m)(path).status_code != 405}


def api_routes() -> dict[tuple[str, str], str]:
    """(route name, method) -> route, for every route under /api/v1/ (both slash spellings share
    a name)."""
    found: dict[tuple[str, str], str] = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(API_PREFIX):
            assert pattern.name, f"{route} has no name: name it so the matrix can refer to it"
            for method in _allowed_methods(pattern, route):
                found.setdefault((pattern.name, method), route)
    return found


@pytest.mark.django_db
def test_every_route_has_a_row() -> None:
    routes = api_routes()
    missing = sorted(set(routes) - set(ROWS))
    assert not missing, "\n".join(
        f"add a row for ({name!r}, {method!r}) ({method.upper()} /{routes[(name, method)]}) "
        "to ROWS in tests/security/test_authz_matrix.py"
        for name, method in missing
    )
    stale = sorted(set(ROWS) - set(routes))
    assert not stale, f"rows for routes or methods that no longer exist: {stale}"
    for key, row in ROWS.items():
        assert set(row.expect) == set(ACTORS), f"{key}: expectations for {set(ACTORS) - set(row.expect)}"


@pytest.mark.django_db
def test_rows_call_their_own_route() -> None:
    """Each row's path resolves to the route it is keyed by (a typo would test another endpoint)."""
    w = build_world()
    for (name, _method), row in ROWS.items():
        assert resolve(row.path(w)).url_name == name, f"{name}: {row.path(w)}"


# --- Calling ---------------------------------------------------------------------------------------


def _client_for(w: World, actor: str) -> APIClient:
    client = APIClient()
    user = w.user(actor)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def call(w: World, actor: str, method: str, row: Row) -> Any:
    client = _client_for(w, actor)
    path = row.path(w)
    headers: dict[str, str] = {}
    if row.money:
        headers["HTTP_IDEMPOTENCY_KEY"] = str(uuid.uuid4())
    body = row.body(w, actor) if row.body else None
    if path.startswith("/api/v1/payments/webhook/"):
        raw = json.dumps(body).encode()
        return client.post(
            path, raw, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=signature(raw)
        )
    if method == "get":
        return client.get(path, row.query, **headers)
    if row.multipart:
        return getattr(client, method)(path, body, format="multipart", **headers)
    return getattr(client, method)(path, body, format="json", **headers)


def _check(response: Any, expected: Expected, where: str) -> None:
    if isinstance(expected, tuple):
        status, code = expected
        try:
            assert_error(response, status, code)
        except AssertionError as exc:
            raise AssertionError(
                f"{where}: expected {status} {code}, got {response.status_code} {response.content[:300]!r}"
            ) from exc
    else:
        assert response.status_code == expected, (
            f"{where}: expected {expected}, got {response.status_code} {response.content[:300]!r}"
        )


ROW_IDS = [f"{method.upper()}-{name}" for name, method in sorted(ROWS)]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), sorted(ROWS), ids=ROW_IDS)
def test_authorization(name: str, method: str) -> None:
    """Each actor calls the route on the same world; each call is rolled back afterwards, so what
    one actor changes (a deletion, a leave) is not what the next one sees. Every actor's outcome
    is checked before the test fails, so one run shows the whole row."""
    w = build_world()
    row = ROWS[(name, method)]
    failures = []
    for actor in ACTORS:
        with transaction.atomic():
            response = call(w, actor, method, row)
            try:
                _check(response, row.expect[actor], f"{method.upper()} {name} as {actor}")
                if row.then is not None and 200 <= response.status_code < 300:
                    row.then(w, actor, response)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_former_members_are_really_gone() -> None:
    """The world is what the matrix assumes: the former members hold no membership any more."""
    w = build_world()
    members = set(Membership.objects.filter(conversation=w.group).values_list("user_id", flat=True))
    assert members == {w.owner.pk, w.member.pk}
