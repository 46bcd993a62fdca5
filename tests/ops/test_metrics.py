"""GET /metrics: the listed metrics, moving when people chat and coins move, summed over processes."""

import asyncio
import json
import re
import urllib.request

import pytest
import websockets
from django.test import Client

from core.metrics import scrape_time_collector
from messaging.conversations import conversation_direct_open
from tests.coins.helpers import grant
from tests.factories import make_friends
from tests.messaging.processes import expect, free_port, start_daphne, stop

TOKEN = "metrics-secret-for-tests"


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name{labels...}` in an exposition (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        sample, _, number = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(number)
    return total


@pytest.fixture
def scrape(settings, db):
    settings.METRICS_TOKEN = TOKEN
    client = Client()

    def scrape() -> str:
        scrape_time_collector.forget()
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return response.content.decode()

    return scrape


def test_messages_requests_and_ledger_figures_move(
    scrape, alice, bob, client_for, django_capture_on_commit_callbacks
):
    make_friends(alice, bob)
    api = client_for(alice)
    chat = api.post("/api/v1/conversations/direct", {"user": bob.number}, format="json").json()
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):  # counted when committed
        assert (
            api.post(
                f"/api/v1/conversations/{chat['id']}/messages", {"body": "hi"}, format="json"
            ).status_code
            == 201
        )
        grant(alice, 50)
        sent = api.post(
            "/api/v1/coins/transfers",
            {"to": bob.number, "amount": 20},
            format="json",
            HTTP_IDEMPOTENCY_KEY="m-1",
        )
        assert sent.status_code == 201, sent.content
    after = scrape()

    assert (
        value(after, "huddle_messages_sent_total", kind="text")
        == value(before, "huddle_messages_sent_total", kind="text") + 1
    )
    route = "api/v1/conversations/<id:conversation_id>/messages"
    assert value(after, "huddle_http_requests_total", route=route, method="POST", status="201") >= 1
    assert value(after, "huddle_http_request_seconds_count", route=route) >= 1
    for kind in ("promotion", "transfer"):
        assert (
            value(after, "huddle_ledger_transactions_total", kind=kind)
            == value(before, "huddle_ledger_transactions_total", kind=kind) + 1
        )
    # Coins in circulation are the users' wallets: the grant added 50, the transfer moved 20 between them.
    assert value(after, "huddle_coins_in_circulation") == value(before, "huddle_coins_in_circulation") + 50
    for name in ("huddle_open_sockets", "huddle_reconciliation_findings", "huddle_messages_delivered_total"):
        assert f"# TYPE {name} " in after, f"{name} missing"


def test_needs_the_bearer_token(settings, db):
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def _get(port: int, path: str, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return response.read().decode()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_processes_report_the_sum_of_both(tmp_path, alice, bob):
    from tests.conftest import token_for

    make_friends(alice, bob)
    chat_id = conversation_direct_open(user=alice, number=bob.number)[0].pk
    alice_token, bob_token = token_for(alice), token_for(bob)
    env = {"METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    first, second = free_port(), free_port()
    servers = [start_daphne(first, **env), start_daphne(second, **env)]
    try:
        for _ in range(3):
            _get(first, "/healthz")
        for _ in range(4):
            _get(second, "/healthz")

        async def chat() -> tuple[str, str]:
            headers = {"Authorization": f"Token {alice_token}"}
            bob_headers = {"Authorization": f"Token {bob_token}"}
            async with (
                websockets.connect(f"ws://127.0.0.1:{first}/ws/", additional_headers=headers) as a,
                websockets.connect(f"ws://127.0.0.1:{second}/ws/", additional_headers=bob_headers) as b,
            ):
                for ws in (a, b):
                    await ws.send(json.dumps({"type": "ping"}))
                    while json.loads(await ws.recv())["type"] != "pong":
                        pass
                while_open = await asyncio.to_thread(_get, second, "/metrics", TOKEN)
                await a.send(
                    json.dumps(
                        {"type": "message.send", "conversation": chat_id, "body": "hi", "client_id": "m1"}
                    )
                )
                await expect(b, "message.new", timeout=20)
                after_chat = await asyncio.to_thread(_get, first, "/metrics", TOKEN)
                return while_open, after_chat

        while_open, after_chat = asyncio.run(chat())
        assert value(while_open, "huddle_open_sockets") == 2  # one on each process
        # Alice's message, stored by the first process, delivered by the second.
        assert value(after_chat, "huddle_messages_sent_total", kind="text") == 1
        assert value(after_chat, "huddle_messages_delivered_total") == 1
        assert value(after_chat, "huddle_message_delivery_seconds_count") == 1
        # healthz counted in both processes (the healthz probes of start_daphne included).
        scraped = _get(first, "/metrics", TOKEN)
        assert value(scraped, "huddle_http_requests_total", route="healthz", status="200") >= 3 + 4 + 2
    finally:
        stop(*servers)
