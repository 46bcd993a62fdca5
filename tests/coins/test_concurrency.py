"""The ledger under real concurrency on PostgreSQL (Jepsen's bank test and friends): threads with
their own connections post transfers at once; afterwards money is conserved, no wallet went
negative, every accepted call has exactly one transaction and every refused one none."""

import random
import threading
import uuid

import pytest
from django.db.models import Sum

from coins.audit import ledger_report
from coins.errors import InsufficientFunds
from coins.ledger import wallet_balance
from coins.models import Account, Transaction
from tests.coins.helpers import grant, transfer
from tests.concurrency import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def wallets_total(users) -> int:
    return Account.objects.filter(user__in=users).aggregate(t=Sum("balance"))["t"]


def test_bank_random_transfers_conserve_money(make_user):
    # given: six wallets with 100 coins each
    users = [make_user() for _ in range(6)]
    for u in users:
        grant(u, 100)
    total = 600
    accepted: list[tuple[str, int]] = []
    refused: list[str] = []
    reads: list[int] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        rng = random.Random(i)
        for _ in range(40):
            a, b = rng.sample(users, 2)
            amount = rng.randint(1, 80)  # some larger than the balance
            key = f"bank-{uuid.uuid4()}"
            try:
                txn = transfer(a, b, amount, key=key)
                with lock:
                    accepted.append((key, txn.pk))
            except InsufficientFunds:
                with lock:
                    refused.append(key)

    def reader(i: int) -> None:
        for _ in range(60):
            seen = wallets_total(users)
            with lock:
                reads.append(seen)

    # when: six writers and two readers run at once
    errors = run_threads(8, lambda i: writer(i) if i < 6 else reader(i))

    # then
    assert errors == []
    assert len(accepted) + len(refused) == 240 and accepted and refused
    assert wallets_total(users) == total
    assert set(reads) == {total}, "a reader saw money appear or vanish"
    assert all(wallet_balance(u) >= 0 for u in users)
    keys = set(Transaction.objects.filter(kind="transfer").values_list("idempotency_key", flat=True))
    assert keys == {k for k, _ in accepted}
    assert not keys & set(refused)
    assert ledger_report().ok


def test_ring_transfers_never_deadlock(make_user):
    a, b, c = make_user(), make_user(), make_user()
    for u in (a, b, c):
        grant(u, 1000)
    ring = [(a, b), (b, c), (c, a)]

    errors = run_threads(6, lambda i: [transfer(*ring[i % 3], 1) for _ in range(50)])

    assert errors == []
    assert [wallet_balance(u) for u in (a, b, c)] == [1000, 1000, 1000]
    assert Transaction.objects.filter(kind="transfer").count() == 300


def test_concurrent_retries_with_one_key_post_once(make_user):
    alice, bob = make_user(), make_user()
    grant(alice, 50)
    results: list[int] = []
    lock = threading.Lock()

    def retry(i: int) -> None:
        txn = transfer(alice, bob, 7, key="same-key")
        with lock:
            results.append(txn.pk)

    errors = run_threads(8, retry)

    assert errors == []
    assert len(set(results)) == 1 and len(results) == 8
    assert wallet_balance(alice) == 43 and wallet_balance(bob) == 7


def test_hot_system_account_shards_take_parallel_grants(make_user, settings):
    settings.LEDGER_SYSTEM_ACCOUNT_SHARDS = 4
    users = [make_user() for _ in range(8)]

    errors = run_threads(8, lambda i: [grant(users[i], 1) for _ in range(25)])

    assert errors == []
    assert wallets_total(users) == 200
    assert (
        sum(Account.objects.filter(code__startswith="promotions#").values_list("balance", flat=True)) == 200
    )
