"""Ledger throughput on PostgreSQL, with pgbench's minimal double-entry transfer as the baseline
measured in the same run (a benchmark, not a test: it prints a table).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huddle .venv/bin/python bench/ledger_throughput.py \
        [--clients 16] [--seconds 10]

It creates (and afterwards drops) its own database `<name>_bench`, migrates it, funds wallets and
runs three workloads through `coins.ledger.ledger_post` from `--clients` processes:
- transfers between random wallets;
- a hot wallet: every transfer goes to one account;
- purchases: wallet -> the sharded store revenue account.
"""

import argparse
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WALLETS = 200
FUNDS = 10_000_000

PGBENCH_SETUP = """
DROP TABLE IF EXISTS bench_account, bench_entry;
CREATE TABLE bench_account (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_entry (id bigserial PRIMARY KEY, account_id int NOT NULL, amount bigint NOT NULL,
                          created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_account SELECT g, 10000000 FROM generate_series(1, 200) g;
"""
PGBENCH_SCRIPT = """
\\set a random(1, 200)
\\set b random(1, 200)
BEGIN;
UPDATE bench_account SET balance = balance - 1 WHERE id = least(:a, :b);
UPDATE bench_account SET balance = balance + 1 WHERE id = greatest(:a, :b);
INSERT INTO bench_entry (account_id, amount) VALUES (:a, -1), (:b, 1);
COMMIT;
"""


def bench_url(url: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=parsed.path.rstrip("/") + "_bench"))


def psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    os.environ["DATABASE_POOL_MAX_SIZE"] = "2"
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def worker(url: str, workload: str, seconds: float, seed: int, results: "mp.Queue") -> None:
    setup_django(url)
    from accounts.models import User
    from coins.errors import InsufficientFunds
    from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
    from coins.models import Transaction

    rng = random.Random(seed)
    wallets = [wallet_for(u) for u in User.objects.filter(username__startswith="bench").order_by("pk")]
    hot = wallets[0]
    done = refused = 0
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        source = rng.choice(wallets[1:])
        if workload == "transfer":
            target = rng.choice(wallets)
            if target.pk == source.pk:
                continue
            legs, kind = [debit(source, 1), credit(target, 1)], Transaction.Kind.TRANSFER
        elif workload == "hot wallet":
            legs, kind = [debit(source, 1), credit(hot, 1)], Transaction.Kind.TRANSFER
        else:
            legs, kind = (
                [debit(source, 1), credit(system_account("store:revenue"), 1)],
                Transaction.Kind.PURCHASE,
            )
        started = time.perf_counter()
        try:
            ledger_post(kind=kind, legs=legs)
            done += 1
        except InsufficientFunds:
            refused += 1
        latencies.append(time.perf_counter() - started)
    results.put((done, refused, latencies))


def run_workload(url: str, workload: str, clients: int, seconds: float) -> tuple[float, float, float]:
    # spawn, not fork: a forked child would share the parent's database connections.
    context = mp.get_context("spawn")
    results = context.Queue()
    procs = [
        context.Process(target=worker, args=(url, workload, seconds, i, results)) for i in range(clients)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get() for _ in procs]
    for p in procs:
        p.join()
    done = sum(o[0] for o in outcomes)
    latencies = sorted(lat for o in outcomes for lat in o[2])
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    return done / seconds, p50, p99


def run_pgbench(url: str, clients: int, seconds: float) -> float:
    psql(url, PGBENCH_SETUP)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    out = subprocess.run(
        ["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(int(seconds)), "-f", script.name, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = next(line for line in out.splitlines() if line.startswith("tps"))
    return float(tps.split("=")[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark creates and drops <name>_bench).")
    url = bench_url(base)
    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    name = urlparse(url).path.lstrip("/")
    psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
    psql(admin, f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        setup_django(url)
        from accounts.models import User
        from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
        from coins.models import Transaction

        for i in range(WALLETS):
            user = User.objects.create(username=f"bench{i}")
            ledger_post(
                kind=Transaction.Kind.PROMOTION,
                legs=[debit(system_account("promotions"), FUNDS), credit(wallet_for(user), FUNDS)],
            )
        from django.db import connections

        connections.close_all()

        rows = [
            (
                "pgbench minimal double-entry transfer (baseline)",
                run_pgbench(url, args.clients, args.seconds),
                None,
                None,
            )
        ]
        for workload in ("transfer", "hot wallet", "purchase"):
            tps, p50, p99 = run_workload(url, workload, args.clients, args.seconds)
            rows.append((f"ledger_post: {workload}", tps, p50, p99))
        print(
            f"\nLedger throughput, {args.clients} clients, {args.seconds:.0f} s each, {os.cpu_count()} cores"
        )
        print(f"{'workload':<52} {'tx/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs baseline':>12}")
        baseline = rows[0][1]
        for label, tps, p50, p99 in rows:
            lat = f"{p50:8.1f} {p99:8.1f}" if p50 is not None else f"{'-':>8} {'-':>8}"
            print(f"{label:<52} {tps:9.0f} {lat} {tps / baseline:11.0%}")
    finally:
        from django.db import connections

        connections.close_all()
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
