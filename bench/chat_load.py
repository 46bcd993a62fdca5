"""Chat load: drive messages over real sockets against a running server and count what arrives.

    .venv/bin/python bench/chat_load.py --url http://127.0.0.1:8000 --rate 300 --seconds 60 --users 40
    DATABASE_URL=postgres://... REDIS_URL=redis://... SECRET_KEY=... \
        .venv/bin/python bench/chat_load.py --spawn 2 --rate 300 --seconds 60

With `--spawn N` it migrates the configured database and starts N daphne processes itself (free
ports, the environment's settings, sign-ups unthrottled), and also reports the CPU time they spent
per message while sending (the app processes only, not PostgreSQL or Redis). With `--baseline` the
same load then runs against a bare `websockets` relay (one process, same frames, storing nothing),
and the table shows both columns: the peer baseline of the same run.

Registers `--users` people, pairs them as friends with a direct conversation each, opens one socket
per person, then sends `--rate` messages a second (spread over the senders) for `--seconds`.
Every message is sent on the sender's socket with a fresh client_id and must come back as one
`message.ack` to the sender and one `message.new` to the partner. Afterwards each recipient syncs
from 0 to see whether anything missed live is at least in the history. Prints a table: sent, acked,
delivered, lost (acked but never delivered), duplicated (delivered more than once), errors and
latency percentiles (send -> ack, send -> delivery). Talks only to the given URL; it is not a test.
Rate limits: the server's default allows 30 messages a second per user; keep rate/users below it.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import websockets

PASSWORD = "Load-Test-Password-2026"  # noqa: S105 - throwaway load-test accounts
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 - our own server
            return True
    except OSError:
        return False


@contextlib.contextmanager
def spawned_servers(count: int) -> Iterator[tuple[list[str], list[int]]]:
    """Start `count` daphne processes on free ports; yields (urls, pids); stops them afterwards."""
    env = {**os.environ, "RATE_LIMITS": json.dumps({"register": "1000000/hour"})}
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    ports = [_free_port() for _ in range(count)]
    daphne = str(Path(sys.executable).with_name("daphne"))
    processes = [
        subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, process in zip(urls, processes, strict=True):
            while not _serving(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"daphne at {url} did not start (exit code {process.poll()})")
                time.sleep(0.2)
        yield urls, [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def http(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
        f"{base}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Token {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else {}


@dataclass
class Person:
    number: int
    token: str
    partner: int = 0
    conversation: int = 0


@dataclass
class Tally:
    sent_at: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    delivery_latency: list[float] = field(default_factory=list)
    ack_latency: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


def setup_people(base: str, count: int) -> list[Person]:
    def register(_: int) -> Person:
        body = http(
            base, "POST", "auth/register", {"username": f"load{secrets.token_hex(5)}", "password": PASSWORD}
        )
        return Person(number=body["number"], token=body["token"])

    with ThreadPoolExecutor(8) as pool:
        people = list(pool.map(register, range(count - count % 2)))

    def pair(index: int) -> None:
        a, b = people[index], people[index + 1]
        request = http(base, "POST", "friends/requests", {"to": b.number}, a.token)
        http(base, "POST", f"friends/requests/{request['id']}/accept", None, b.token)
        conversation = http(base, "POST", "conversations/direct", {"user": b.number}, a.token)["id"]
        a.partner, b.partner, a.conversation, b.conversation = b.number, a.number, conversation, conversation

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(pair, range(0, len(people), 2)))
    return people


async def reader(ws: websockets.ClientConnection, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
        except TimeoutError:
            continue
        except websockets.ConnectionClosed:
            tally.errors["socket_closed"] = tally.errors.get("socket_closed", 0) + 1
            return
        now = time.perf_counter()
        kind = frame.get("type")
        if kind == "message.ack":
            client_id = frame["client_id"]
            tally.acked[client_id] = now
            tally.ack_latency.append(now - tally.sent_at[client_id])
        elif kind == "message.new":
            client_id = frame["message"]["client_id"]
            tally.delivered[client_id] = tally.delivered.get(client_id, 0) + 1
            if client_id in tally.sent_at and tally.delivered[client_id] == 1:
                tally.delivery_latency.append(now - tally.sent_at[client_id])
        elif kind == "error":
            tally.errors[frame["code"]] = tally.errors.get(frame["code"], 0) + 1


async def recovered_by_sync(ws_url: str, person: Person, missing: set[str]) -> int:
    """How many of `missing` client ids the person finds by syncing from 0."""
    found, after = 0, 0
    async with websockets.connect(
        ws_url, additional_headers={"Authorization": f"Token {person.token}"}
    ) as ws:
        while True:
            await ws.send(json.dumps({"type": "sync", "after": after}))
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message.new" and frame["message"]["client_id"] in missing:
                    found += 1
                if frame["type"] == "sync.done":
                    break
            if not frame["has_more"]:
                return found
            after = frame["last"]


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def run(
    args: argparse.Namespace, server_pids: list[int], people: list[Person] | None = None
) -> tuple[list[tuple[str, object]], bool]:
    """One load run; returns the table's rows and whether nothing was lost or duplicated."""
    bases = [url.rstrip("/") for url in args.url or ["http://127.0.0.1:8000"]]
    ws_urls = [base.replace("http", "ws", 1) + "/ws/" for base in bases]
    ws_url = ws_urls[0]
    if people is None:
        print(f"setting up {args.users} people ...", flush=True)
        people = await asyncio.to_thread(setup_people, bases[0], args.users)
    tally, stop = Tally(), asyncio.Event()
    # Person i talks to server i mod n: partners (i, i+1) sit on different servers when n > 1.
    sockets = [
        await websockets.connect(
            ws_urls[i % len(ws_urls)],
            additional_headers={"Authorization": f"Token {p.token}"},
            max_queue=None,
        )
        for i, p in enumerate(people)
    ]
    readers = [asyncio.create_task(reader(ws, tally, stop)) for ws in sockets]
    sent_by: dict[str, Person] = {}
    print(f"sending {args.rate}/s for {args.seconds}s over {len(sockets)} sockets ...", flush=True)
    loop = asyncio.get_running_loop()
    cpu_before = cpu_seconds(server_pids)
    start, interval, count = loop.time(), 1 / args.rate, 0
    while (elapsed := loop.time() - start) < args.seconds:
        due = int(elapsed / interval) + 1
        for _ in range(due - count):
            index = random.randrange(len(people))
            client_id = uuid.uuid4().hex
            tally.sent_at[client_id] = time.perf_counter()
            sent_by[client_id] = people[index]
            frame = {
                "type": "message.send",
                "conversation": people[index].conversation,
                "client_id": client_id,
            }
            await sockets[index].send(json.dumps({**frame, "body": f"load {count} 负载测试"}))
            count += 1
        await asyncio.sleep(interval)
    await asyncio.sleep(args.drain)
    server_cpu = cpu_seconds(server_pids) - cpu_before
    stop.set()
    await asyncio.gather(*readers)
    for ws in sockets:
        await ws.close()

    acked = set(tally.acked)
    lost = {c for c in acked if c not in tally.delivered}
    duplicated = sum(1 for n in tally.delivered.values() if n > 1)
    recovered = 0
    by_recipient: dict[int, set[str]] = {}
    for client_id in lost:
        by_recipient.setdefault(sent_by[client_id].partner, set()).add(client_id)
    numbers = {p.number: p for p in people}
    for number, missing in by_recipient.items():
        recovered += await recovered_by_sync(ws_url, numbers[number], missing)
    rows = [
        ("sent", len(tally.sent_at)),
        ("acked", len(acked)),
        ("delivered (live)", sum(1 for c in acked if c in tally.delivered)),
        ("lost (acked, not delivered live)", len(lost)),
        ("  of which found by sync", recovered),
        ("duplicated", duplicated),
        ("errors", sum(tally.errors.values())),
        ("achieved rate /s", round(len(tally.sent_at) / args.seconds, 1)),
        ("ack latency p50 ms", round(percentile(tally.ack_latency, 0.50), 1)),
        ("ack latency p99 ms", round(percentile(tally.ack_latency, 0.99), 1)),
        ("delivery latency p50 ms", round(percentile(tally.delivery_latency, 0.50), 1)),
        ("delivery latency p99 ms", round(percentile(tally.delivery_latency, 0.99), 1)),
        (
            "delivery latency mean ms",
            round(statistics.fmean(tally.delivery_latency) * 1000, 1)
            if tally.delivery_latency
            else float("nan"),
        ),
    ]
    per_message = server_cpu * 1000 / max(1, len(tally.sent_at))
    rows.append(("server CPU ms per message", round(per_message, 3) if server_pids else "-"))
    if tally.errors:
        print("error codes:", tally.errors)
    return rows, not lost and not duplicated and len(acked) == len(tally.sent_at)


def print_table(columns: dict[str, list[tuple[str, object]]]) -> None:
    names = [name for name, _ in next(iter(columns.values()))]
    width = max(len(name) for name in names)
    print()
    print(f"{'':<{width}}" + "".join(f"  {title:>12}" for title in columns))
    for index, name in enumerate(names):
        print(f"{name:<{width}}" + "".join(f"  {rows[index][1]!s:>12}" for rows in columns.values()))


# --- The baseline: a bare `websockets` relay speaking the same frames, storing nothing ------------


async def _relay(port: int, partners: dict[int, int]) -> None:
    sockets: dict[int, websockets.ServerConnection] = {}
    next_id = 0

    async def handle(ws: websockets.ServerConnection) -> None:
        nonlocal next_id
        number = int(ws.request.headers["Authorization"].removeprefix("Token "))
        sockets[number] = ws
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] == "sync":
                    await ws.send(
                        json.dumps({"type": "sync.done", "last": frame["after"], "has_more": False})
                    )
                    continue
                next_id += 1
                message = {
                    "id": next_id,
                    "conversation": frame["conversation"],
                    "client_id": frame["client_id"],
                    "body": frame["body"],
                    "sender": {"number": number},
                }
                await ws.send(
                    json.dumps({"type": "message.ack", "client_id": frame["client_id"], "message": message})
                )
                partner = sockets.get(partners[number])
                if partner is not None:
                    await partner.send(json.dumps({"type": "message.new", "message": message}))
        except websockets.ConnectionClosed:
            pass
        finally:
            if sockets.get(number) is ws:
                del sockets[number]

    async with websockets.serve(handle, "127.0.0.1", port, max_queue=None):
        await asyncio.Future()


def _relay_process(port: int, partners: dict[int, int]) -> None:
    asyncio.run(_relay(port, partners))


def relay_people(count: int) -> list[Person]:
    people = [Person(number=1 + i, token=str(1 + i)) for i in range(count - count % 2)]
    for index in range(0, len(people), 2):
        a, b = people[index], people[index + 1]
        a.partner, b.partner, a.conversation, b.conversation = b.number, a.number, index + 1, index + 1
    return people


def run_baseline(args: argparse.Namespace) -> tuple[list[tuple[str, object]], bool]:
    """The same load against a bare websockets relay in its own process (one process, no storage)."""
    people = relay_people(args.users)
    port = _free_port()
    process = multiprocessing.Process(
        target=_relay_process, args=(port, {p.number: p.partner for p in people}), daemon=True
    )
    process.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the relay did not start") from None
                time.sleep(0.1)
        args.url = [f"http://127.0.0.1:{port}"]
        print(f"baseline: bare websockets relay at {args.url[0]}", flush=True)
        return asyncio.run(run(args, [process.pid], people))
    finally:
        process.terminate()
        process.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", action="append", help="a server (repeat for several processes sharing Redis); default :8000"
    )
    parser.add_argument("--rate", type=float, default=300, help="messages per second, all senders together")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=40, help="people (paired into direct conversations)")
    parser.add_argument("--drain", type=float, default=5, help="seconds to wait for stragglers")
    parser.add_argument(
        "--spawn", type=int, default=0, help="start this many daphne processes (ignores --url)"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="then run the same load against a bare websockets relay"
    )
    args = parser.parse_args()
    columns: dict[str, list[tuple[str, object]]] = {}
    if args.spawn:
        with spawned_servers(args.spawn) as (urls, pids):
            args.url = urls
            print(f"started {args.spawn} daphne processes: {' '.join(urls)}", flush=True)
            columns["huddle"], ok = asyncio.run(run(args, pids))
    else:
        columns["huddle"], ok = asyncio.run(run(args, []))
    if args.baseline:
        columns["ws relay"], _ = run_baseline(args)
    print_table(columns)
    print("\nRESULT:", "no lost or duplicated messages" if ok else "LOSS OR DUPLICATION")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
