"""The coins HTTP API (CONTRACT section 5): wallet, statement, packages, top-ups and transfers,
with their errors, authorization, idempotency and strict amounts."""

import threading
import uuid

import pytest

from coins.ledger import wallet_balance
from coins.models import Topup, Transaction
from core.models import IdempotencyRecord
from tests.coins.helpers import grant
from tests.coins.payment_support import (
    deliver,
    event_for,
    make_package,
    make_topup,
    record_receipt_dispatches,
)
from tests.concurrency import run_threads

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receipts(monkeypatch) -> list[int]:
    return record_receipt_dispatches(monkeypatch)


def post(client, path: str, body, key: str | None = "key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(f"/api/v1/{path}", body, format="json", **headers)


@pytest.fixture
def bob(make_user, user, friends):
    bob = make_user()
    friends(user, bob)
    return bob


# --- wallet, packages ------------------------------------------------------------------------------


def test_wallet_of_a_new_user_is_empty(api):
    r = api.get("/api/v1/coins/wallet")
    assert r.status_code == 200 and r.json() == {"balance": 0}


def test_wallet_shows_the_balance(api, user):
    grant(user, 42)
    assert api.get("/api/v1/coins/wallet").json() == {"balance": 42}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "coins/wallet"),
        ("get", "coins/transactions"),
        ("get", "coins/packages"),
        ("post", "coins/topups"),
        ("get", "coins/topups/1"),
        ("post", "coins/transfers"),
    ],
)
def test_endpoints_need_login(anon, method, path):
    r = getattr(anon, method)(f"/api/v1/{path}", format="json")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_packages_lists_active_ones_as_a_bare_array(api):
    small = make_package(60, 600, position=0)
    big = make_package(300, 3000, position=1)
    make_package(999, 1, active=False)

    r = api.get("/api/v1/coins/packages")

    assert r.status_code == 200
    assert r.json() == [
        {"id": small.pk, "coins": 60, "price": {"amount_minor": 600, "currency": "CNY"}},
        {"id": big.pk, "coins": 300, "price": {"amount_minor": 3000, "currency": "CNY"}},
    ]


# --- top-ups ---------------------------------------------------------------------------------------


def test_topup_created_pending_with_a_checkout_url(api, user):
    package = make_package(300, 3000)

    r = post(api, "coins/topups", {"package": package.pk})

    assert r.status_code == 201
    body = r.json()
    topup = Topup.objects.get()
    assert body["id"] == topup.pk and topup.user == user
    assert body["status"] == "pending" and body["coins"] == 300
    assert body["price"] == {"amount_minor": 3000, "currency": "CNY"}
    assert body["checkout_url"] == f"/pay/sandbox/{topup.pk}/"
    assert (topup.coins, topup.price_minor, topup.currency, topup.provider) == (300, 3000, "CNY", "sandbox")


def test_topup_replay_returns_the_same_answer(api):
    package = make_package()
    first = post(api, "coins/topups", {"package": package.pk})
    second = post(api, "coins/topups", {"package": package.pk})

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Topup.objects.count() == 1


def test_topup_same_key_other_body_is_409(api):
    a, b = make_package(), make_package(300, 3000)
    post(api, "coins/topups", {"package": a.pk})
    r = post(api, "coins/topups", {"package": b.pk})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    assert Topup.objects.count() == 1


def test_topup_needs_an_idempotency_key(api):
    r = post(api, "coins/topups", {"package": make_package().pk}, key=None)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    assert not Topup.objects.exists()


@pytest.mark.parametrize("package", ["inactive", "missing", "abc", None])
def test_topup_of_a_package_not_on_sale_is_invalid(api, package):
    inactive = make_package(active=False)
    value = {"inactive": inactive.pk, "missing": inactive.pk + 100}.get(package, package)

    r = post(api, "coins/topups", {"package": value})

    assert r.status_code == 400
    assert r.json()["code"] == "invalid" and "package" in r.json()["fields"]
    assert not Topup.objects.exists()


def test_topup_with_the_provider_off_is_503(api, settings):
    settings.PAYMENTS_SANDBOX_SECRET = ""
    r = post(api, "coins/topups", {"package": make_package().pk})
    assert r.status_code == 503 and r.json()["code"] == "payments_unavailable"
    assert not Topup.objects.exists()


def test_topup_detail_follows_the_status(api, user):
    topup = make_topup(user)
    assert api.get(f"/api/v1/coins/topups/{topup.pk}").json()["status"] == "pending"

    deliver(event_for(topup))

    body = api.get(f"/api/v1/coins/topups/{topup.pk}").json()
    assert body["status"] == "paid" and body["checkout_url"] is None and body["id"] == topup.pk


def test_another_users_topup_is_404(api, make_user):
    theirs = make_topup(make_user())
    r = api.get(f"/api/v1/coins/topups/{theirs.pk}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api.get(f"/api/v1/coins/topups/{theirs.pk + 100}").status_code == 404


# --- transfers -------------------------------------------------------------------------------------


def test_transfer_moves_coins_to_a_friend(api, user, bob):
    grant(user, 100)

    r = post(api, "coins/transfers", {"to": bob.number, "amount": 30, "memo": "lunch"})

    assert r.status_code == 201
    txn = Transaction.objects.get(kind="transfer")
    assert r.json() == {"transaction": txn.pk, "balance": 70}
    assert wallet_balance(user) == 70 and wallet_balance(bob) == 30
    assert txn.memo == "lunch" and txn.actor == user


def test_transfer_replay_posts_once_and_answers_the_same(api, user, bob):
    grant(user, 100)
    first = post(api, "coins/transfers", {"to": bob.number, "amount": 30})
    second = post(api, "coins/transfers", {"to": bob.number, "amount": 30})

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"transaction": first.json()["transaction"], "balance": 70}
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert wallet_balance(bob) == 30


def test_transfer_same_key_other_body_is_409(api, user, bob):
    grant(user, 100)
    post(api, "coins/transfers", {"to": bob.number, "amount": 30})
    r = post(api, "coins/transfers", {"to": bob.number, "amount": 31})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    assert wallet_balance(bob) == 30


def test_transfer_needs_an_idempotency_key(api, user, bob):
    grant(user, 100)
    r = post(api, "coins/transfers", {"to": bob.number, "amount": 1}, key=None)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    assert wallet_balance(bob) == 0


@pytest.mark.parametrize("amount", ["5", 5.5, 5.0, 0, -1, True, False, None, [5], {"n": 5}])
def test_transfer_amount_must_be_a_positive_json_integer(api, user, bob, amount):
    grant(user, 100)
    r = post(api, "coins/transfers", {"to": bob.number, "amount": amount}, key=str(uuid.uuid4()))
    assert r.status_code == 400
    assert r.json()["code"] == "invalid" and "amount" in r.json()["fields"]
    assert wallet_balance(user) == 100


def test_transfer_amount_is_required(api, bob):
    r = post(api, "coins/transfers", {"to": bob.number})
    assert r.status_code == 400 and "amount" in r.json()["fields"]


def test_transfer_at_most_a_million(api, user, bob):
    grant(user, 1_000_001)
    over = post(api, "coins/transfers", {"to": bob.number, "amount": 1_000_001}, key="k1")
    assert over.status_code == 400 and "amount" in over.json()["fields"]

    r = post(api, "coins/transfers", {"to": bob.number, "amount": 1_000_000}, key="k2")
    assert r.status_code == 201 and wallet_balance(bob) == 1_000_000


def test_transfer_to_someone_not_a_friend_is_403(api, user, make_user):
    grant(user, 100)
    stranger = make_user()
    r = post(api, "coins/transfers", {"to": stranger.number, "amount": 5})
    assert r.status_code == 403 and r.json()["code"] == "not_friends"
    assert wallet_balance(stranger) == 0 and wallet_balance(user) == 100


def test_transfer_to_oneself_is_invalid(api, user):
    grant(user, 100)
    r = post(api, "coins/transfers", {"to": user.number, "amount": 5})
    assert r.status_code == 400 and r.json()["code"] == "invalid" and "to" in r.json()["fields"]
    assert wallet_balance(user) == 100


def test_transfer_to_an_unknown_number_is_404(api, user):
    grant(user, 100)
    r = post(api, "coins/transfers", {"to": 9_999_999, "amount": 5})
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_insufficient_funds_leaves_nothing_behind(api, user, bob):
    grant(user, 10)
    transactions = Transaction.objects.count()

    r = post(api, "coins/transfers", {"to": bob.number, "amount": 11})

    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    assert Transaction.objects.count() == transactions
    assert wallet_balance(user) == 10 and wallet_balance(bob) == 0
    # the refusal is the key's answer; a retry with the same body replays it
    again = post(api, "coins/transfers", {"to": bob.number, "amount": 11})
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"


def test_transfer_sends_the_balance_event_to_both_sides(
    api, user, bob, captured_events, django_capture_on_commit_callbacks
):
    grant(user, 100)
    captured_events.clear()

    with django_capture_on_commit_callbacks(execute=True):
        r = post(api, "coins/transfers", {"to": bob.number, "amount": 25})

    assert r.status_code == 201
    balance_events = sorted((ids, e) for ids, e in captured_events if e["type"] == "coins.balance")
    assert balance_events == sorted(
        [
            ([user.pk], {"type": "coins.balance", "balance": 75}),
            ([bob.pk], {"type": "coins.balance", "balance": 25}),
        ]
    )


def test_refused_transfer_sends_no_event(api, user, bob, captured_events, django_capture_on_commit_callbacks):
    grant(user, 1)
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post(api, "coins/transfers", {"to": bob.number, "amount": 25})
    assert captured_events == []


def test_money_endpoints_are_rate_limited(api, user, bob, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "money": "2/minute"}
    grant(user, 100)
    codes = [
        post(api, "coins/transfers", {"to": bob.number, "amount": 1}, key=f"k{i}").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]


# --- statement -------------------------------------------------------------------------------------


def test_statement_newest_first_with_signed_amounts_and_counterparties(api, user, bob):
    grant(user, 100)
    post(api, "coins/transfers", {"to": bob.number, "amount": 30, "memo": "lunch"}, key="a")
    bob_api_transfer = Transaction.objects.get(kind="transfer")

    r = api.get("/api/v1/coins/transactions")

    assert r.status_code == 200
    body = r.json()
    assert body["has_more"] is False
    sent, granted = body["results"]
    assert sent["transaction"] == bob_api_transfer.pk
    assert (sent["kind"], sent["amount"], sent["balance_after"], sent["memo"]) == (
        "transfer",
        -30,
        70,
        "lunch",
    )
    assert sent["counterparty"]["number"] == bob.number
    assert set(sent["counterparty"]) == {
        "number",
        "username",
        "display_name",
        "signature",
        "avatar_url",
        "presence",
    }
    assert (granted["kind"], granted["amount"], granted["balance_after"]) == ("promotion", 100, 100)
    assert granted["counterparty"] is None
    assert sent["id"] > granted["id"] and sent["created_at"]


def test_statement_of_the_recipient_shows_money_in(client_for, user, bob):
    grant(user, 100)
    post(client_for(user), "coins/transfers", {"to": bob.number, "amount": 30})

    (line,) = client_for(bob).get("/api/v1/coins/transactions").json()["results"]

    assert (line["amount"], line["balance_after"]) == (30, 30)
    assert line["counterparty"]["number"] == user.number


def test_statement_pages_with_before(api, user):
    for _ in range(5):
        grant(user, 1)

    first = api.get("/api/v1/coins/transactions?limit=2").json()
    second = api.get(f"/api/v1/coins/transactions?limit=2&before={first['results'][-1]['id']}").json()
    third = api.get(f"/api/v1/coins/transactions?limit=2&before={second['results'][-1]['id']}").json()

    assert [line["balance_after"] for line in first["results"]] == [5, 4] and first["has_more"]
    assert [line["balance_after"] for line in second["results"]] == [3, 2] and second["has_more"]
    assert [line["balance_after"] for line in third["results"]] == [1] and not third["has_more"]


def test_statement_shows_only_the_callers_wallet(api, user, make_user):
    grant(make_user(), 5)
    assert api.get("/api/v1/coins/transactions").json() == {"results": [], "has_more": False}


def test_statement_queries_do_not_grow_with_the_page(
    api, user, make_user, friends, django_assert_max_num_queries
):
    grant(user, 1000)
    for _ in range(10):
        friend = make_user()
        friends(user, friend)
        post(api, "coins/transfers", {"to": friend.number, "amount": 1}, key=str(uuid.uuid4()))

    with django_assert_max_num_queries(8):
        r = api.get("/api/v1/coins/transactions")

    assert len(r.json()["results"]) == 11


def test_statement_bad_cursor_is_invalid(api):
    r = api.get("/api/v1/coins/transactions?before=abc")
    assert r.status_code == 400 and r.json()["code"] == "invalid"


# --- concurrency -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_transfer_post_once(make_user, client_for, friends):
    alice, bob = make_user(), make_user()
    friends(alice, bob)
    grant(alice, 100)
    clients = [client_for(alice) for _ in range(8)]
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def retry(i: int) -> None:
        r = post(clients[i], "coins/transfers", {"to": bob.number, "amount": 7}, key="same-key")
        with lock:
            answers.append((r.status_code, r.json()))

    errors = run_threads(8, retry)

    assert errors == []
    assert {code for code, _ in answers} == {201} and len(answers) == 8
    assert len({body["transaction"] for _, body in answers}) == 1
    assert {body["balance"] for _, body in answers} == {93}
    assert wallet_balance(alice) == 93 and wallet_balance(bob) == 7
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert IdempotencyRecord.objects.count() == 1


# --- OpenAPI ---------------------------------------------------------------------------------------


def test_schema_documents_keys_and_error_codes(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    transfer = paths["/api/v1/coins/transfers"]["post"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= transfer["parameters"][0].items()
    described = " ".join(r.get("description", "") for r in transfer["responses"].values())
    for code in ("not_friends", "insufficient_funds", "idempotency_key_required", "idempotency_key_reused"):
        assert code in described
    assert "payments_unavailable" in paths["/api/v1/coins/topups"]["post"]["responses"]["503"]["description"]
    webhook = paths["/api/v1/payments/webhook/{provider_name}"]["post"]
    assert "bad_signature" in webhook["responses"]["400"]["description"]
