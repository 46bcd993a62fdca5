"""Redis stops under a running daphne (degraded mode, CONTRACT section 1): everything that needs
only PostgreSQL keeps answering as usual and stores; rate limits bite per process; /healthz is 503
naming `channel_layer`; nothing is lost. Real processes: a private redis-server (the shared one is
never stopped), daphne on the test database, HTTP over real sockets."""

import json
import time
import uuid

import pytest

from accounts.models import User
from coins.audit import ledger_report
from coins.models import Topup
from messaging.conversations import conversation_direct_open
from messaging.models import Message
from store.demo import seed_store_catalog
from store.models import Purchase
from tests.coins.payment_support import make_package, signature
from tests.conftest import token_for
from tests.messaging.conftest import befriend
from tests.reliability.faults import daphne, private_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def test_http_keeps_working_and_storing_while_redis_is_down(tmp_path, alice: User, bob: User):
    # given: friends with a direct conversation, a top-up package and the store's catalog
    befriend(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    package = make_package(coins=100, price_minor=1000)
    seed_store_catalog()
    alice_token, bob_token = token_for(alice), token_for(bob)
    rate_limits = json.dumps({"actions": "4/minute"})

    with (
        private_redis(tmp_path) as redis_server,
        daphne(redis_server, tmp_path, RATE_LIMITS=rate_limits) as server,
    ):
        call = server.call
        assert call("GET", "/healthz")[0] == 200

        # when: Redis stops
        redis_server.stop()

        # then: /healthz is 503 naming the channel layer, the database still ok
        status, health, _ = call("GET", "/healthz")
        assert status == 503
        assert health["checks"]["database"] == "ok"
        assert health["checks"]["channel_layer"].startswith("error")

        # and every HTTP write that needs only PostgreSQL answers as usual
        sent = []
        for n in range(3):
            status, message, _ = call(
                "POST",
                f"/api/v1/conversations/{direct.pk}/messages",
                token=alice_token,
                body={"body": f"while down {n}", "client_id": f"down-{n}"},
            )
            assert status == 201, message
            sent.append(message["id"])
        started = time.monotonic()
        status, edited, _ = call(
            "PATCH", f"/api/v1/messages/{sent[0]}", token=alice_token, body={"body": "edited"}
        )
        assert status == 200 and edited["edited_at"] is not None
        assert call("DELETE", f"/api/v1/messages/{sent[1]}", token=alice_token)[0] == 204
        assert time.monotonic() - started < 5  # no waiting on the dead Redis

        status, topup, _ = call(
            "POST", "/api/v1/coins/topups", token=alice_token, body={"package": package.pk}, headers=_key()
        )
        assert status == 201, topup
        event = {
            "event": "payment.succeeded",
            "payment_id": f"pay-{topup['id']}",
            "topup": topup["id"],
            "amount_minor": 1000,
            "currency": package.currency,
        }
        raw = json.dumps(event).encode()
        status, answer, _ = call(
            "POST",
            "/api/v1/payments/webhook/sandbox",
            raw=raw,
            headers={"X-Sandbox-Signature": signature(raw)},
        )
        assert status == 200, answer
        status, transfer, _ = call(
            "POST",
            "/api/v1/coins/transfers",
            token=alice_token,
            body={"to": bob.number, "amount": 10},
            headers=_key(),
        )
        assert status == 201 and transfer["balance"] == 90, transfer
        status, purchase, _ = call(
            "POST",
            "/api/v1/store/purchases",
            token=alice_token,
            body={"sku": "stickers-faces"},
            headers=_key(),
        )
        assert status == 201 and purchase["price_total"] == 30, purchase

        # and reads: history, the conversation list, the wallet, a login
        status, history, _ = call("GET", f"/api/v1/conversations/{direct.pk}/messages", token=bob_token)
        assert status == 200
        assert [m["id"] for m in history["results"]] == sent
        assert [m["recalled"] for m in history["results"]] == [False, True, False]
        status, conversations, _ = call("GET", "/api/v1/conversations", token=bob_token)
        assert status == 200 and conversations[0]["last_message"]["id"] == sent[-1]
        assert call("GET", "/api/v1/coins/wallet", token=alice_token)[1] == {"balance": 60}
        status, login, _ = call(
            "POST", "/api/v1/auth/token", body={"username": bob.username, "password": "pw"}
        )
        assert status in (200, 400), login  # answered from the database (400: the factory's password)

        # and a rate limit still bites, counted in the process (4 a minute here). Limits count in
        # fixed one-minute windows: the five calls must not straddle a window's end.
        if 60 - time.time() % 60 < 20:
            time.sleep(60 - time.time() % 60 + 0.5)
        answers = [call("GET", "/api/v1/users?q=bo", token=bob_token) for _ in range(5)]
        assert [status for status, _, _ in answers] == [200, 200, 200, 200, 429]
        assert answers[-1][1]["code"] == "rate_limited" and int(answers[-1][2]["Retry-After"]) >= 1

        # when: Redis comes back (empty), /healthz recovers
        redis_server.start()
        deadline = time.monotonic() + 15
        while call("GET", "/healthz")[0] != 200:
            assert time.monotonic() < deadline, "healthz did not recover"
            time.sleep(0.3)
        # and a send works as before
        status, after, _ = call(
            "POST", f"/api/v1/conversations/{direct.pk}/messages", token=alice_token, body={"body": "after"}
        )
        assert status == 201

    # then: everything acknowledged is in PostgreSQL, once
    assert list(Message.objects.filter(conversation=direct).order_by("pk").values_list("pk", flat=True)) == [
        *sent,
        after["id"],
    ]
    assert Message.objects.get(pk=sent[0]).body == "edited"
    assert Topup.objects.get(pk=topup["id"]).status == Topup.Status.PAID
    assert Purchase.objects.filter(buyer=alice).count() == 1
    report = ledger_report()
    assert report.ok, report.summary()
    # and the skipped socket events were logged as skipped, not raised after commit
    output = server.output()
    assert "degraded mode" in output
    assert "Error calling" not in output and "could not send" not in output
