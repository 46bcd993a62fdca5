"""Reads with a million messages stored: the conversation list and history pages, over HTTP and
in-process (a benchmark, not a test: it prints a table, and JSON with --json).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huddle [REDIS_URL=redis://127.0.0.1:6379/0] \
        .venv/bin/python bench/reads.py [--messages 1000000 | --quick] [--concurrency 1,4,16] \
        [--seconds 10] [--server serve] [--explain] [--json results.json|-]

It creates (and afterwards drops) its own database `<name>_reads`, migrates it and seeds it with
SQL (generate_series and COPY, about a minute for a million messages):
- 10,000 people; three direct conversations each (30,000 pairs, friends), 400 small groups
  (3-50 members) and 10 big ones (200-500 members);
- 20 busy people, each in about 200 conversations: all 10 big groups, about 40 small ones and
  150 more direct conversations; they are the ones whose reads are measured;
- the messages, spread with a heavy skew: the big groups and the direct conversations between busy
  people hold about 45 % of them (the busiest group 8 %), the rest follows a Zipf law over the
  small groups and the direct conversations, so most conversations are quiet. Each row is what
  `messaging_send` writes: ids in time order across the site, `seq` 1, 2, 3, ... per
  conversation, senders among the members, the sender's style stamped, the resync columns
  (`txid`, `snapshot_xmin`, `snapshot`) of one committed transaction, 0.5 % recalled;
- read markers: most memberships are read up to the end, some are a few or a few hundred
  messages behind, 5 % never read; every busy person has one big group with its whole history
  unread. Later joiners of groups see history from when they joined (`history_from_id`).
The message table's secondary indexes are dropped for the load and built again afterwards, then
the database is VACUUM ANALYZEd (as autovacuum would have done on a live system).

Then it starts the server (bin/serve by default; `--server daphne` etc. as in
bench/http_transfers.py) on that database and drives it with --concurrency keep-alive clients, each
request as one of the busy people:
- `conversation list`: GET /api/v1/conversations (about 200 conversations, with unread counts and
  last messages);
- `history latest page`: GET /api/v1/conversations/<id>/messages in one of the five busiest groups;
- `history deep page`: the same with ?before=<a random message of that conversation>.
Reports requests/s and p50/p95/p99 latency per workload and concurrency, and the same three reads
called in-process through the selectors (no HTTP, one at a time), so the HTTP part is visible
separately. --explain prints EXPLAIN (ANALYZE, BUFFERS) of the list's statement for the busiest person.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import http_transfers  # noqa: E402 - the server runner and the database helpers live there
import ledger_throughput  # noqa: E402

USERS = 10_000
BUSY_PEOPLE = 20
BIG_GROUPS = 10
SMALL_GROUPS = 400
DIRECT_OFFSETS = (1, 97, 1013)  # person i talks with i+1, i+97, i+1013 (mod USERS)
BUSY_EXTRA_DIRECTS = 150
BUSY_SMALL_GROUPS = 40
# Shares of all messages: the big groups (busiest first) and 10 direct conversations between busy
# people; the rest is spread by a Zipf law over the small groups and the other directs.
BIG_GROUP_SHARES = (0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01)
BUSY_DIRECT_SHARE = 0.01
SMALL_GROUP_SHARE = 0.20
RECALLED_FRACTION = 0.005
HISTORY_CONVERSATIONS = 5  # history is read in the five busiest groups
PHRASES = (
    "ok",
    "好的",
    "see you at eight",
    "哈哈哈哈",
    "did you get the file?",
    "明天见",
    "on my way",
    "谢谢你的红包",
    "lunch?",
    "this is a slightly longer message about the plans for the weekend, who is coming and when",
    "收到",
    "👍",
)
WORKLOADS = ("conversation list", "history latest page", "history deep page")


def token_key(username: str) -> str:
    """The device token of a seeded person (deterministic: the database lives for one run)."""
    return hashlib.sha256(f"huddle-reads-bench:{username}".encode()).hexdigest()[:40]


# --- seeding --------------------------------------------------------------------------------------


def zipf_counts(total: int, buckets: int, rng: random.Random, exponent: float, minimum: int) -> list[int]:
    """`buckets` counts summing to about `total`: Zipf by a random rank, at least `minimum` each."""
    ranks = list(range(1, buckets + 1))
    rng.shuffle(ranks)
    weights = [1 / r**exponent for r in ranks]
    scale = max(total - minimum * buckets, 0) / sum(weights)
    return [minimum + int(w * scale) for w in weights]


def plan_people_and_conversations(messages: int, rng: random.Random) -> dict:
    """Who is in which conversation, how many messages each holds and where everyone's read marker
    is, as plain lists (loaded with COPY)."""
    conversations = []  # (index, kind, title, low person, high person, messages)
    members: list[list[int]] = []  # conversation index -> people
    seen_pairs = set()

    def add_direct(a: int, b: int) -> int | None:
        low, high = sorted((a % USERS, b % USERS))
        if low == high or (low, high) in seen_pairs:
            return None
        seen_pairs.add((low, high))
        conversations.append(["direct", "", low, high, 0])
        members.append([low, high])
        return len(conversations) - 1

    big = []
    for g in range(BIG_GROUPS):
        size = 200 + (300 * g) // (BIG_GROUPS - 1)  # 200 ... 500
        people = set(range(BUSY_PEOPLE))
        start = 1000 + g * 811
        people.update((start + 13 * j) % USERS for j in range(size - BUSY_PEOPLE))
        conversations.append(["group", f"Big group {g}", None, None, 0])
        members.append(sorted(people)[:size])
        big.append(len(conversations) - 1)
    small = []
    for g in range(SMALL_GROUPS):
        size = rng.randint(3, 50)
        start = rng.randrange(USERS)
        people = {(start + 7 * j) % USERS for j in range(size)}
        people |= {p for p in range(BUSY_PEOPLE) if rng.random() < BUSY_SMALL_GROUPS / SMALL_GROUPS}
        conversations.append(["group", f"Group {g}", None, None, 0])
        members.append(sorted(people))
        small.append(len(conversations) - 1)
    busy_directs = [add_direct(p, p + 1) for p in range(0, BUSY_PEOPLE, 2)]
    directs = []
    for person in range(USERS):
        directs += [add_direct(person, person + offset) for offset in DIRECT_OFFSETS]
    for person in range(BUSY_PEOPLE):
        directs += [add_direct(person, 2003 + person * 151 + 37 * k) for k in range(BUSY_EXTRA_DIRECTS)]
    directs = [c for c in directs if c is not None and c not in busy_directs]

    for index, share in zip(big, BIG_GROUP_SHARES, strict=True):
        conversations[index][4] = int(messages * share)
    for index in busy_directs:
        conversations[index][4] = int(messages * BUSY_DIRECT_SHARE)
    for index, count in zip(
        small, zipf_counts(int(messages * SMALL_GROUP_SHARE), len(small), rng, 1.0, 5), strict=True
    ):
        conversations[index][4] = count
    rest = messages - sum(c[4] for c in conversations)
    for index, count in zip(directs, zipf_counts(rest, len(directs), rng, 0.9, 1), strict=True):
        conversations[index][4] = count
    conversations[big[0]][4] += messages - sum(c[4] for c in conversations)  # exactly `messages`

    # Read markers, as seqs: (conversation, person, role, read up to seq, history from seq).
    memberships = []
    for index, people in enumerate(members):
        kind, count = conversations[index][0], conversations[index][4]
        for position, person in enumerate(people):
            history_seq = 0
            if kind == "group" and person >= BUSY_PEOPLE and rng.random() < 0.15:
                history_seq = rng.randint(0, count * 4 // 5)  # joined later
            draw = rng.random()
            if draw < 0.55:
                behind = 0
            elif draw < 0.85:
                behind = rng.randint(1, 10)
            elif draw < 0.95:
                behind = rng.randint(10, 300)
            else:
                behind = count  # never read
            if person < BUSY_PEOPLE and index == big[person % BIG_GROUPS]:
                behind = count  # every busy person ignores one big group
            read_seq = max(history_seq, count - behind)
            role = "owner" if kind == "group" and position == 0 else "member"
            memberships.append((index, person, role, read_seq, history_seq))
    return {
        "conversations": conversations,
        "memberships": memberships,
        "history_conversations": big[:HISTORY_CONVERSATIONS],
    }


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    quoted = ", ".join(f'"{column}"' for column in columns)
    with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(url: str, messages: int, seed_value: int, log) -> dict:
    """Fill the migrated database at `url`; returns what the clients need."""
    import psycopg

    rng = random.Random(seed_value)
    plan = plan_people_and_conversations(messages, rng)
    conversations, memberships = plan["conversations"], plan["memberships"]
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute("SET synchronous_commit = off")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            # The foreign keys are checked at COMMIT, one trigger call per row and key: 2,000,000
            # calls for a million messages, minutes here. The rows are consistent by construction,
            # so (as a superuser may) the load skips those triggers.
            cursor.execute("SET session_replication_role = replica")
        user_base = cursor.execute("SELECT coalesce(max(id), 0) FROM accounts_user").fetchone()[0]
        conversation_base = cursor.execute(
            "SELECT coalesce(max(id), 0) FROM messaging_conversation"
        ).fetchone()[0]
        started = time.perf_counter()

        # People: a tenth with a chat bubble, so the stamped styles vary as in real use.
        cursor.execute(
            """
            INSERT INTO accounts_user (id, password, is_superuser, username, first_name, last_name,
                is_staff, is_active, date_joined, number, display_name, signature, email, avatar,
                presence, read_receipts, chat_bubble, chat_name_color, vip_until)
            SELECT %(base)s + g + 1, '!', false, 'reads_' || g, '', '', false, true,
                   now() - interval '400 days', nextval('accounts_user_number_seq'), 'Reader ' || g,
                   '', '', '', (ARRAY['online', 'away', 'busy', 'offline'])[1 + g %% 4], g %% 7 <> 0,
                   CASE WHEN g %% 10 = 0 THEN '#ffd6e0' ELSE '' END,
                   CASE WHEN g %% 15 = 0 THEN '#1e6fd9' ELSE '' END,
                   CASE WHEN g %% 20 = 0 THEN now() + interval '30 days' END
              FROM generate_series(0, %(users)s - 1) g
            """,
            {"base": user_base, "users": USERS},
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), max(id)) FROM accounts_user"
        )
        copy_rows(
            cursor,
            "accounts_devicetoken",
            ["digest", "user_agent", "created_at", "user_id"],
            (
                (
                    hashlib.sha256(token_key(f"reads_{p}").encode()).hexdigest(),
                    "bench",
                    "now",
                    user_base + p + 1,
                )
                for p in range(BUSY_PEOPLE)
            ),
        )

        def user_id(person: int) -> int:
            return user_base + person + 1

        copy_rows(
            cursor,
            "messaging_conversation",
            [
                "id",
                "kind",
                "title",
                "direct_key",
                "created_at",
                "members_count",
                "last_message_id",
                "last_seq",
                "last_activity",
                "created_by_id",
            ],
            (
                (
                    conversation_base + i + 1,
                    kind,
                    title,
                    f"{user_id(low)}:{user_id(high)}" if kind == "direct" else None,
                    "2000-01-01",  # moved to just before its first message below
                    0,
                    0,
                    0,
                    "2000-01-01",
                    user_id(low if kind == "direct" else 0),
                )
                for i, (kind, title, low, high, _count) in enumerate(conversations)
            ),
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('messaging_conversation', 'id'), max(id)) "
            "FROM messaging_conversation"
        )
        friendships = [
            (user_id(a), user_id(b))
            for kind, _t, low, high, _c in conversations
            if kind == "direct"
            for a, b in ((low, high), (high, low))
        ]
        copy_rows(
            cursor,
            "accounts_friendship",
            ["user_id", "friend_id", "group", "since"],
            ((a, b, "Friends", "now") for a, b in friendships),
        )
        cursor.execute(
            "CREATE TEMP TABLE seed_membership (conversation_id bigint, user_id bigint, role text, "
            "read_seq bigint, history_seq bigint)"
        )
        copy_rows(
            cursor,
            "seed_membership",
            ["conversation_id", "user_id", "role", "read_seq", "history_seq"],
            (
                (conversation_base + index + 1, user_id(person), role, read_seq, history_seq)
                for index, person, role, read_seq, history_seq in memberships
            ),
        )
        log(
            f"people, {len(conversations)} conversations, {len(memberships)} memberships: "
            f"{time.perf_counter() - started:.1f} s"
        )

        # Messages: one INSERT ... SELECT in time order, so ids follow time across the site and seq
        # follows id within each conversation. The secondary indexes are built afterwards.
        started = time.perf_counter()
        cursor.execute(
            "CREATE TEMP TABLE seed_plan AS SELECT c.id AS conversation_id, p.n, "
            "array_agg(s.user_id ORDER BY s.user_id) AS members "
            "FROM unnest(%s::bigint[], %s::int[]) AS p(conversation_id, n) "
            "JOIN messaging_conversation c ON c.id = p.conversation_id "
            "JOIN seed_membership s ON s.conversation_id = c.id WHERE p.n > 0 GROUP BY c.id, p.n",
            (
                [conversation_base + i + 1 for i in range(len(conversations))],
                [c[4] for c in conversations],
            ),
        )
        indexes = cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messaging_message' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'messaging_message'::regclass)"
        ).fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        with connection.transaction():
            # As messaging_send stores them, from one committed transaction: its id is taken first
            # so its own snapshot sees it (a sync from any of these messages finds none of the
            # others "late").
            txid = cursor.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
            snapshot, xmin = cursor.execute(
                "SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            ).fetchone()
            cursor.execute(
                """
                INSERT INTO messaging_message (conversation_id, seq, sender_id, kind, body, client_id, data,
                    sender_style, created_at, edited_at, recalled, recalled_at, txid, snapshot_xmin,
                    snapshot, changed_at, change_txid)
                SELECT m.conversation_id,
                       row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.created_at, m.tiebreak),
                       m.sender_id, 'text',
                       CASE WHEN m.recalled THEN ''
                            ELSE (%(phrases)s::text[])[1 + m.phrase] || ' #' || m.tiebreak END,
                       NULL, '{}'::jsonb,
                       jsonb_build_object('bubble', nullif(u.chat_bubble, ''),
                                          'name_color', nullif(u.chat_name_color, ''),
                                          'vip', coalesce(u.vip_until > m.created_at, false)),
                       m.created_at, NULL, m.recalled,
                       CASE WHEN m.recalled THEN m.created_at + interval '30 seconds' END,
                       %(txid)s, %(xmin)s, %(snapshot)s,
                       CASE WHEN m.recalled THEN m.created_at + interval '30 seconds' END,
                       CASE WHEN m.recalled THEN %(txid)s END
                  FROM (SELECT p.conversation_id,
                               p.members[1 + floor(random() * cardinality(p.members))::int] AS sender_id,
                               now() - interval '90 days' * random() AS created_at,
                               random() < %(recalled)s AS recalled,
                               floor(random() * %(phrase_count)s)::int AS phrase,
                               g AS tiebreak
                          FROM seed_plan p CROSS JOIN LATERAL generate_series(1, p.n) g) m
                  JOIN accounts_user u ON u.id = m.sender_id
                 ORDER BY m.created_at, m.tiebreak
                """,
                {
                    "phrases": list(PHRASES),
                    "phrase_count": len(PHRASES),
                    "recalled": RECALLED_FRACTION,
                    "txid": txid,
                    "xmin": xmin,
                    "snapshot": snapshot,
                },
            )
        log(f"{messages} messages: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for _name, definition in indexes:
            cursor.execute(definition)
        log(f"message indexes built again: {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        cursor.execute(
            """
            UPDATE messaging_conversation c
               SET last_message_id = s.last_id, last_seq = s.n, last_activity = s.last_at,
                   created_at = s.first_at - interval '1 minute'
              FROM (SELECT conversation_id, max(id) AS last_id, count(*) AS n, max(created_at) AS last_at,
                           min(created_at) AS first_at
                      FROM messaging_message GROUP BY conversation_id) s
             WHERE c.id = s.conversation_id
            """
        )
        cursor.execute(
            "UPDATE messaging_conversation SET created_at = now() - interval '1 day', "
            "last_activity = now() - interval '1 day' WHERE last_seq = 0"
        )
        # Memberships with their read markers and history starts: seqs turned into message ids.
        cursor.execute(
            """
            INSERT INTO messaging_membership (conversation_id, user_id, role, last_read_id, muted, joined_at,
                                              history_from_id)
            SELECT s.conversation_id, s.user_id, s.role, coalesce(r.id, 0), s.read_seq = 0 AND c.last_seq > 0,
                   coalesce(h.created_at, c.created_at), coalesce(h.id, 0)
              FROM seed_membership s
              JOIN messaging_conversation c ON c.id = s.conversation_id
              LEFT JOIN messaging_message r ON r.conversation_id = s.conversation_id AND r.seq = s.read_seq
              LEFT JOIN messaging_message h ON h.conversation_id = s.conversation_id AND h.seq = s.history_seq
            """
        )
        cursor.execute(
            "UPDATE messaging_conversation c SET members_count = s.n "
            "FROM (SELECT conversation_id, count(*) AS n "
            "FROM messaging_membership GROUP BY conversation_id) s WHERE c.id = s.conversation_id"
        )
        log(f"conversations and read markers: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        log(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
        broken = cursor.execute(
            "SELECT count(*) FROM (SELECT seq, "
            "lag(seq) OVER (PARTITION BY conversation_id ORDER BY id) AS prev "
            "FROM messaging_message) s WHERE seq <> coalesce(prev, 0) + 1"
        ).fetchone()[0]
        if broken:
            raise SystemExit(f"seeding broke the seq invariant in {broken} rows")
    return describe(url, plan["history_conversations"], conversation_base, seed_value)


def describe(url: str, history_indexes: list[int], conversation_base: int, seed_value: int) -> dict:
    """The busy people (tokens) and the history targets with random deep cursors."""
    import psycopg

    rng = random.Random(seed_value + 1)
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        people = cursor.execute(
            "SELECT u.id, u.username, count(m.id) FROM accounts_user u "
            "JOIN messaging_membership m ON m.user_id = u.id "
            "WHERE u.username = ANY(%s) GROUP BY u.id ORDER BY u.id",
            ([f"reads_{p}" for p in range(BUSY_PEOPLE)],),
        ).fetchall()
        targets = []
        for index in history_indexes:
            conversation_id = conversation_base + index + 1
            last_seq = cursor.execute(
                "SELECT last_seq FROM messaging_conversation WHERE id = %s", (conversation_id,)
            ).fetchone()[0]
            seqs = [rng.randint(100, last_seq) for _ in range(500)]
            cursors = [
                row[0]
                for row in cursor.execute(
                    "SELECT id FROM messaging_message WHERE conversation_id = %s AND seq = ANY(%s)",
                    (conversation_id, seqs),
                ).fetchall()
            ]
            targets.append({"conversation": conversation_id, "messages": last_seq, "deep_cursors": cursors})
        totals = cursor.execute(
            "SELECT (SELECT count(*) FROM accounts_user), (SELECT count(*) FROM messaging_conversation), "
            "(SELECT count(*) FROM messaging_membership), (SELECT count(*) FROM messaging_message), "
            "pg_size_pretty(pg_total_relation_size('messaging_message'))"
        ).fetchone()
    return {
        "people": [
            {"user_id": uid, "username": name, "token": token_key(name), "conversations": count}
            for uid, name, count in people
        ],
        "history": targets,
        "stored": dict(
            zip(
                ("users", "conversations", "memberships", "messages", "message_table_size"),
                totals,
                strict=True,
            )
        ),
    }


# --- HTTP -----------------------------------------------------------------------------------------


class HttpGetConnection:
    """One keep-alive HTTP/1.1 connection for GETs (the answers here carry Content-Length)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, token: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Token {token}\r\n\r\n"
        )
        self.writer.write(request.encode())
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


def request_for(workload: str, seeded: dict, rng: random.Random) -> tuple[str, str]:
    """(path, token) of one request of `workload` by a random busy person."""
    person = rng.choice(seeded["people"])
    if workload == "conversation list":
        return "/api/v1/conversations", person["token"]
    target = rng.choice(seeded["history"])
    path = f"/api/v1/conversations/{target['conversation']}/messages"
    if workload == "history deep page":
        path += f"?before={rng.choice(target['deep_cursors'])}"
    return path, person["token"]


async def drive(url: str, seeded: dict, workload: str, concurrency: int, seconds: float, seed_value: int):
    parsed = urlparse(url)
    rng = random.Random(seed_value)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = HttpGetConnection(parsed.hostname or "127.0.0.1", parsed.port or 80)
        try:
            while time.perf_counter() < deadline:
                path, token = request_for(workload, seeded, rng)
                started = time.perf_counter()
                try:
                    status, _ = await connection.get(path, token)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    connection.close()
                    status = type(exc).__name__
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, errors


def figures(latencies: list[float], elapsed: float) -> dict:
    values = sorted(latencies)
    return {
        "requests": len(values),
        "per_second": round(len(values) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(http_transfers.percentile(values, 0.50), 2),
        "p95_ms": round(http_transfers.percentile(values, 0.95), 2),
        "p99_ms": round(http_transfers.percentile(values, 0.99), 2),
        "max_ms": round(values[-1] * 1000, 2) if values else 0.0,
    }


def measure_http(server, seeded: dict, workload: str, concurrency: int, seconds: float) -> dict:
    asyncio.run(drive(server.url, seeded, workload, concurrency, min(seconds, 1.0), seed_value=0))  # warm-up
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    latencies, errors = asyncio.run(drive(server.url, seeded, workload, concurrency, seconds, seed_value=1))
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu_before
    row = {"workload": workload, "concurrency": concurrency, **figures(latencies, elapsed)}
    row["errors"] = sum(errors.values())
    row["error_statuses"] = errors
    row["server_cpu_ms_per_request"] = round(cpu * 1000 / row["requests"], 2) if row["requests"] else None
    return row


def sanity(server, seeded: dict) -> dict:
    """One list as the busiest person, checked: what the measured answer holds."""
    person = max(seeded["people"], key=lambda p: p["conversations"])
    parsed = urlparse(server.url)

    async def fetch() -> tuple[int, bytes]:
        connection = HttpGetConnection(parsed.hostname or "127.0.0.1", parsed.port or 80)
        try:
            return await connection.get("/api/v1/conversations", person["token"])
        finally:
            connection.close()

    status, body = asyncio.run(fetch())
    if status != 200:
        raise SystemExit(f"GET /api/v1/conversations answered {status}: {body[:300]!r}")
    items = json.loads(body)
    unread = [c["unread_count"] for c in items]
    return {
        "conversations": len(items),
        "bytes": len(body),
        "with_unread": sum(1 for u in unread if u),
        "unread_total": sum(unread),
        "unread_max": max(unread, default=0),
    }


# --- in-process (the selectors, no HTTP) ----------------------------------------------------------


def measure_service(url: str, seeded: dict, seconds: float, explain: bool) -> tuple[list[dict], str]:
    """The same reads through the selectors and the payload rendering, one at a time, in this
    process (production settings): what the database and the ORM cost without HTTP."""
    ledger_throughput.setup_django(url)
    from django.db import connection

    from accounts.models import User
    from messaging import selectors

    users = {u.pk: u for u in User.objects.filter(pk__in=[p["user_id"] for p in seeded["people"]])}
    people = [(users[p["user_id"]], p) for p in seeded["people"]]
    rng = random.Random(2)

    def conversation_list() -> None:
        user, _ = rng.choice(people)
        selectors.conversation_list_json(user)

    def history(deep: bool) -> None:
        user, _ = rng.choice(people)
        target = rng.choice(seeded["history"])
        before = rng.choice(target["deep_cursors"]) if deep else None
        # As the API: the page's JSON from PostgreSQL in one statement.
        selectors.message_history_page_json(
            user=user, conversation_id=target["conversation"], limit=50, before=before
        )

    calls = {
        "conversation list": conversation_list,
        "history latest page": lambda: history(False),
        "history deep page": lambda: history(True),
    }
    rows = []
    for workload, call in calls.items():
        for _ in range(20):
            call()
        latencies = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            begun = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - begun)
        rows.append({"workload": workload, **figures(latencies, time.perf_counter() - started)})
    plans = ""
    if explain:
        busiest = max(people, key=lambda p: p[1]["conversations"])[0]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + selectors._SQL_LIST, [busiest.pk])
            plans = "conversation list, its one statement:\n" + "\n".join(row[0] for row in cursor.fetchall())
    connection.close()
    return rows, plans


# --- the report -----------------------------------------------------------------------------------


def summary_rows(result: dict) -> list[dict]:
    """Rows for bench/run's one table (no ceiling: the in-process figure shows what HTTP adds)."""
    service = {row["workload"]: row for row in result["service"]}
    rows = []
    for row in result["http"]:
        rows.append(
            {
                "workload": f"reads {result['stored']['messages']:,} msgs: {row['workload']}, "
                f"{row['concurrency']} clients ({row['server']})",
                "unit": "requests/s",
                "huddle": row["per_second"],
                "p99_ms": row["p99_ms"],
                "errors": row["errors"],
                "ceiling": None,
                "ceiling_name": f"in-process p99 {service[row['workload']]['p99_ms']} ms",
                "ratio": None,
                "target": "p99 <= 30 ms",
            }
        )
    return rows


def print_table(result: dict) -> None:
    stored, settings, machine = result["stored"], result["settings"], result["machine"]
    print(
        f"\nReads with {stored['messages']:,} messages stored ({stored['message_table_size']}), "
        f"{stored['users']:,} people, {stored['conversations']:,} conversations, "
        f"{stored['memberships']:,} memberships; {settings['server']}, {settings['seconds']:.0f} s each, "
        f"{machine['cores']} cores, load {machine['load_average_at_start']} -> "
        f"{machine['load_average_at_end']}"
    )
    for spec, check in result["list_check"].items():
        print(
            f"The busiest person's list ({spec}): {check['conversations']} conversations "
            f"({check['bytes']:,} bytes), {check['with_unread']} with unread messages, "
            f"{check['unread_total']:,} unread in all (at most {check['unread_max']:,} in one)"
        )
    header = (
        f"{'':<16} {'workload':<22} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'errors':>6} {'CPU ms/req':>10}"
    )
    print(header)
    for row in result["service"]:
        print(
            f"{'in-process':<16} {row['workload']:<22} {1:>7} {row['per_second']:8.0f} {row['p50_ms']:7.1f} "
            f"{row['p95_ms']:7.1f} {row['p99_ms']:7.1f} {row['max_ms']:7.1f} {'-':>6} {'-':>10}"
        )
    for row in result["http"]:
        cpu = row["server_cpu_ms_per_request"]
        print(
            f"{'HTTP ' + row['server'][:11]:<16} {row['workload']:<22} {row['concurrency']:>7} "
            f"{row['per_second']:8.0f} "
            f"{row['p50_ms']:7.1f} {row['p95_ms']:7.1f} {row['p99_ms']:7.1f} {row['max_ms']:7.1f} "
            f"{row['errors']:6d} {cpu if cpu is not None else '-':>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 messages, 3 s per measurement")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client counts")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--service-seconds", type=float, default=5, help="per in-process workload")
    parser.add_argument(
        "--server",
        default="serve",
        help="comma-separated servers measured one after the other, each kind[@tree][+VAR=value...] "
        "as in bench/http_transfers.py (default: serve, i.e. bin/serve)",
    )
    parser.add_argument("--workers", type=int, help="server processes (default: bin/serve's choice)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--port", type=int, help="serve on this port (default: a free one)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the list's query")
    parser.add_argument("--keep-database", action="store_true", help="leave <name>_reads for a --reuse run")
    parser.add_argument("--reuse", action="store_true", help="measure an existing <name>_reads (no seeding)")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the result as JSON ('-': only JSON, on stdout)"
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.seconds, args.service_seconds = (
            100_000,
            min(args.seconds, 3),
            min(args.service_seconds, 2),
        )
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    if args.port:
        http_transfers.free_port = lambda: args.port
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if unknown := [w for w in workloads if w not in WORKLOADS]:
        parser.error(f"unknown workload(s) {unknown}: choose from {', '.join(WORKLOADS)}")

    def log(text: str) -> None:
        if args.json != "-":
            print(f"[reads] {text}", flush=True)

    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark creates and drops <name>_reads).")
    url = http_transfers.derived_url(base, "_reads")
    machine = {**http_transfers.machine(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    keep = args.keep_database or args.reuse
    try:
        if args.reuse:
            seeded = reuse(url, args.seed)
        else:
            log(f"creating and migrating {urlparse(url).path.lstrip('/')}")
            http_transfers.database_create(url)
            seeded = seed(url, args.messages, args.seed, log)
        log(f"stored: {seeded['stored']}")
        http_rows = []
        list_checks = {}
        for spec in [spec.strip() for spec in args.server.split(",")]:
            with http_transfers.running_server(spec, http_transfers.server_env(url), args.workers) as server:
                list_checks[spec] = sanity(server, seeded)
                for concurrency in concurrencies:
                    for workload in workloads:
                        row = {
                            "server": spec,
                            **measure_http(server, seeded, workload, concurrency, args.seconds),
                        }
                        log(
                            f"HTTP {spec}: {workload}, {concurrency} clients: "
                            f"{row['per_second']}/s, p99 {row['p99_ms']} ms"
                        )
                        http_rows.append(row)
        # After the server: setting Django up here changes this process's environment.
        service_rows, plans = measure_service(url, seeded, args.service_seconds, args.explain)
    finally:
        if not keep:
            http_transfers.database_drop(url)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "benchmark": "reads",
        "machine": machine,
        "settings": {
            "server": args.server,
            "workers": args.workers,
            "seconds": args.seconds,
            "service_seconds": args.service_seconds,
            "redis": bool(os.environ.get("REDIS_URL")),
            "seed": args.seed,
        },
        "stored": seeded["stored"],
        "busy_people": len(seeded["people"]),
        "history_conversations": [
            {"conversation": t["conversation"], "messages": t["messages"]} for t in seeded["history"]
        ],
        "list_check": list_checks,
        "service": service_rows,
        "http": http_rows,
    }
    result["summary"] = summary_rows(result)
    if plans:
        result["explain"] = plans
    if args.json != "-":
        print_table(result)
        if plans:
            print("\n" + plans)
    if args.json == "-":
        print(json.dumps(result, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


def reuse(url: str, seed_value: int) -> dict:
    """The seeding's description of a database kept by --keep-database."""
    import psycopg

    with psycopg.connect(url) as connection:
        conversation_ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM messaging_conversation WHERE kind = 'group' AND title LIKE 'Big group %%' "
                "ORDER BY last_seq DESC LIMIT %s",
                (HISTORY_CONVERSATIONS,),
            ).fetchall()
        ]
    return describe(url, [cid - 1 for cid in conversation_ids], 0, seed_value)


if __name__ == "__main__":
    main()
