"""Chat benchmark: Huddle's socket against its ceilings, measured in one run with one client driver.

    DATABASE_URL=postgres://... REDIS_URL=redis://... SECRET_KEY=... \
        .venv/bin/python bench/chat_load.py [--quick] [--json out.json]

It seeds `--users` people straight into the configured database (chat_seed.py: direct pairs, and
groups of 50, 200 and 500 made of the first people), starts the servers it measures (Huddle by
`--server`: bin/serve if present, else uvicorn or daphne; the two baselines of chat_baselines.py:
a bare `websockets` relay and a minimal Channels chat), and for each of them:

1. **closed loop**: `--pairs` pairs, each side keeps one message in flight (sends the next when its
   partner has the last): the most deliveries a second the server sustains.
2. **steps**: every person's socket open (`--users`, default 1,000), messages offered at a rate
   stepped up (`--rates`, default 250, 500, 1000, 2000, ...) on the direct pairs, until p99
   delivery latency passes 100 ms or anything is lost or duplicated. Per step: offered and
   achieved deliveries/s, p50/p95/p99 latency (send to the partner's `message.new`), lost
   (not delivered within `--drain` s), duplicated (a second `message.new` of one message on one
   socket), errors.
3. **fan-out**: one message at a time into the groups of 200 and 500: time until the last member's
   socket has it (p50, p99, max over `--fanout-repeats`).
4. **idle**: a fresh server process, `--idle` authenticated sockets opened and held; how many it
   holds and its resident memory per socket (the baselines are measured too).

Everything is counted from what the sockets receive, never assumed. Prints one table, and with
`--json PATH` (or `--json -` for stdout) the same figures as JSON for bench/run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


_next_port: int | None = None  # --port-base: ports handed out in order from there


def free_port() -> int:
    global _next_port
    if _next_port is not None:
        _next_port += 1
        return _next_port - 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Processes -----------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes and their children so far (Linux /proc)."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0.0
    for root in pids:
        for pid in process_tree(root):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_kib(pids: list[int]) -> int:
    total = 0
    for root in pids:
        for pid in process_tree(root):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
    return total


def wait_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"server on port {port} did not start (exit code {process.poll()})"
                ) from None
            time.sleep(0.2)


@contextlib.contextmanager
def started(
    command: list[str], port: int, env: dict[str, str], *, django: bool
) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, process)
        if django:
            deadline = time.monotonic() + 60
            while True:  # Huddle: wait for Django to answer, not just the port
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(5)


def huddle_command(server: str, port: int, workers: int | None = None) -> list[str]:
    venv_bin = Path(sys.executable).parent
    if server == "serve":
        command = [str(ROOT / "bin" / "serve"), "--port", str(port), "--host", "127.0.0.1"]
        return command + (["--workers", str(workers)] if workers else [])
    if server == "uvicorn":
        return [
            str(venv_bin / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--lifespan", "off", "--no-access-log", "--loop", "uvloop", "--http", "httptools",
            "--log-level", "warning",
        ]  # fmt: skip
    return [str(venv_bin / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]


def huddle_env() -> dict[str, str]:
    limits = {"messages": "100000/second", "register": "1000000/hour"}
    env = {**os.environ, "RATE_LIMITS": json.dumps(limits)}
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    return env


# --- The world the clients see ---------------------------------------------------------------------


@dataclass
class World:
    tokens: list[str]
    direct: dict[int, int]  # person -> conversation
    members: dict[int, list[int]]  # conversation -> people
    groups: dict[int, int]  # group size -> conversation

    def partner(self, person: int) -> int:
        return person ^ 1


def baseline_world(users: int, group_sizes: list[int]) -> World:
    users -= users % 2
    direct = {i: 1 + i // 2 for i in range(users)}
    members: dict[int, list[int]] = {1 + p // 2: [p, p + 1] for p in range(0, users, 2)}
    groups = {}
    for n, size in enumerate(group_sizes):
        conversation = 10**6 + n
        members[conversation] = list(range(min(size, users)))
        groups[size] = conversation
    return World([str(i) for i in range(users)], direct, members, groups)


def seeded_world(users: int, group_sizes: list[int]) -> World:
    from chat_seed import seed

    seeded = seed(users, group_sizes)
    members = {}
    for person, conversation in seeded.direct.items():
        members.setdefault(conversation, []).append(person)
    groups = {}
    for conversation, people in seeded.groups.items():
        members[conversation] = people
        groups[len(people)] = conversation
    return World(seeded.tokens, seeded.direct, members, groups)


# --- The client driver -----------------------------------------------------------------------------


@dataclass
class Pending:
    sent_at: float
    sender: int
    expected: int  # sockets that must get message.new
    got: set[int] = field(default_factory=set)
    acked: float = 0.0
    done: asyncio.Future | None = None
    last_at: float = 0.0


@dataclass
class Counters:
    latencies: list[float] = field(default_factory=list)
    deliveries: int = 0
    duplicates: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    closed: int = 0


class Driver:
    def __init__(self, url: str, world: World):
        self.ws_url = url.replace("http", "ws", 1).rstrip("/") + "/ws/"
        self.world = world
        self.sockets: dict[int, websockets.ClientConnection] = {}
        self.readers: list[asyncio.Task] = []
        self.pending: dict[str, Pending] = {}
        self.counters = Counters()

    async def open(self, people: list[int], batch: int = 100) -> None:
        for start in range(0, len(people), batch):
            chunk = people[start : start + batch]
            opened = await asyncio.gather(*(self._connect(self.world.tokens[p]) for p in chunk))
            for person, ws in zip(chunk, opened, strict=True):
                self.sockets[person] = ws
                self.readers.append(asyncio.create_task(self._read(person, ws)))

    async def _connect(self, token: str) -> websockets.ClientConnection:
        return await websockets.connect(
            self.ws_url,
            additional_headers={"Authorization": f"Token {token}"},
            max_queue=None,
            open_timeout=60,
            ping_interval=None,
            compression=None,
        )

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)

    async def _read(self, person: int, ws: websockets.ClientConnection) -> None:
        pending = self.pending
        try:
            async for text in ws:
                now = time.perf_counter()
                counters = self.counters
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "message.new":
                    client_id = frame["message"].get("client_id")
                    entry = pending.get(client_id)
                    if entry is None or person == entry.sender:
                        continue  # not ours (presence of a previous run) or an echo (minimal chat)
                    if person in entry.got:
                        counters.duplicates += 1
                        continue
                    entry.got.add(person)
                    counters.deliveries += 1
                    counters.latencies.append(now - entry.sent_at)
                    if len(entry.got) == entry.expected:
                        entry.last_at = now
                        if entry.done is not None and not entry.done.done():
                            entry.done.set_result(now)
                elif kind == "message.ack":
                    entry = pending.get(frame["client_id"])
                    if entry is not None:
                        entry.acked = now
                elif kind == "error":
                    counters.errors[frame["code"]] = counters.errors.get(frame["code"], 0) + 1
        except websockets.ConnectionClosed:
            self.counters.closed += 1

    async def send(self, person: int, conversation: int, *, wait: bool = False) -> Pending:
        client_id = uuid.uuid4().hex
        expected = sum(1 for p in self.world.members[conversation] if p != person and p in self.sockets)
        entry = Pending(time.perf_counter(), person, expected)
        if wait:
            entry.done = asyncio.get_running_loop().create_future()
        self.pending[client_id] = entry
        frame = {"type": "message.send", "conversation": conversation, "client_id": client_id}
        await self.sockets[person].send(json.dumps({**frame, "body": "bench 负载测试 message"}))
        return entry

    def reset(self) -> None:
        self.pending.clear()
        self.counters = Counters()

    async def drain(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            if all(len(e.got) >= e.expected for e in self.pending.values()):
                return
            await asyncio.sleep(0.05)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)


def _summary(driver: Driver, seconds: float, cpu: float) -> dict:
    c = driver.counters
    expected = sum(e.expected for e in driver.pending.values())
    delivered = sum(len(e.got) for e in driver.pending.values())
    return {
        "messages": len(driver.pending),
        "acked": sum(1 for e in driver.pending.values() if e.acked),
        "deliveries": delivered,
        "deliveries_per_s": round(delivered / seconds, 1),
        "lost": expected - delivered,
        "duplicated": c.duplicates,
        "errors": sum(c.errors.values()) + c.closed,
        "error_codes": {**c.errors, **({"socket_closed": c.closed} if c.closed else {})},
        "p50_ms": percentile(c.latencies, 0.50),
        "p95_ms": percentile(c.latencies, 0.95),
        "p99_ms": percentile(c.latencies, 0.99),
        "server_cpu_ms_per_delivery": round(cpu * 1000 / max(1, delivered), 3),
    }


async def closed_loop(driver: Driver, pairs: int, seconds: float, pids: list[int]) -> dict:
    """Each side of `pairs` pairs keeps one message in flight: the server's sustained maximum."""
    driver.reset()
    people = [p for p in range(2 * pairs) if p in driver.sockets]
    stop_at = time.perf_counter() + seconds
    done_in_window = 0

    async def talk(person: int) -> None:
        nonlocal done_in_window
        conversation = driver.world.direct[person]
        while time.perf_counter() < stop_at:
            entry = await driver.send(person, conversation, wait=True)
            try:
                await asyncio.wait_for(entry.done, 10)
            except TimeoutError:
                return
            if entry.last_at <= stop_at:
                done_in_window += 1

    cpu = cpu_seconds(pids)
    started_at = time.perf_counter()
    await asyncio.gather(*(talk(p) for p in people))
    window = min(time.perf_counter(), stop_at) - started_at
    cpu = cpu_seconds(pids) - cpu
    await driver.drain(5)
    result = _summary(driver, window, cpu)
    result["deliveries_per_s"] = round(done_in_window / window, 1)
    result["pairs"] = pairs
    return result


async def offered_step(driver: Driver, rate: float, seconds: float, drain: float, pids: list[int]) -> dict:
    """Messages at `rate` a second on the direct pairs, spread over every open socket."""
    driver.reset()
    senders = [p for p in driver.sockets if p in driver.world.direct and (p ^ 1) in driver.sockets]
    random.shuffle(senders)
    loop = asyncio.get_running_loop()
    cpu = cpu_seconds(pids)
    wall_start = time.time()
    start, count = loop.time(), 0
    while (elapsed := loop.time() - start) < seconds:
        due = int(elapsed * rate) + 1
        while count < due:
            person = senders[count % len(senders)]
            await driver.send(person, driver.world.direct[person])
            count += 1
        await asyncio.sleep(0.002)
    await driver.drain(drain)
    cpu = cpu_seconds(pids) - cpu
    result = _summary(driver, seconds, cpu)
    result["offered_per_s"] = rate
    result["wall_clock"] = [round(wall_start, 2), round(wall_start + seconds, 2)]  # to match server logs
    return result


async def fanout(driver: Driver, size: int, repeats: int) -> dict | None:
    conversation = driver.world.groups.get(size)
    if conversation is None:
        return None
    driver.reset()
    last = []
    for _ in range(repeats):
        entry = await driver.send(0, conversation, wait=True)
        try:
            await asyncio.wait_for(entry.done, 10)
        except TimeoutError:
            break
        last.append(entry.last_at - entry.sent_at)
        await asyncio.sleep(0.1)
    lat = sorted(last)
    return {
        "members": len(driver.world.members[conversation]),
        "messages": len(driver.pending),
        "lost": sum(e.expected - len(e.got) for e in driver.pending.values()),
        "duplicated": driver.counters.duplicates,
        "last_member_p50_ms": percentile(lat, 0.5),
        "last_member_p99_ms": percentile(lat, 0.99),
        "last_member_max_ms": round(lat[-1] * 1000, 2) if lat else None,
    }


async def measure_server(
    name: str, url: str, world: World, args: argparse.Namespace, pids: list[int]
) -> dict:
    driver = Driver(url, world)
    result: dict = {"name": name}
    try:
        print(f"[{name}] opening {len(world.tokens)} sockets", flush=True)
        t = time.perf_counter()
        await driver.open(list(range(len(world.tokens))))
        result["sockets"] = len(driver.sockets)
        result["connect_s"] = round(time.perf_counter() - t, 1)
        await asyncio.sleep(1)
        if "closed" not in args.skip:
            print(f"[{name}] closed loop, {args.pairs} pairs, {args.seconds}s", flush=True)
            result["closed_loop"] = await closed_loop(driver, args.pairs, args.seconds, pids)
            print(
                f"[{name}]   {result['closed_loop']['deliveries_per_s']}/s"
                f" p99 {result['closed_loop']['p99_ms']} ms",
                flush=True,
            )
        result["steps"] = []
        for rate in [] if "steps" in args.skip else args.rates:
            step = await offered_step(driver, rate, args.step_seconds, args.drain, pids)
            result["steps"].append(step)
            print(
                f"[{name}]   offered {rate}/s: {step['deliveries_per_s']}/s p50 {step['p50_ms']} "
                f"p99 {step['p99_ms']} ms lost {step['lost']} dup {step['duplicated']} err {step['errors']}",
                flush=True,
            )
            if step["lost"] or step["duplicated"] or (step["p99_ms"] or 1e9) > 100:
                break
            await asyncio.sleep(1)
        result["fanout"] = {}
        for size in [] if "fanout" in args.skip else args.fanout:
            found = await fanout(driver, size, args.fanout_repeats)
            if found is not None:
                result["fanout"][str(size)] = found
                print(
                    f"[{name}]   fan-out {size}: last member p99 {found['last_member_p99_ms']} ms", flush=True
                )
    finally:
        await driver.close()
    return result


async def measure_idle(name: str, url: str, world: World, count: int, pids: list[int]) -> dict:
    """Open `count` authenticated sockets (people reused: several tabs each) and hold them."""
    driver = Driver(url, world)
    before = rss_kib(pids)
    people = [i % len(world.tokens) for i in range(count)]
    opened, failed = 0, 0
    sockets = []
    curve: dict[int, float] = {}  # sockets opened -> resident MiB, every 1,000
    t = time.perf_counter()
    for start in range(0, count, 200):
        chunk = people[start : start + 200]
        results = await asyncio.gather(
            *(driver._connect(world.tokens[p]) for p in chunk), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                failed += 1
            else:
                sockets.append(r)
                opened += 1
        if opened and opened % 1000 == 0:
            curve[opened] = round(rss_kib(pids) / 1024, 1)
        if failed > count // 20:
            break
    connect_s = time.perf_counter() - t
    await asyncio.sleep(5)
    still_open = 0
    for ws in sockets:
        # An open socket answers a WebSocket ping; one the server closed has a close code.
        still_open += ws.close_code is None
    after = rss_kib(pids)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "name": name,
        "asked": count,
        "held": still_open,
        "failed": failed,
        "connect_s": round(connect_s, 1),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_socket": round((after - before) / max(1, still_open), 1),
        "rss_mib_by_sockets": curve,
    }


# --- Putting it together ---------------------------------------------------------------------------


def machine() -> dict:
    import channels
    import daphne

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "websockets": websockets.__version__,
        "channels": channels.__version__,
        "daphne": daphne.__version__,
    }


def run_all(args: argparse.Namespace) -> dict:
    report: dict = {"machine": machine(), "settings": {k: v for k, v in vars(args).items() if k != "json"}}
    groups = sorted(set(args.fanout))
    servers: dict[str, dict] = {}
    idle: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline_world(args.users, groups)
        members_file = Path(tmp) / "members.json"
        members_file.write_text(json.dumps(base.members))
        baselines = {
            "relay": [sys.executable, str(BENCH / "chat_baselines.py"), "relay"],
            "channels": [sys.executable, str(BENCH / "chat_baselines.py"), "channels"],
        }
        for name in args.only or ["huddle", "relay", "channels"]:
            port = free_port()
            if name == "huddle":
                print("seeding people and conversations ...", flush=True)
                world = seeded_world(args.users, groups)
                command, env = huddle_command(args.server, port, args.workers), huddle_env()
            else:
                world = base
                command = [*baselines[name], "--port", str(port), "--members", str(members_file)]
                env = dict(os.environ)
            if set(args.skip) != {"closed", "steps", "fanout"}:
                with started(command, port, env, django=name == "huddle") as process:
                    servers[name] = asyncio.run(
                        measure_server(name, f"http://127.0.0.1:{port}", world, args, [process.pid])
                    )
            if args.idle:
                port = free_port()
                command = (
                    huddle_command(args.server, port, workers=1)  # one process holds them all
                    if name == "huddle"
                    else [*command[:3], "--port", str(port), "--members", str(members_file)]
                )
                with started(command, port, env, django=name == "huddle") as process:
                    time.sleep(1)
                    idle[name] = asyncio.run(
                        measure_idle(name, f"http://127.0.0.1:{port}", world, args.idle, [process.pid])
                    )
                print(f"[{name}] idle: {idle[name]}", flush=True)
    report["chat"] = servers
    report["idle"] = idle
    if "closed_loop" in servers.get("relay", {}) and "closed_loop" in servers.get("huddle", {}):
        relay_rate = servers["relay"]["closed_loop"]["deliveries_per_s"]
        report["huddle_vs_relay"] = round(
            servers["huddle"]["closed_loop"]["deliveries_per_s"] / relay_rate, 4
        )
    report["summary"] = summary_rows(report, args)
    return report


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a and b else None


def _step_at(result: dict, rate: float) -> dict | None:
    return next((s for s in result.get("steps", []) if s["offered_per_s"] == rate), None)


def summary_rows(report: dict, args: argparse.Namespace) -> list[dict]:
    """The rows bench/run prints: Huddle against each ceiling of the same run. `ratio` is Huddle's
    share of the ceiling (throughput: huddle / ceiling; latency and memory: ceiling / huddle)."""
    chat, idle, rows = report["chat"], report["idle"], []
    huddle = chat.get("huddle")
    if huddle is None:
        return rows

    def row(workload: str, unit: str, h: float | None, c: float | None, name: str, ratio: float | None,
            p99: float | None, **extra: object) -> None:  # fmt: skip
        rows.append(
            {"workload": workload, "unit": unit, "huddle": h, "ceiling": c, "ceiling_name": name,
             "ratio": ratio, "p99_ms": p99, **extra}
        )  # fmt: skip

    for name, key in (("bare websockets relay", "relay"), ("minimal Channels chat", "channels")):
        ceiling = chat.get(key)
        if ceiling is None:
            continue
        h, c = huddle.get("closed_loop"), ceiling.get("closed_loop")
        if h and c:
            row(f"chat, stored 1:1, closed loop, {args.pairs} pairs", "deliveries/s", h["deliveries_per_s"],
                c["deliveries_per_s"], name, _ratio(h["deliveries_per_s"], c["deliveries_per_s"]),
                h["p99_ms"], lost=h["lost"], duplicated=h["duplicated"])  # fmt: skip
        hs, cs = _step_at(huddle, 500), _step_at(ceiling, 500)
        if hs and cs:
            row(f"chat, 500 messages/s offered, {huddle['sockets']} sockets: p99", "ms", hs["p99_ms"],
                cs["p99_ms"], name, _ratio(cs["p99_ms"], hs["p99_ms"]), hs["p99_ms"],
                lost=hs["lost"], duplicated=hs["duplicated"])  # fmt: skip
        for size, f in huddle.get("fanout", {}).items():
            g = ceiling.get("fanout", {}).get(size)
            if g:
                row(f"fan-out to {size}: last member", "ms (p99)", f["last_member_p99_ms"],
                    g["last_member_p99_ms"], name, _ratio(g["last_member_p99_ms"], f["last_member_p99_ms"]),
                    f["last_member_p99_ms"])  # fmt: skip
        if "huddle" in idle and key in idle:
            hi, ci = idle["huddle"], idle[key]
            row(f"idle sockets held by one process (of {hi['asked']})", "sockets", hi["held"], ci["held"],
                name, _ratio(hi["held"], ci["held"]), None)  # fmt: skip
            row("memory per idle socket", "KiB", hi["kib_per_socket"], ci["kib_per_socket"], name,
                _ratio(ci["kib_per_socket"], hi["kib_per_socket"]), None)  # fmt: skip
    return rows


def print_report(report: dict) -> None:
    chat = report["chat"]
    names = list(chat)
    print(f"\nclosed loop ({report['settings']['pairs']} pairs)")
    keys = [
        "deliveries_per_s",
        "p50_ms",
        "p99_ms",
        "lost",
        "duplicated",
        "errors",
        "server_cpu_ms_per_delivery",
    ]
    print(f"{'':<28}" + "".join(f"{n:>14}" for n in names))
    for key in keys:
        print(f"{key:<28}" + "".join(f"{chat[n].get('closed_loop', {}).get(key)!s:>14}" for n in names))
    if "huddle_vs_relay" in report:
        print(f"{'huddle / relay':<28}{report['huddle_vs_relay']:>14.1%}")
    for n in names:
        print(f"\nsteps, {n} ({chat[n]['sockets']} sockets)")
        print(
            f"{'offered/s':>10}{'deliv/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            f"{'lost':>6}{'dup':>5}{'err':>5}{'cpu ms':>8}"
        )
        for s in chat[n]["steps"]:
            print(
                f"{s['offered_per_s']:>10}{s['deliveries_per_s']:>10}{s['p50_ms']!s:>9}{s['p95_ms']!s:>9}"
                f"{s['p99_ms']!s:>9}{s['lost']:>6}{s['duplicated']:>5}{s['errors']:>5}"
                f"{s['server_cpu_ms_per_delivery']:>8}"
            )
    print("\nfan-out: last member's delivery, ms (p50 / p99 / max)")
    for n in names:
        for size, f in chat[n].get("fanout", {}).items():
            print(
                f"  {n:<10} {size:>4}: {f['last_member_p50_ms']} / {f['last_member_p99_ms']}"
                f" / {f['last_member_max_ms']}  lost {f['lost']}"
            )
    if report["idle"]:
        print("\nidle sockets held by one process")
        for n, i in report["idle"].items():
            print(
                f"  {n:<10} held {i['held']} of {i['asked']}, {i['kib_per_socket']} KiB each"
                f" (RSS {i['rss_before_mib']} -> {i['rss_after_mib']} MiB)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="sockets (one person each) in the steps")
    parser.add_argument("--pairs", type=int, default=200, help="pairs in the closed loop")
    parser.add_argument("--seconds", type=float, default=15, help="closed-loop duration")
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")],
                        default=[250, 500, 1000, 2000, 3000, 4000, 6000, 8000])  # fmt: skip
    parser.add_argument("--step-seconds", type=float, default=8)
    parser.add_argument("--drain", type=float, default=5, help="seconds a step waits for stragglers")
    parser.add_argument("--fanout", type=lambda s: [int(x) for x in s.split(",")], default=[200, 500])
    parser.add_argument("--fanout-repeats", type=int, default=30)
    parser.add_argument("--idle", type=int, default=15000, help="idle sockets to open (0: skip)")
    parser.add_argument("--server", choices=["serve", "uvicorn", "daphne"], default=None,
                        help="how Huddle is served (default: bin/serve, else uvicorn)")  # fmt: skip
    parser.add_argument("--only", action="append", choices=["huddle", "relay", "channels"])
    parser.add_argument("--skip", type=lambda s: [x for x in s.split(",") if x], default=[],
                        help="parts to skip, comma-separated: closed,steps,fanout (e.g. all three with "
                        "--idle N: the idle test alone)")  # fmt: skip
    parser.add_argument("--workers", type=int, help="bin/serve's worker processes in the load parts "
                        "(default: its own choice; the idle test always runs one process)")  # fmt: skip
    parser.add_argument("--port-base", type=int, help="ports from here on, one per server started "
                        "(default: free ports the system picks)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke run")
    parser.add_argument("--json", help="write the figures as JSON to this path ('-': stdout)")
    args = parser.parse_args()
    if set(args.skip) - {"closed", "steps", "fanout"}:
        parser.error("--skip takes closed, steps, fanout")
    if args.port_base:
        global _next_port
        _next_port = args.port_base
    # A SIGTERM (bench/run's timeout) unwinds like an exception, so the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.server is None:
        args.server = "serve" if (ROOT / "bin" / "serve").exists() else "uvicorn"
    if args.quick:
        args.users, args.pairs, args.seconds = min(args.users, 300), min(args.pairs, 50), 4
        args.rates, args.step_seconds, args.drain = [250, 500, 1000], 3, 3
        args.fanout, args.fanout_repeats, args.idle = [200], 5, min(args.idle, 1000)
    report = run_all(args)
    print_report(report)
    if args.json:
        text = json.dumps(report, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    huddle = report["chat"].get("huddle")
    if huddle and any(
        s["lost"] or s["duplicated"] for s in [huddle.get("closed_loop", {}), *huddle["steps"][:-1]] if s
    ):
        raise SystemExit(1)  # lost or duplicated below the last (breaking) step


if __name__ == "__main__":
    main()
