"""bin/backup-restore-check on PostgreSQL: dumps the database, restores it into a scratch database,
runs ledger_check there, and drops it (docs/RUNBOOK.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from coins.models import Transaction
from tests.coins.helpers import grant, transfer
from tests.factories import make_friends

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bin" / "backup-restore-check"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_a_backup_restores_whole_and_the_ledger_checks_out(make_user, tmp_path):
    # given: a ledger with grants and a transfer, committed
    alice, bob = make_user(), make_user()
    make_friends(alice, bob)
    grant(alice, 500)
    transfer(alice, bob, 120)
    transactions = Transaction.objects.count()
    dump = tmp_path / "huddle.dump"
    # when
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(dump)],
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert report["ledger"]["ok"] is True and report["ledger"]["transactions"] == transactions
    assert report["ledger"]["coins_in_circulation"] == 500
    assert report["tables"]["coins_transaction"] == {"source": transactions, "restored": transactions}
    assert dump.stat().st_size == report["bytes"] > 0
    # the scratch database is gone
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s",
            [f"{connection.settings_dict['NAME']}_restore_check_%"],
        )
        assert cursor.fetchone()[0] == 0


def test_it_refuses_anything_but_postgresql():
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={**os.environ, "DATABASE_URL": "sqlite:///x.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "PostgreSQL" in result.stderr
