"""The coins tasks through a real Celery worker process on Redis and PostgreSQL: a receipt task
delivered twice mails once, and a reconciliation is stored. The worker consumes a queue of its own
(nothing else takes these messages) and mails into files, since a locmem outbox does not cross
processes; the assertions read the database and those files. The prefork run also shows that its
children open their own database connections (config.celery)."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from coins.models import Receipt, ReconciliationRun
from coins.tasks import reconcile_ledger, send_receipt
from tests.coins.operator_support import paid_topup

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.real_celery_worker,
    pytest.mark.django_db(transaction=True),
]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def worker_database_url() -> str:
    """The URL of this test run's database, for the worker process."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(tmp_path: Path, *, pool: str, queue: str) -> Iterator[tuple[Path, Path]]:
    """A worker subprocess on `queue`; yields (its mail folder, its log). Stopped on exit."""
    mail_dir, log = tmp_path / "mail", tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env.update(
        DATABASE_URL=worker_database_url(),
        DATABASE_POOL_MAX_SIZE="2",
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,  # the broker keys this process publishes to
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="0",
        # filemail:// + an absolute path (django-environ keeps the path after three slashes)
        EMAIL_URL=f"filemail:///{mail_dir}",
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config.celery:app",
        "worker",
        f"--pool={pool}",
        "--concurrency=2" if pool == "prefork" else "--concurrency=1",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("wb") as out:
        worker = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: b"ready." in log.read_bytes() or worker.poll() is not None, "the worker to start")
        assert worker.poll() is None, log.read_text()
        yield mail_dir, log
    finally:
        worker.terminate()  # warm shutdown: running tasks finish
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Delete this test queue's broker keys (its bindings), only those: never FLUSHDB."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:celery:*{queue}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def succeeded(log: Path, task: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if f"{task}[" in line and " succeeded " in line)


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_tasks_on_a_real_worker(tmp_path, make_user, pool):
    """A receipt task published twice (a redelivery) mails once; a reconciliation is stored."""
    # given a credited top-up of a customer with an address
    topup = paid_topup(make_user(email="real@example.com"), coins=60, price_minor=600)
    queue = f"test-{uuid.uuid4().hex[:12]}"

    with celery_worker(tmp_path, pool=pool, queue=queue) as (mail_dir, log):
        # when its receipt task reaches the broker twice, and a reconciliation once
        send_receipt.apply_async(args=[topup.credit_transaction_id], queue=queue)
        send_receipt.apply_async(args=[topup.credit_transaction_id], queue=queue)
        reconcile_ledger.apply_async(kwargs={"triggered_by": f"worker-{pool}"}, queue=queue)
        wait_for(lambda: succeeded(log, "coins.tasks.send_receipt") == 2, "both deliveries to run")
        wait_for(lambda: succeeded(log, "coins.tasks.reconcile_ledger") == 1, "the reconciliation")

    # then one receipt, mailed once (one file of the worker's mail backend)
    receipt = Receipt.objects.get()
    assert receipt.transaction_id == topup.credit_transaction_id
    assert receipt.emailed_at is not None and receipt.emailed_to == "real@example.com"
    mails = list(mail_dir.iterdir())
    assert len(mails) == 1
    content = mails[0].read_text()
    assert receipt.number in content and "text/html" in content
    # and the reconciliation stored by the worker
    run = ReconciliationRun.objects.get(triggered_by=f"worker-{pool}")
    assert run.ok is True and run.finished_at is not None
    assert run.summary["topups_settled"] == 1
