"""Jepsen's bank test (tests/coins/test_concurrency.py) over HTTP against a live daphne while faults
are injected: the server's PostgreSQL backends are terminated at random moments and its Redis is
restarted (emptied) once. Clients retry a 503 or a dropped connection with the same Idempotency-Key,
as the contract tells them to. Afterwards: the total is unchanged, no wallet is negative, and every
transfer answered 201 has exactly one transaction while every one refused (409) has none.

Real processes: a private redis-server and a daphne on the test database."""

import random
import threading
import time
import uuid

import pytest
from django.db.models import Sum

from coins.audit import ledger_report
from coins.ledger import wallet_for
from coins.models import Account, Transaction
from tests.coins.helpers import grant
from tests.conftest import token_for
from tests.factories import make_friends
from tests.reliability.fault_servers import backends_of, configured_daphne, terminate
from tests.reliability.faults import private_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PEOPLE, START = 5, 100
CLIENTS, TRANSFERS_EACH = 4, 20
RETRIES = 20
MIN_KILLS = 5  # backends terminated before the last quarter of the transfers may go on


def test_bank_transfers_over_http_keep_their_invariants_while_backends_die_and_redis_restarts(
    tmp_path, make_user
):
    people = [make_user() for _ in range(PEOPLE)]
    for i, a in enumerate(people):
        grant(a, START)
        for b in people[i + 1 :]:
            make_friends(a, b)
    tokens = {p.pk: token_for(p) for p in people}
    wallets = [wallet_for(p).pk for p in people]
    outcomes: dict[str, str] = {}  # key -> "accepted" / "refused"
    unexpected: list[object] = []
    faults = {"backends_killed": 0, "retries": 0, "redis_restarts": 0}
    lock, done = threading.Lock(), threading.Event()
    redis_restarted, enough_killed = threading.Event(), threading.Event()

    with (
        private_redis(tmp_path) as redis_server,
        configured_daphne(
            redis_server,
            tmp_path,
            "bank",
            RATE_LIMITS='{"money": "1000/second"}',
            DATABASE_POOL_MAX_SIZE="4",
        ) as server,
    ):

        def client(index: int) -> None:
            rng = random.Random(index)
            for n in range(TRANSFERS_EACH):
                if n == TRANSFERS_EACH * 3 // 4:
                    # The faults are tied to progress, not to time: on a fast run every transfer
                    # could be answered before a timed Redis restart or before a few backends died.
                    # Redis restarts once a quarter of all transfers are answered; each client waits
                    # here for that and for MIN_KILLS backends killed, so both happen while
                    # transfers are under way and the last quarter meets the dead connections.
                    redis_restarted.wait(60)
                    enough_killed.wait(60)
                sender, recipient = rng.sample(people, 2)
                key = f"bank-{uuid.uuid4()}"
                body = {"to": recipient.number, "amount": rng.randint(1, 60), "memo": key}
                for attempt in range(RETRIES):
                    try:
                        status, answer, _ = server.call(
                            "POST",
                            "/api/v1/coins/transfers",
                            token=tokens[sender.pk],
                            body=body,
                            headers={"Idempotency-Key": key},
                            timeout=20,
                        )
                    except OSError:  # the connection dropped: the answer is unknown, retry
                        status, answer = None, None
                    if status == 201:
                        outcome = "accepted"
                    elif status == 409 and answer["code"] == "insufficient_funds":
                        outcome = "refused"
                    elif status is None or (status == 503 and answer["code"] == "service_unavailable"):
                        with lock:
                            faults["retries"] += 1
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    else:
                        with lock:
                            unexpected.append((status, answer))
                        return
                    with lock:
                        outcomes[key] = outcome
                    break
                else:
                    with lock:
                        unexpected.append(("gave up", key))

        def injector() -> None:
            try:
                inject()
            except BaseException as error:  # a thread's exception is lost otherwise: fail the test
                with lock:
                    unexpected.append(("injector failed", repr(error)))
                redis_restarted.set()
                enough_killed.set()

        def inject() -> None:
            rng = random.Random(99)
            restarted = False
            while not done.is_set():
                time.sleep(rng.uniform(0.2, 0.6))
                pids = backends_of("bank")
                killed = terminate(rng.sample(pids, min(len(pids), 2)))
                with lock:
                    faults["backends_killed"] += killed
                    if faults["backends_killed"] >= MIN_KILLS:
                        enough_killed.set()
                with lock:
                    answered = len(outcomes)
                if not restarted and answered >= CLIENTS * TRANSFERS_EACH // 4:
                    redis_server.stop()
                    time.sleep(1)
                    redis_server.start()
                    restarted = True
                    with lock:
                        faults["redis_restarts"] += 1
                    redis_restarted.set()

        clients = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        fault_thread = threading.Thread(target=injector)
        fault_thread.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(120)
        done.set()
        fault_thread.join(30)

    print(f"bank under faults: {len(outcomes)} transfers answered, {faults}")
    assert unexpected == []
    assert len(outcomes) == CLIENTS * TRANSFERS_EACH
    assert faults["backends_killed"] >= MIN_KILLS and faults["retries"] >= 1 and faults["redis_restarts"] == 1
    accepted = {k for k, v in outcomes.items() if v == "accepted"}
    refused = set(outcomes) - accepted
    assert accepted and refused
    # then: money is conserved, no wallet below zero
    balances = list(Account.objects.filter(pk__in=wallets).values_list("balance", flat=True))
    assert sum(balances) == PEOPLE * START
    assert min(balances) >= 0
    assert Account.objects.filter(pk__in=wallets).aggregate(t=Sum("balance"))["t"] == PEOPLE * START
    # and accepted <=> exactly one transaction (the memo carries the key)
    memos = list(Transaction.objects.filter(kind="transfer").values_list("memo", flat=True))
    assert len(memos) == len(set(memos)), "a transfer was posted twice"
    assert set(memos) == accepted
    assert ledger_report().ok
