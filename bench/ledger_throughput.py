"""Ledger throughput on PostgreSQL through the service layer (`coins.ledger.ledger_post`), with
pgbench's minimal double-entry transfer as the baseline measured in the same run (a benchmark, not
a test: it prints a table, and JSON with --json).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huddle [REDIS_URL=redis://127.0.0.1:6379/0] \
        .venv/bin/python bench/ledger_throughput.py [--workers 1,4,16] [--seconds 10] \
        [--workloads uniform,hot wallet,purchase] [--orm] [--json results.json|-]

It creates (and afterwards drops) its own database `<name>_bench`, migrates it, funds 200 wallets
and, for each worker count, runs each workload from that many processes (released together after
a warm-up; DEBUG off, as in production):
- uniform: transfers between random wallets;
- hot wallet: every transfer goes to one wallet;
- purchase: wallet -> the sharded store revenue account.
pgbench runs the minimal transfer (two balance updates and two entry rows) at each worker count,
and (unless --no-function-baseline) the `coins_ledger_post` function itself on uniform pairs: what
PostgreSQL alone allows a posting on this machine, with no Python in the loop.
With --orm the same workloads also run through the ORM path on PostgreSQL (`_post_orm`, what
`ledger_post` did before the SQL function), for a before/after in one run. With REDIS_URL set
the balance events are published as in production; without it they go to the in-memory layer.
Reports postings/s, p50/p99 latency, refusals, the client's CPU per posting, the PostgreSQL
backends' CPU per posting (from /proc, when the server runs on this machine and is readable) and
the ratio to pgbench at the same concurrency.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
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
WARMUP_POSTINGS = 20

PGBENCH_SETUP = """
DROP TABLE IF EXISTS bench_account, bench_entry;
CREATE TABLE bench_account (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_entry (id bigserial PRIMARY KEY, account_id int NOT NULL, amount bigint NOT NULL,
                          created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_account SELECT g, 10000000 FROM generate_series(1, 200) g;
"""
# The posting function alone, uniform pairs of wallets (bench_wallet numbers them 1..WALLETS).
FUNCTION_SETUP = """
DROP TABLE IF EXISTS bench_wallet;
CREATE TABLE bench_wallet AS
    SELECT row_number() OVER (ORDER BY id)::int AS n, id FROM coins_account WHERE kind = 'wallet';
CREATE UNIQUE INDEX ON bench_wallet (n);
"""
FUNCTION_SCRIPT = """
\\set a random(1, 200)
\\set b random(1, 199)
\\set c (:a + :b - 1) % 200 + 1
SELECT status FROM coins_ledger_post('transfer', '', '{}'::jsonb, NULL, NULL, '', NULL, now(),
    ARRAY[(SELECT id FROM bench_wallet WHERE n = :a), (SELECT id FROM bench_wallet WHERE n = :c)]::bigint[],
    ARRAY['debit', 'credit'], ARRAY[1, 1]::bigint[]);
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


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process on this machine (None if /proc does not show it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    # Production settings: DEBUG on logs every query (its cost was a third of a posting's CPU).
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "ledger-benchmark-not-secret")
    os.environ["DATABASE_POOL_MAX_SIZE"] = "2"
    os.environ.setdefault("REDIS_KEY_PREFIX", "huddle-ledger-bench")
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def worker(url: str, workload: str, path: str, seconds: float, seed: int, barrier, results) -> None:
    setup_django(url)
    from accounts.models import User
    from coins import ledger
    from coins.errors import InsufficientFunds
    from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
    from coins.models import Transaction

    if path == "orm":
        ledger._post_postgres = ledger._post_orm  # the ORM steps, on PostgreSQL
    rng = random.Random(seed)
    wallets = [wallet_for(u) for u in User.objects.filter(username__startswith="bench").order_by("pk")]
    revenue = [system_account("store:revenue", shard=i) for i in range(8)]
    hot = wallets[0]

    def post_one() -> bool:
        source = rng.choice(wallets[1:])
        if workload == "uniform":
            target = rng.choice(wallets)
            while target.pk == source.pk:
                target = rng.choice(wallets)
            legs, kind = [debit(source, 1), credit(target, 1)], Transaction.Kind.TRANSFER
        elif workload == "hot wallet":
            legs, kind = [debit(source, 1), credit(hot, 1)], Transaction.Kind.TRANSFER
        else:  # purchase: as store.services does, a random shard of the revenue account
            legs, kind = [debit(source, 1), credit(rng.choice(revenue), 1)], Transaction.Kind.PURCHASE
        try:
            ledger_post(kind=kind, legs=legs)
            return True
        except InsufficientFunds:
            return False

    for _ in range(WARMUP_POSTINGS):
        post_one()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    barrier.wait()
    backend_started = process_cpu(backend)
    done = refused = 0
    latencies = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    end = started + seconds
    while (now := time.perf_counter()) < end:
        if post_one():
            done += 1
        else:
            refused += 1
        latencies.append(time.perf_counter() - now)
    cpu = time.process_time() - cpu_started
    backend_ended = process_cpu(backend)
    backend_cpu = (
        None if backend_started is None or backend_ended is None else backend_ended - backend_started
    )
    results.put((done, refused, cpu, time.perf_counter() - started, latencies, backend_cpu))


def run_workload(url: str, workload: str, path: str, workers: int, seconds: float) -> dict:
    # spawn, not fork: a forked child would share the parent's database connections.
    context = mp.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(workers)
    procs = [
        context.Process(target=worker, args=(url, workload, path, seconds, i, barrier, results))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    outcomes = []
    while len(outcomes) < workers:
        try:
            outcomes.append(results.get(timeout=5))
        except Exception:  # queue.Empty: a worker that died never reports
            if any(proc.exitcode not in (None, 0) for proc in procs):
                for proc in procs:
                    proc.kill()
                raise SystemExit(f"a {workload} worker failed (see its traceback above)") from None
    for proc in procs:
        proc.join()
    done = sum(o[0] for o in outcomes)
    elapsed = max(o[3] for o in outcomes)
    latencies = sorted(lat for o in outcomes for lat in o[4])

    def quantile(q: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000, 2) if latencies else 0.0
        )

    return {
        "workload": workload,
        "path": "sql function" if path == "sql" else "orm",
        "workers": workers,
        "per_second": round(done / elapsed, 1),
        "postings": done,
        "refused": sum(o[1] for o in outcomes),
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "client_cpu_ms_per_posting": round(sum(o[2] for o in outcomes) * 1000 / done, 3) if done else None,
        "postgres_cpu_ms_per_posting": (
            round(sum(o[5] for o in outcomes) * 1000 / done, 3)
            if done and all(o[5] is not None for o in outcomes)
            else None
        ),
    }


def run_pgbench(url: str, clients: int, seconds: float, *, function: bool = False) -> float:
    psql(url, FUNCTION_SETUP if function else PGBENCH_SETUP)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(FUNCTION_SCRIPT if function else PGBENCH_SCRIPT)
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(2, clients)),
            "-T",
            str(int(seconds)),
            "-f",
            script.name,
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    tps = next(line for line in out.splitlines() if line.startswith("tps"))
    return float(tps.split("=")[1].split()[0])


def machine() -> dict:
    def version(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": version(["psql", "--version"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(result: dict) -> None:
    settings = result["settings"]
    print(
        f"\nLedger throughput through ledger_post, {settings['seconds']:.0f} s each, "
        f"{result['machine']['cores']} cores, load {result['machine']['load_average_at_start']}, "
        f"Redis {'on' if settings['redis'] else 'off'}"
    )
    print(
        f"{'workload':<34} {'workers':>7} {'tx/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'refused':>8} "
        f"{'CPU ms/tx':>10} {'PG ms/tx':>9} {'vs pgbench':>11}"
    )
    baseline = result["baseline"]["pgbench_per_second"]
    for workers, tps in sorted(baseline.items(), key=lambda kv: int(kv[0])):
        print(
            f"{'pgbench minimal transfer':<34} {workers:>7} {tps:8.0f} "
            f"{'-':>8} {'-':>8} {'-':>8} {'-':>10} {'-':>9} {'100%':>11}"
        )
    for workers, tps in sorted(
        result["baseline"].get("function_per_second", {}).items(), key=lambda kv: int(kv[0])
    ):
        reference = baseline.get(workers)
        ratio = f"{tps / reference:.1%}" if reference else "-"
        print(
            f"{'coins_ledger_post alone (pgbench)':<34} {workers:>7} {tps:8.0f} "
            f"{'-':>8} {'-':>8} {'-':>8} {'-':>10} {'-':>9} {ratio:>11}"
        )
    for row in result["results"]:
        label = f"{row['workload']} ({row['path']})"
        reference = baseline.get(str(row["workers"]))
        ratio = f"{row['per_second'] / reference:.1%}" if reference else "-"
        pg = row.get("postgres_cpu_ms_per_posting")
        postgres_cpu = "-" if pg is None else f"{pg:.2f}"
        print(
            f"{label:<34} {row['workers']:>7} {row['per_second']:8.0f} "
            f"{row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {row['refused']:8d} "
            f"{row['client_cpu_ms_per_posting']:10.2f} {postgres_cpu:>9} {ratio:>11}"
        )
    for name, value in result["ratios"].items():
        print(f"{name}: {value:.1%}")


def ratios(rows: list[dict], baseline: dict[str, float]) -> dict[str, float]:
    """The issue's targets, at the highest worker count, SQL-function path."""
    top = max(row["workers"] for row in rows)
    by = {
        row["workload"]: row["per_second"] for row in rows if row["workers"] == top and row["path"] != "orm"
    }
    out = {}
    if "uniform" in by and str(top) in baseline:
        out[f"uniform vs pgbench at {top} workers (target >= 50%)"] = by["uniform"] / baseline[str(top)]
    if "uniform" in by and "hot wallet" in by:
        out[f"hot wallet vs uniform at {top} workers (target >= 25%)"] = by["hot wallet"] / by["uniform"]
    if "uniform" in by and "purchase" in by:
        out[f"purchases vs uniform at {top} workers (target >= 50%)"] = by["purchase"] / by["uniform"]
    return out


def seed(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0", "SECRET_KEY": "ledger-benchmark-not-secret"}
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
    for shard in range(8):
        system_account("store:revenue", shard=shard)
    from django.db import connections

    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,4,16", help="comma-separated process counts")
    parser.add_argument("--workloads", default="uniform,hot wallet,purchase")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--orm", action="store_true", help="also run the ORM path (before/after in one run)")
    parser.add_argument("--no-baseline", action="store_true", help="skip pgbench")
    parser.add_argument(
        "--no-function-baseline", action="store_true", help="skip pgbench calling coins_ledger_post directly"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON ('-': stdout only)")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    workloads = [w.strip() for w in args.workloads.split(",")]
    paths = ["sql", "orm"] if args.orm else ["sql"]
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark creates and drops <name>_bench).")
    url = bench_url(base)
    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    name = urlparse(url).path.lstrip("/")
    load = machine()
    psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(admin, f'CREATE DATABASE "{name}"')
    try:
        seed(url)
        baseline: dict[str, float] = {}
        function_baseline: dict[str, float] = {}
        rows = []
        for workers in worker_counts:
            if not args.no_baseline:
                baseline[str(workers)] = run_pgbench(url, workers, args.seconds)
            if not args.no_function_baseline:
                function_baseline[str(workers)] = run_pgbench(url, workers, args.seconds, function=True)
            for path in paths:
                for workload in workloads:
                    rows.append(run_workload(url, workload, path, workers, args.seconds))
    finally:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result = {
        "benchmark": "ledger_throughput",
        "machine": load,
        "settings": {
            "seconds": args.seconds,
            "wallets": WALLETS,
            "redis": bool(os.environ.get("REDIS_URL")),
            "system_account_shards": 8,
        },
        "baseline": {"pgbench_per_second": baseline, "function_per_second": function_baseline},
        "results": rows,
        "ratios": ratios(rows, baseline),
    }
    if args.json != "-":
        print_table(result)
    if args.json == "-":
        print(json.dumps(result, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
