"""Hostile input is refused or made harmless, and nothing is half-written (issue 13, item 3).

- Unicode tricks in names and labels (core.text_rules): bidi controls, zero-width and other
  invisible characters, control characters, blank letters and "Zalgo" marks in display names,
  signatures, buddy-group names, group titles, red-packet greetings and transfer memos are 400
  `invalid` naming the field, and nothing changes; emoji sequences, Persian and Indic joiners and
  flag tags (where those characters do real work) are kept.
- Usernames are NFKC-normalised and may not pass for an existing one (case, full-width letters,
  Cyrillic or Greek look-alikes).
- Money: zero, negative, fractional, string, boolean and huge amounts, counts, quantities and
  package ids are 400 with nothing written (no transaction, entry, purchase, red packet, top-up or
  message), wherever coins move.
- Sockets against real servers (daphne and bin/serve, as in production): invalid UTF-8 closes with
  1007, a frame over 64 KiB with 1009, a binary frame with 1003; a hostile JSON frame (huge or
  negative numbers, NUL, deep nesting, bidi text in a field that names nothing) is answered and
  the socket stays open; nothing is stored.
"""

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Friendship, User
from coins.models import Entry, Topup, TopupPackage, Transaction
from core import text_rules
from messaging.conversations import conversation_direct_open, conversation_group_create
from messaging.models import Conversation, Message
from redpackets.models import RedPacket
from store.demo import seed_store_catalog
from store.models import Entitlement, Purchase
from tests.api_helpers import assert_error
from tests.coins.helpers import grant
from tests.conftest import token_for
from tests.factories import PASSWORD, UserFactory, make_friends
from tests.messaging.processes import expect, free_port, start_daphne, stop, test_database_url

# --- The rules themselves -----------------------------------------------------------------------

RLO, LRI, PDI, LRM, ALM = "\u202e", "\u2066", "\u2069", "\u200e", "\u061c"
ZWSP, ZWNJ, ZWJ, WORD_JOINER, BOM, SOFT_HYPHEN = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"

# Each is refused in every name and label; the ids say what the trick is.
TRICKS: dict[str, str] = {
    "right-to-left-override": f"Alice{RLO}gpj.exe",
    "isolate": f"{LRI}Alice{PDI}",
    "left-to-right-mark": f"Ali{LRM}ce",
    "arabic-letter-mark": f"Ali{ALM}ce",
    "zero-width-space": f"Ali{ZWSP}ce",
    "zero-width-joiner-in-latin": f"Ali{ZWJ}ce",
    "zero-width-non-joiner-in-latin": f"Ali{ZWNJ}ce",
    "joiner-at-the-end": f"Alice{ZWJ}",
    "word-joiner": f"Ali{WORD_JOINER}ce",
    "byte-order-mark": f"{BOM}Alice",
    "soft-hyphen": f"Ali{SOFT_HYPHEN}ce",
    "bell": "Ali\x07ce",
    "line-break": "Ali\nce",
    "tab": "Ali\tce",
    "line-separator": "Ali\u2028ce",
    "hangul-filler": "\u3164",
    "blank-braille": "\u2800\u2800",
    "stray-tag-letter": "Alice\U000e0041",
    "zalgo": "A" + "\u0301\u0300\u0302\u0303\u0304\u0305" + "lice",
    "marks-only": "\u0301\u0301",
}

# Each is kept wherever a name or label is stored.
KEPT: dict[str, str] = {
    "emoji-family": f"Dad \U0001f468{ZWJ}\U0001f469{ZWJ}\U0001f467",
    "rainbow-flag": f"\U0001f3f3\ufe0f{ZWJ}\U0001f308 pride",
    "skin-tone-profession": f"\U0001f9d1\U0001f3fd{ZWJ}\U0001f4bb coder",
    "persian-non-joiner": f"\u0645\u06cc{ZWNJ}\u062e\u0648\u0627\u0647\u0645",
    "devanagari-joiner": f"\u0915\u094d{ZWJ}\u0937",
    "scotland-flag": "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Alba",
    "accents": "Zoe\u0308 Ng\u00f4 Vi\u1ec7t",
    "chinese": "张三 🧧",
    "keycap": "1\ufe0f\u20e3 first",
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_every_trick_is_refused_by_the_rule(trick: str) -> None:
    assert text_rules.name_problem(TRICKS[trick]) is not None


@pytest.mark.parametrize("kept", sorted(KEPT))
def test_what_the_joiners_are_for_is_kept_by_the_rule(kept: str) -> None:
    assert text_rules.name_problem(KEPT[kept]) is None


def test_the_username_skeleton_sees_through_case_width_and_look_alikes() -> None:
    skeleton = text_rules.username_skeleton
    assert skeleton("ALICE") == skeleton("\uff41\uff4c\uff49\uff43\uff45") == skeleton("alice")
    assert skeleton("\u0430lice") == skeleton("\u0391lice") == "alice"  # Cyrillic a, Greek Alpha
    assert skeleton("\u0455\u0441\u043e\u0440\u0435") == "scope"  # all Cyrillic
    assert skeleton("Stra\u00dfe") == skeleton("STRASSE")
    assert text_rules.username_problem("\u0430lice") is not None  # Latin with a look-alike
    assert text_rules.username_problem("\u03a9mega") is None  # Omega looks like no Latin letter
    assert text_rules.username_problem("\u0455\u0441\u043e\u0440\u0435") is None  # one script


# --- Names and labels over HTTP ------------------------------------------------------------------


class World:
    """Alice (the caller) with a friend, a group, coins; what a refused request must not change."""

    def __init__(self, client_for: Callable[[User], APIClient]) -> None:
        self.alice = UserFactory(username="alice", display_name="Alice", signature="hi")
        self.bob = UserFactory(username="bob", display_name="Bob")
        make_friends(self.alice, self.bob)
        self.group = conversation_group_create(
            user=self.alice, title="Team", member_numbers=[self.bob.number]
        )
        self.direct, _ = conversation_direct_open(user=self.alice, number=self.bob.number)
        grant(self.alice, 10_000)
        self.package = TopupPackage.objects.create(coins=60, price_minor=600, currency="CNY")
        seed_store_catalog()
        self.client = client_for(self.alice)
        self.anon = APIClient()

    def snapshot(self) -> dict[str, Any]:
        """Everything a refused request might have half-written."""
        return {
            "users": list(User.objects.order_by("pk").values_list("username", "display_name", "signature")),
            "buddy_groups": list(Friendship.objects.order_by("pk").values_list("group", flat=True)),
            "conversations": list(Conversation.objects.order_by("pk").values_list("title", flat=True)),
            "messages": Message.objects.count(),
            "transactions": Transaction.objects.count(),
            "entries": Entry.objects.count(),
            "purchases": Purchase.objects.count(),
            "entitlements": list(Entitlement.objects.order_by("pk").values_list("item_id", "quantity")),
            "red_packets": RedPacket.objects.count(),
            "topups": Topup.objects.count(),
        }

    def send(self, method: str, path: str, body: dict, *, anonymous: bool = False) -> Any:
        client = self.anon if anonymous else self.client
        headers = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
        return client.generic(
            method, f"/api/v1/{path}", json.dumps(body), content_type="application/json", **headers
        )


@pytest.fixture
def world(db: None, client_for: Callable[[User], APIClient], settings: Any) -> World:
    settings.RATE_LIMITS = {name: "100000/second" for name in settings.RATE_LIMITS}
    return World(client_for)


# (method, path, body with the text as {}, the field named in the error, anonymous)
PLACES: dict[str, Callable[[World, str], tuple[str, str, dict, str, bool]]] = {
    "register-display-name": lambda w, text: (
        "POST",
        "auth/register",
        {"username": f"new_{uuid.uuid4().hex[:8]}", "password": PASSWORD, "display_name": text},
        "display_name",
        True,
    ),
    "profile-display-name": lambda w, text: ("PATCH", "me", {"display_name": text}, "display_name", False),
    "profile-signature": lambda w, text: ("PATCH", "me", {"signature": text}, "signature", False),
    "buddy-group": lambda w, text: ("PATCH", f"friends/{w.bob.number}", {"group": text}, "group", False),
    "new-group-title": lambda w, text: (
        "POST",
        "conversations",
        {"kind": "group", "title": text, "members": [w.bob.number]},
        "title",
        False,
    ),
    "group-rename": lambda w, text: ("PATCH", f"conversations/{w.group.pk}", {"title": text}, "title", False),
    "red-packet-greeting": lambda w, text: (
        "POST",
        f"conversations/{w.group.pk}/red-packets",
        {"total": 10, "count": 1, "mode": "random", "greeting": text},
        "greeting",
        False,
    ),
    "transfer-memo": lambda w, text: (
        "POST",
        "coins/transfers",
        {"to": w.bob.number, "amount": 5, "memo": text},
        "memo",
        False,
    ),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_unicode_tricks_in_names_and_labels_are_400_invalid_and_change_nothing(
    world: World, place: str
) -> None:
    before = world.snapshot()
    for trick, text in TRICKS.items():
        method, path, body, field, anonymous = PLACES[place](world, text)

        response = world.send(method, path, body, anonymous=anonymous)

        assert response.status_code == 400, (trick, response.content)
        error = assert_error(response, 400, "invalid")
        assert field in error["fields"], (trick, error)
        assert world.snapshot() == before, trick


def _stored(place: str, world: World, body: dict, answer: dict) -> str:
    """The text the request in `place` stored."""
    if place == "register-display-name":
        return User.objects.get(username=body["username"]).display_name
    if place == "profile-display-name":
        return User.objects.get(pk=world.alice.pk).display_name
    if place == "profile-signature":
        return User.objects.get(pk=world.alice.pk).signature
    if place == "buddy-group":
        return Friendship.objects.get(user=world.alice, friend=world.bob).group
    if place in ("new-group-title", "group-rename"):
        return Conversation.objects.get(pk=answer["id"]).title
    if place == "red-packet-greeting":
        return RedPacket.objects.get(pk=answer["id"]).greeting
    return Transaction.objects.get(pk=answer["transaction"]).memo


@pytest.mark.parametrize("place", sorted(PLACES))
def test_emoji_sequences_joiners_and_flags_are_kept_as_typed(world: World, place: str) -> None:
    for kept, text in KEPT.items():
        method, path, body, _field, anonymous = PLACES[place](world, text)

        response = world.send(method, path, body, anonymous=anonymous)

        assert response.status_code in (200, 201), (kept, response.content)
        stored = _stored(place, world, body, response.json())
        assert stored == text.strip(), kept


def test_message_bodies_keep_what_was_typed(world: World) -> None:
    # Bodies are the user's text (escaped on output; the page isolates them): a bidi override
    # and a zero-width space in a message are stored and returned as typed.
    body = f"look {RLO}here{ZWSP} {ZWJ}"
    response = world.send("POST", f"conversations/{world.direct.pk}/messages", {"body": body})
    assert response.status_code == 201, response.content
    assert response.json()["body"] == body


def test_the_chat_page_isolates_names_and_bodies() -> None:
    # A bidi control in a body must not reorder the page around it.
    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "chat.css").read_text()
    rule = css[css.index(".msg-body, .msg-author-name") :]
    rule = rule[: rule.index("}")]
    assert "unicode-bidi: plaintext" in rule
    for selector in (".msg-body", ".msg-author-name", ".conversation-title", ".preview", ".friend-name"):
        assert selector in rule, selector


# --- Usernames -------------------------------------------------------------------------------------


def _register(client: APIClient, username: str) -> Any:
    return client.post("/api/v1/auth/register", {"username": username, "password": PASSWORD}, format="json")


@pytest.mark.parametrize(
    ("username", "why"),
    [
        ("ALICE", "case"),
        ("\uff41\uff4c\uff49\uff43\uff45", "full-width"),
        ("\u0455\u0441\u043e\u0440\u0435", "all-cyrillic look-alike of scope"),
        ("SC\u041ePE", "cyrillic O among Latin capitals"),
    ],
    ids=["case", "full-width", "cyrillic-look-alike", "mixed-capitals"],
)
def test_a_username_that_looks_like_a_taken_one_is_refused(world: World, username: str, why: str) -> None:
    UserFactory(username="scope")
    before = world.snapshot()

    response = _register(world.anon, username)

    error = assert_error(response, 400, "invalid")
    assert "username" in error["fields"], why
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "username",
    ["\u0430lice2", "b\u043eb_smith", "\u0391lpha", f"al{ZWJ}ice2", f"al{RLO}ice2", "\u337f" * 40],
    ids=["cyrillic-a", "cyrillic-o", "greek-alpha", "zero-width-joiner", "bidi-override", "nfkc-too-long"],
)
def test_a_username_with_tricks_is_refused(world: World, username: str) -> None:
    before = world.snapshot()

    error = assert_error(_register(world.anon, username), 400, "invalid")

    assert "username" in error["fields"]
    assert world.snapshot() == before


def test_a_username_is_stored_nfkc_and_logs_in_however_it_is_typed(world: World) -> None:
    response = _register(world.anon, "\uff42\uff4f\uff42\uff42\uff59")  # full-width "bobby"

    assert response.status_code == 201, response.content
    assert response.json()["username"] == "bobby"
    for typed in ("bobby", "BOBBY", "\uff42\uff4f\uff42\uff42\uff59"):
        login = world.anon.post(
            "/api/v1/auth/token", {"username": typed, "password": PASSWORD}, format="json"
        )
        assert login.status_code == 200, (typed, login.content)


def test_other_scripts_are_welcome_in_usernames(world: World) -> None:
    for username in ("\u5f20\u4e09", "\u0438\u0432\u0430\u043d", "\u03a9mega", "\u0645\u062d\u0645\u062f"):
        response = _register(world.anon, username)
        assert response.status_code == 201, (username, response.content)


# --- Money: amounts, counts, quantities, package ids ----------------------------------------------

HUGE = 2**63  # past 64 bits: refused by the JSON parser (core.input_rules)
BAD_NUMBERS: dict[str, Any] = {
    "zero": 0,
    "negative": -1,
    "most-negative": -(2**63),
    "past-64-bits": HUGE,
    "far-past-64-bits": 10**40,
    "fraction": 1.5,
    "whole-float": 5.0,
    "string": "5",
    "boolean": True,
    "null": None,
    "list": [5],
}

# (method, path, a valid body, the field to spoil)
MONEY: dict[str, Callable[[World], tuple[str, str, dict, str]]] = {
    "transfer-amount": lambda w: ("POST", "coins/transfers", {"to": w.bob.number, "amount": 5}, "amount"),
    "purchase-quantity": lambda w: (
        "POST",
        "store/purchases",
        {"sku": "gift-rose", "quantity": 2},
        "quantity",
    ),
    "red-packet-total": lambda w: (
        "POST",
        f"conversations/{w.group.pk}/red-packets",
        {"total": 10, "count": 1, "mode": "random"},
        "total",
    ),
    "red-packet-count": lambda w: (
        "POST",
        f"conversations/{w.group.pk}/red-packets",
        {"total": 10, "count": 1, "mode": "random"},
        "count",
    ),
    "topup-package": lambda w: ("POST", "coins/topups", {"package": w.package.pk}, "package"),
}


@pytest.mark.parametrize("where", sorted(MONEY))
def test_bad_numbers_where_money_moves_are_400_with_nothing_written(world: World, where: str) -> None:
    method, path, good, field = MONEY[where](world)
    before = world.snapshot()
    for name, value in BAD_NUMBERS.items():
        response = world.send(method, path, {**good, field: value})

        assert response.status_code == 400, (name, response.content)
        assert response.json()["code"] == "invalid", (name, response.json())
        assert world.snapshot() == before, name
    # the valid body goes through, so the refusals above were about the number
    assert world.send(method, path, good).status_code == 201


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("transfer-amount", 1_000_001),  # over the per-transfer limit
        ("transfer-amount", 2**63 - 1),
        ("purchase-quantity", 100),  # over MAX_QUANTITY
        ("purchase-quantity", 2**63 - 1),
        ("red-packet-total", 1_000_001),
        ("red-packet-total", 2**63 - 1),
        ("red-packet-count", 11),  # more shares than coins
        ("red-packet-count", 2**63 - 1),
        ("topup-package", 2**63 - 1),  # no such package
        ("topup-package", 987654),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else value,
)
def test_out_of_range_numbers_where_money_moves_are_400_with_nothing_written(
    world: World, where: str, value: int
) -> None:
    method, path, good, field = MONEY[where](world)
    before = world.snapshot()

    response = world.send(method, path, {**good, field: value})

    assert response.status_code == 400, response.content
    assert world.snapshot() == before


# --- Numbers in query strings --------------------------------------------------------------------
# A query string is not JSON, so the JSON parser's 64-bit rule does not see it (the fuzz found
# `messages/search?conversation=2**63` answering 500).


@pytest.mark.parametrize(
    "query",
    [
        "messages/search?q=hi&conversation={huge}",
        "messages/search?q=hi&before={huge}",
        "conversations/{group}/messages?after={huge}",
        "conversations/{group}/messages?before=-1",
        "coins/transactions?before={huge}",
        "coins/topups?after={huge}",
        "store/purchases?before={huge}",
        "users?q=bob&after={huge}",
    ],
    ids=["search-conversation", "search-before", "history-after", "history-negative", "statement", "topups",
         "purchases", "users"],
)  # fmt: skip
def test_huge_numbers_in_query_strings_are_400(world: World, query: str) -> None:
    path = query.format(huge=2**63, group=world.group.pk)

    response = world.client.get(f"/api/v1/{path}")

    assert_error(response, 400, "invalid")


# --- Sockets against real servers --------------------------------------------------------------------

MAX_FRAME_BYTES = 64 * 1024


async def _closed_with(ws: websockets.ClientConnection) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def _socket_rules_hold(port: int, token: str, conversation_id: int) -> None:
    url = f"ws://127.0.0.1:{port}/ws/"
    headers = {"Authorization": f"Token {token}"}
    # Hostile JSON frames are answered and the socket stays open.
    async with websockets.connect(url, additional_headers=headers) as ws:
        hostile = [
            {"type": "message.send", "conversation": conversation_id, "body": "x", "client_id": 2**64},
            {"type": "message.send", "conversation": 2**64, "body": "x", "client_id": "c1"},
            {"type": "message.send", "conversation": conversation_id, "body": "a\u0000b", "client_id": "c2"},
            {"type": "message.send", "conversation": conversation_id, "body": "", "client_id": "c3"},
            {"type": "read", "conversation": conversation_id, "up_to": -(2**63)},
            {"type": "sync", "after": -1},
            {"type": "typing", "conversation": -5},
            {"type": "presence.set", "presence": f"online{RLO}"},
            {"type": ["message.send"]},
        ]
        for frame in hostile:
            await ws.send(json.dumps(frame))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            while answer["type"] == "presence":
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert answer["type"] in ("error", "sync.done"), (frame, answer)
        await ws.send("[" * 100_000 + "]" * 100_000)  # deep and over 64 KiB: 1009 before parsing
        assert await _closed_with(ws) == 1009
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send("[" * 30_000 + "]" * 30_000)  # deep, under 64 KiB: bad_frame, still open
        assert (await expect(ws, "error", timeout=10))["code"] == "bad_frame"
        await ws.send(json.dumps({"type": "ping"}))
        await expect(ws, "pong", timeout=10)
        await ws.send(b'{"type": "ping", "x": "\xff\xfe"}', text=True)  # invalid UTF-8
        assert await _closed_with(ws) == 1007
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "ping", "pad": "x" * MAX_FRAME_BYTES}))
        assert await _closed_with(ws) == 1009
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "ping"}).encode())  # binary
        assert await _closed_with(ws) == 1003


@pytest.fixture
def socket_world(db: None) -> tuple[str, int]:
    alice, bob = UserFactory(), UserFactory()
    make_friends(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    return token_for(alice), direct.pk


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_hostile_frames_against_daphne(socket_world: tuple[str, int]) -> None:
    token, conversation_id = socket_world
    port = free_port()
    process = start_daphne(port)
    try:
        asyncio.run(_socket_rules_hold(port, token, conversation_id))
    finally:
        stop(process)
    assert Message.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_hostile_frames_against_bin_serve(socket_world: tuple[str, int]) -> None:
    from tests.core.test_serve import _server_env, _start, _stop_with_sigterm

    token, conversation_id = socket_world
    env = _server_env(
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,
        DATABASE_POOL_MAX_SIZE="4",
    )
    port = free_port()
    process = _start(port, env)
    try:
        asyncio.run(_socket_rules_hold(port, token, conversation_id))
    finally:
        _stop_with_sigterm(process)
    assert Message.objects.count() == 0
