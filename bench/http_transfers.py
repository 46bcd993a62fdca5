"""Coin transfers over HTTP (`POST /api/v1/coins/transfers`), with pgbench's minimal double-entry
transfer on the same PostgreSQL as the baseline measured in the same run (a benchmark, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huddle REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/http_transfers.py [--server serve|daphne|uvicorn] [--workers N] \
        [--concurrency 1,4,16] [--seconds 10] [--json results.json]

It creates (and afterwards drops) its own database `<name>_http`, migrates it, seeds `--users`
people who are all friends with each other, each with a device token and plenty of coins, starts
the server on a free port with that database (DEBUG off, rate limits raised), and drives it with
`--concurrency` keep-alive clients (a minimal asyncio HTTP/1.1 client, so the load generator costs
little of this machine's CPU). Two workloads per concurrency: `uniform` (random sender and
recipient) and `hot wallet` (every transfer goes to one account). Every request carries a fresh
Idempotency-Key; anything but 201 is counted as an error, never ignored.

With `--url` it drives a server that is already running instead: DATABASE_URL must then be that
server's database (the users are seeded there) and its rate limits must allow the load.

Reports transfers/s, p50/p95/p99 latency, errors and the server's CPU time per transfer (the
server's process tree, from /proc; not PostgreSQL's or Redis's), then the same as JSON with --json.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ledger_throughput  # noqa: E402 - the pgbench baseline lives there (one script, not a copy)

FUNDS = 100_000_000
PATH = "/api/v1/coins/transfers"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    """A free port: BENCH_PORT if set (helpers sharing a machine keep to their own range), else any."""
    if os.environ.get("BENCH_PORT"):
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(database_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a benchmark server runs with: production settings over plain HTTP, limits
    raised so the load is measured, not refused."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + uuid.uuid4().hex),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "RATE_LIMITS": json.dumps(
            {"register": "1000000/hour", "money": "1000000/second", "messages": "1000000/second"}
        ),
    }
    env.setdefault("REDIS_KEY_PREFIX", f"huddle-bench-{os.getpid()}")
    env.update(extra or {})
    return env


def parse_server(spec: str) -> tuple[str, Path, dict[str, str]]:
    """`kind[@tree][+VAR=value...]`: a server kind, optionally served from another checkout (for
    before/after comparisons in one run) and with extra environment variables."""
    spec, *assignments = spec.split("+")
    kind, _, tree = spec.partition("@")
    if kind not in SERVER_KINDS:
        raise SystemExit(f"unknown server kind {kind!r} (one of {', '.join(SERVER_KINDS)})")
    return kind, Path(tree) if tree else ROOT, dict(a.split("=", 1) for a in assignments)


SERVER_KINDS = ("serve", "daphne", "uvicorn", "uvicorn-sansio")


def server_command(kind: str, port: int, workers: int | None, tree: Path = ROOT) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if kind == "serve":
        command = [str(tree / "bin" / "serve"), "--port", str(port)]
        return command + (["--workers", str(workers)] if workers else [])
    if kind == "daphne":
        return [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    if kind in ("uvicorn", "uvicorn-sansio"):
        ws = "websockets-sansio" if kind == "uvicorn-sansio" else "websockets"
        return [
            *(str(bin_dir / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1"),
            *("--port", str(port), "--loop", "uvloop", "--http", "httptools", "--ws", ws),
            *("--ws-per-message-deflate", "false"),
            *("--lifespan", "off", "--no-access-log", "--workers", str(workers or 1)),
        ]
    raise ValueError(kind)


def wait_serving(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 - our own server
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /healthz within {timeout:.0f} s")


@contextlib.contextmanager
def running_server(spec: str, env: dict[str, str], workers: int | None = None) -> Iterator["Server"]:
    """Start a server (see parse_server) on a free port; yields it serving; stops it (SIGTERM, then
    SIGKILL)."""
    kind, tree, extra_env = parse_server(spec)
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{kind}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        server_command(kind, port, workers, tree),
        cwd=tree,
        env={**env, **extra_env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(kind=spec, url=f"http://127.0.0.1:{port}", port=port, pid=process.pid)
    try:
        try:
            wait_serving(server.url, process)
        except RuntimeError:
            log.seek(0)
            sys.stderr.write(log.read()[-3000:])
            raise
        time.sleep(1)  # every worker up, not only the first to answer
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.unlink(log.name)


@dataclass
class Server:
    kind: str
    url: str
    port: int
    pid: int | None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server process and all its descendants so far."""
        if self.pid is None:
            return 0.0
        return sum(_process_cpu(pid) for pid in _process_tree(self.pid))

    def processes(self) -> int:
        """Processes serving requests: a multi-worker server's spawned workers, else its one."""
        if not self.pid:
            return 0
        workers = 0
        for pid in _process_tree(self.pid):
            with contextlib.suppress(OSError):
                workers += b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        return workers or 1


def _process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


# --- database -------------------------------------------------------------------------------------


def derived_url(url: str, suffix: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=parsed.path.rstrip("/") + suffix))


def admin_url(url: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/postgres"))


def database_create(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    ledger_throughput.psql(admin_url(url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ledger_throughput.psql(admin_url(url), f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def database_drop(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    ledger_throughput.psql(admin_url(url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SEED_SCRIPT = """
import json, os, sys
import django
django.setup()
from accounts.models import Friendship, User
from accounts.services import device_token_create
from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import Transaction

prefix, count, funds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
users = [User.objects.create(username=f"{prefix}{i}") for i in range(count)]
Friendship.objects.bulk_create(
    [Friendship(user=a, friend=b) for a in users for b in users if a.pk != b.pk], ignore_conflicts=True
)
people = []
for user in users:
    ledger_post(
        kind=Transaction.Kind.PROMOTION,
        legs=[debit(system_account("promotions"), funds), credit(wallet_for(user), funds)],
    )
    people.append({"number": user.number, "token": device_token_create(user=user)})
print(json.dumps(people))
"""


def seed_people(database_url: str, count: int) -> list[dict]:
    """`count` users, all friends with each other, each funded, with a token; in a subprocess so this
    process keeps no database connection or Django state."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    prefix = f"httpbench{uuid.uuid4().hex[:6]}_"
    out = subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT, prefix, str(count), str(FUNDS)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# --- the load generator ---------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, just enough of the protocol for this benchmark."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            payload = b""
            while size := int((await self.reader.readline()).strip(), 16):
                payload += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
        else:
            payload = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Outcome:
    workload: str
    concurrency: int
    seconds: float
    transfers: int
    errors: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms_per_transfer: float | None
    error_statuses: dict


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))] * 1000


async def drive(
    url: str, people: list[dict], workload: str, concurrency: int, seconds: float, seed: int
) -> tuple[int, dict, list[float]]:
    parsed = urlparse(url)
    rng = random.Random(seed)
    hot = people[0]
    done = 0
    errors: dict[str, int] = {}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        connection = HttpConnection(parsed.hostname or "127.0.0.1", parsed.port or 80)
        try:
            while time.perf_counter() < deadline:
                sender = rng.choice(people[1:])
                if workload == "hot wallet":
                    recipient = hot
                else:
                    recipient = rng.choice(people)
                    while recipient is sender:
                        recipient = rng.choice(people)
                body = json.dumps({"to": recipient["number"], "amount": 1}).encode()
                headers = {
                    "Authorization": f"Token {sender['token']}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                }
                started = time.perf_counter()
                try:
                    status, _ = await connection.post(PATH, headers, body)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    connection.close()
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - started)
                if status == 201:
                    done += 1
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done, errors, latencies


def measure(server: Server, people: list[dict], workload: str, concurrency: int, seconds: float) -> Outcome:
    asyncio.run(drive(server.url, people, workload, concurrency, min(seconds, 1.0), seed=0))  # warm-up
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    done, errors, latencies = asyncio.run(drive(server.url, people, workload, concurrency, seconds, seed=1))
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu_before
    latencies.sort()
    return Outcome(
        workload=workload,
        concurrency=concurrency,
        seconds=round(elapsed, 2),
        transfers=done,
        errors=sum(errors.values()),
        per_second=round(done / elapsed, 1),
        p50_ms=round(percentile(latencies, 0.50), 1),
        p95_ms=round(percentile(latencies, 0.95), 1),
        p99_ms=round(percentile(latencies, 0.99), 1),
        server_cpu_ms_per_transfer=round(cpu * 1000 / done, 2) if done and server.pid else None,
        error_statuses=errors,
    )


# --- the report -----------------------------------------------------------------------------------


def machine() -> dict:
    def version(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    return {
        "cores": os.cpu_count(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": version(["psql", "--version"]),
        "redis": version(["redis-server", "--version"]).split(" sha=")[0],
    }


def summary_rows(results: list[dict], pgbench: dict[str, float]) -> list[dict]:
    """Rows for bench/run's one table: Huddle against its ceiling measured in the same run."""
    rows = []
    for row in results:
        ceiling = pgbench.get(str(row["concurrency"]))
        workload = f"HTTP transfers, {row['workload']}, {row['concurrency']} clients ({row['server']})"
        rows.append(
            {
                "workload": workload,
                "unit": "transfers/s",
                "huddle": row["per_second"],
                "p99_ms": row["p99_ms"],
                "errors": row["errors"],
                "ceiling": ceiling,
                "ceiling_name": f"pgbench minimal double-entry transfer, {row['concurrency']} clients",
                "ratio": round(row["per_second"] / ceiling, 4) if ceiling else None,
                "target": "16 clients: >= 15 % of pgbench, p99 <= 100 ms"
                if row["concurrency"] == 16
                else None,
            }
        )
    return rows


def print_table(result: dict) -> None:
    print(
        f"\nCoin transfers over HTTP, {result['settings']['users']} users, "
        f"{result['settings']['seconds']:.0f} s each, {result['machine']['cores']} cores"
    )
    print(
        f"{'server':<26} {'workload':<26} {'tx/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'CPU ms/tx':>9} {'vs pgbench':>10}"
    )
    pgbench = result["baseline"]["pgbench_per_second"]
    for concurrency, tps in sorted(pgbench.items(), key=lambda kv: int(kv[0])):
        label = f"transfer, {concurrency} clients"
        print(
            f"{'pgbench (baseline)':<26} {label:<26} {tps:7.0f} {'':>7} {'':>7} {'':>7} "
            f"{'':>6} {'':>9} {'100%':>10}"
        )
    for row in result["results"]:
        label = f"{row['workload']}, {row['concurrency']} clients"
        cpu = row["server_cpu_ms_per_transfer"]
        reference = pgbench.get(str(row["concurrency"]))
        ratio = f"{row['per_second'] / reference:.1%}" if reference else "-"
        server = f"{row['server']} ({row['processes']}p)"
        print(
            f"{server:<26} {label:<26} {row['per_second']:7.0f} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} "
            f"{row['p99_ms']:7.1f} {row['errors']:6d} {cpu if cpu is not None else '-':>9} {ratio:>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server",
        default="serve",
        help="comma-separated servers to measure one after the other, each kind[@tree][+VAR=value...]; "
        f"kinds: {', '.join(SERVER_KINDS)} (default: serve, i.e. bin/serve)",
    )
    parser.add_argument(
        "--workers", type=int, help="server processes (default: bin/serve's choice; 1 for daphne)"
    )
    parser.add_argument("--url", help="drive this running server instead of starting one")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client counts")
    parser.add_argument("--workloads", default="uniform,hot wallet", help="uniform and/or 'hot wallet'")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--no-baseline", action="store_true", help="skip pgbench")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the result as JSON to PATH ('-': only JSON, on stdout)"
    )
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    workloads = [w.strip() for w in args.workloads.split(",")]
    servers = [spec.strip() for spec in args.server.split(",")]

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark creates and drops <name>_http).")
    url = base if args.url else derived_url(base, "_http")
    if not args.url:
        database_create(url)
    results = []
    pgbench = {}
    try:
        people = seed_people(url, args.users)
        if not args.no_baseline:
            for concurrency in sorted({*concurrencies}):
                pgbench[str(concurrency)] = ledger_throughput.run_pgbench(url, concurrency, args.seconds)
        for spec in [None] if args.url else servers:
            with contextlib.ExitStack() as stack:
                if spec is None:
                    server = Server(kind="external", url=args.url.rstrip("/"), port=0, pid=None)
                else:
                    server = stack.enter_context(running_server(spec, server_env(url), args.workers))
                processes = server.processes()
                for concurrency in concurrencies:
                    for workload in workloads:
                        outcome = measure(server, people, workload, concurrency, args.seconds)
                        results.append({"server": server.kind, "processes": processes, **asdict(outcome)})
    finally:
        if not args.url and not args.keep_database:
            database_drop(url)
    result = {
        "benchmark": "http_transfers",
        "machine": machine(),
        "settings": {
            "users": args.users,
            "seconds": args.seconds,
            "redis": bool(os.environ.get("REDIS_URL")),
            "database_pool_max_size": os.environ.get("DATABASE_POOL_MAX_SIZE", "default"),
            "workers": args.workers,
        },
        "baseline": {"pgbench_per_second": pgbench},
        "results": results,
        "summary": summary_rows(results, pgbench),
    }
    if args.json != "-":
        print_table(result)
    if args.json == "-":
        print(json.dumps(result, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
