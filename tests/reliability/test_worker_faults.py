"""A Celery worker killed (SIGKILL) in the middle of a task: receipt sending, VIP renewal, red-packet
expiry and reconciliation. Tasks are acknowledged late, so the broker hands the task to the next worker
once the visibility timeout (5 s here, CELERY_VISIBILITY_TIMEOUT) has passed; it completes, and its
effect is there once.

"In the middle": the worker runs from a launcher (below, test-only) that wraps one function the task
calls so that its n-th call writes a flag file and sleeps; the test waits for the flag and kills the
worker then. Each worker is killed at its own point and the next one (started with the next point)
finishes what the killed one left. Real processes: Celery workers on the test database and Redis,
consuming a queue of this test's own (tests.coins.test_worker's pattern)."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from coins.ledger import wallet_balance
from coins.models import Receipt, ReconciliationRun, Transaction
from coins.tasks import reconcile_ledger, send_receipt
from redpackets.models import RedPacket
from redpackets.services import red_packet_send
from redpackets.tasks import expire_red_packets
from store.demo import seed_store_catalog
from store.models import Entitlement, Purchase
from store.services import VIP_PERIOD
from store.tasks import renew_memberships
from tests.coins.helpers import grant
from tests.coins.operator_support import paid_topup
from tests.messaging.processes import test_database_url
from tests.redpackets.helpers import group_of
from tests.reliability.faults import wait_for
from tests.store.helpers import buy

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.real_celery_worker,
    pytest.mark.django_db(transaction=True),
]

VISIBILITY_SECONDS = 5

# Test-only: wraps HANG_AT="module:function:n" so that its n-th call writes HANG_FLAG and sleeps until
# the process is killed; then runs the worker as `celery` would.
LAUNCHER = """
import importlib, os, sys, time
from pathlib import Path
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from config.celery import app
# kombu scans for unacked messages past the visibility timeout only every interval x throttle
# seconds (10 x 10 by default): sweep every second, so a killed worker's task comes back when its
# visibility timeout is up, not up to 100 s later.
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options, "unacked_restore_interval": 1, "unacked_restore_throttle": 1
}
if os.environ.get("HANG_AT"):
    module_name, name, nth = os.environ["HANG_AT"].split(":")
    module = importlib.import_module(module_name)
    real, calls = getattr(module, name), [0]
    def hanging(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(nth):
            Path(os.environ["HANG_FLAG"]).write_text(name)
            time.sleep(3600)
        return real(*args, **kwargs)
    setattr(module, name, hanging)
from celery.__main__ import main
sys.argv = ["celery"] + sys.argv[1:]
main()
"""


class Worker:
    """A solo-pool worker on `queues` that hangs at `hang_at` (or never, when None)."""

    def __init__(self, tmp_path: Path, index: int, queues: str, hang_at: str | None) -> None:
        self.log, self.flag = tmp_path / f"worker{index}.log", tmp_path / f"hung{index}"
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
        env.update(
            DATABASE_URL=test_database_url(),
            DATABASE_POOL_MAX_SIZE="2",
            REDIS_URL=settings.REDIS_URL,
            REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,
            SECRET_KEY=settings.SECRET_KEY,
            DEBUG="0",
            EMAIL_URL=f"filemail:///{tmp_path / 'mail'}",
            CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_SECONDS),
            HANG_AT=hang_at or "",
            HANG_FLAG=str(self.flag),
        )
        command = [sys.executable, "-c", LAUNCHER, "-A", "config.celery:app", "worker", "--pool=solo"]
        command += ["-Q", queues, "-n", f"w{index}-{uuid.uuid4().hex[:6]}@%h", "--loglevel=INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_for(
            lambda: b"ready." in self.log.read_bytes() or self.process.poll() is not None, "a worker", 90
        )
        assert self.process.poll() is None, self.log.read_text()

    def killed_when_hung(self) -> None:
        """Wait for the hang point, then SIGKILL the worker (no warm shutdown, no ack)."""
        wait_for(self.flag.exists, "the worker to reach its hang point", 60)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def succeeded(self, task: str) -> int:
        lines = self.log.read_text().splitlines()
        return sum(1 for line in lines if f"{task}[" in line and " succeeded " in line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _forget_queues(*queues: str) -> None:
    """Delete these queues' broker keys under this run's prefix, only those: never FLUSHDB."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for queue in queues:
            keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:celery:*{queue}*"))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def test_tasks_of_a_killed_worker_are_redelivered_and_take_effect_once(tmp_path, make_user):
    queue = f"faults-{uuid.uuid4().hex[:10]}"
    # given: a paid top-up of someone with an address (its receipt not yet issued)
    customer = make_user(email="customer@example.com")
    topup = paid_topup(customer, coins=60, price_minor=600)
    assert not Receipt.objects.exists()
    # two VIP memberships due for renewal, with coins for it
    seed_store_catalog()
    members = [make_user(), make_user()]
    ends = {}
    for member in members:
        grant(member, 1000)
        buy(member, "vip-month")
        row = Entitlement.objects.get(user=member, item__sku="vip-month")
        row.expires_at = timezone.now() + timedelta(minutes=5)
        row.save()
        ends[member.pk] = row.expires_at
    # three red packets sent 25 hours ago, nothing claimed
    sender, friend = make_user(), make_user()
    group = group_of(sender, friend)
    grant(sender, 90)
    sent_at = timezone.now() - timedelta(hours=25)
    packets = [
        red_packet_send(sender=sender, conversation_id=group.pk, total=30, count=1, mode="equal", now=sent_at)
        for _ in range(3)
    ]
    assert wallet_balance(sender) == 0

    steps: list[tuple[str | None, Callable[[], object] | None]] = [
        (
            "coins.receipts:_receipt_mail:1",
            lambda: send_receipt.apply_async([topup.credit_transaction_id], queue=queue),
        ),
        ("store.services:ledger_post:2", lambda: renew_memberships.apply_async(queue=queue)),
        ("redpackets.services:ledger_post:2", lambda: expire_red_packets.apply_async(queue=queue)),
        (
            "coins.reconciliation:_snapshot_checks:1",
            lambda: reconcile_ledger.apply_async(["faults"], queue=queue),
        ),
        (None, None),
    ]
    workers: list[Worker] = []
    try:
        for index, (hang_at, publish) in enumerate(steps):
            # each worker first finishes what the killed one before it left (redelivered)
            worker = Worker(tmp_path, index, queue, hang_at)
            workers.append(worker)
            if publish is None:
                break
            publish()
            worker.killed_when_hung()
        last = workers[-1]
        wait_for(
            lambda: last.succeeded("coins.tasks.reconcile_ledger") == 1, "the redelivered reconciliation", 60
        )
        for task in (
            "coins.tasks.send_receipt",
            "store.tasks.renew_memberships",
            "redpackets.tasks.expire_red_packets",
        ):
            assert sum(w.succeeded(task) for w in workers) == 1, f"{task} ran to its end once"
    finally:
        for worker in workers:
            worker.stop()
        # this queue, and the default one where the setup's and the renewals' receipts were sent
        _forget_queues(queue, "celery")

    # then the receipt: issued once, mailed once
    receipt = Receipt.objects.get(transaction_id=topup.credit_transaction_id)
    assert receipt.emailed_at is not None
    assert len(list((tmp_path / "mail").iterdir())) == 1
    # the renewals: each membership renewed once, one period on, charged once
    for member in members:
        row = Entitlement.objects.get(user=member, item__sku="vip-month")
        assert row.expires_at == ends[member.pk] + VIP_PERIOD
        assert Purchase.objects.filter(buyer=member, is_renewal=True).count() == 1
    # the red packets: each expired and refunded once
    assert set(RedPacket.objects.filter(pk__in=[p.pk for p in packets]).values_list("status", flat=True)) == {
        RedPacket.Status.EXPIRED
    }
    assert Transaction.objects.filter(kind="red_packet_return").count() == 3
    assert wallet_balance(sender) == 90
    # the reconciliation: one finished run, ok; the killed one is not left "running"
    runs = list(ReconciliationRun.objects.filter(triggered_by="faults").order_by("pk"))
    assert [run.ok for run in runs] == [False, True], [(r.ok, r.summary) for r in runs]
    assert runs[0].finished_at is not None and "abandoned" in runs[0].summary["error"]
