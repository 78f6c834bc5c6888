"""Benchmark: reminders at scale on PostgreSQL.

One million tracked preservations (each with its planned reminder rows) are bulk-loaded with
generate_series into a dedicated database; then:
  1. the claim query's EXPLAIN plan (it must be an index scan, not a scan of the table);
  2. the resident memory of a `preservation serve` node after it has run its sweeps
     (target under 200 MB: nothing is held per reminder in memory);
  3. the time one node, then two, take to deliver 10,000 reminders falling due at once to an
     aiosmtpd sink on loopback (targets under 60 s and under 35 s).
The database is dropped at the end (unless --keep).

Run:  PRESERVATION_TEST_POSTGRES=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
      .venv/bin/python bench/bench_reminders.py [--requests 1000000] [--deliver 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preservation.storage.db import upgrade_sync  # noqa: E402
from tests.e2e.helpers import Server, clean_env, free_port  # noqa: E402

UNITS = 100
OFFSETS = (30, 14, 7, 3, 1, 0)


def run_sink(port: int, out: str) -> None:
    """An aiosmtpd server that appends each message's idempotency key to `out` (its own
    process, so the bench's polling does not slow it; no MIME parsing: a regex on the bytes)."""
    import re

    from aiosmtpd.controller import Controller

    pattern = re.compile(rb"X-Preservation-Idempotency-Key:\s*([^\r\n]+)", re.IGNORECASE)
    fh = open(out, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            m = pattern.search(envelope.content)
            fh.write((m.group(1).strip() if m else b"?") + b"\n")
            return "250 OK"

    Controller(Handler(), hostname="127.0.0.1", port=port).start()
    while True:
        time.sleep(3600)


def start_sink(out: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--sink", str(port), str(out)])
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SMTP sink did not start")


def sink_keys(out: Path) -> list[str]:
    return out.read_bytes().decode().split()


def rss_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


async def populate(conn: asyncpg.Connection, n: int) -> float:
    started = time.perf_counter()
    await conn.execute(
        """
        INSERT INTO unit (name, timezone, authority, address, phone, email, contact_24_7,
                          alert_emails, webhook_url, webhook_secret, copy_to_poc, created_at)
        SELECT 'unit-' || u,
               (ARRAY['Europe/Berlin','America/New_York','Asia/Tokyo','UTC'])[1 + u % 4],
               '', '', '', '', '', json_build_array('duty@unit-' || u || '.example'),
               '', '', true, now()
        FROM generate_series(1, $1) AS u
        """,
        UNITS,
    )
    await conn.execute(
        """
        INSERT INTO app_user (unit_id, name, role, email, password_hash, created_at)
        SELECT id, 'officer', 'officer', '', '', now() FROM unit
        """
    )
    # Sent 0..79 days ago under 18 U.S.C. 2703(f): each expires 11..90 days from now.
    await conn.execute(
        """
        INSERT INTO preservation_request (
            reference, unit_id, created_by, status, case_reference, offence, summary, relevance,
            regime, provider, data_categories, urgent, urgency_reason, confidential,
            mla_to_follow, lang, created_at, updated_at, submitted_at, sent_at, preserved_at,
            provider_reference, mla_reference, outcome, close_note, extensions, expires_at,
            expiry_rule, held_until_decision, next_reminder_at, warnings, version)
        SELECT 'PR-2026-' || lpad(i::text, 7, '0'), 1 + i % $2, 1 + i % $2, 'preserved',
               'CASE-' || i, '', '', '', 'us-2703f', NULL, '["subscriber"]', false, '', true,
               true, 'en', t, t, t, t, t, '', '', '', '', '[]', t + interval '90 days',
               'us-2703f: 90 days from preservation', false, NULL, '[]', 1
        FROM (SELECT i, now() - (i % 80) * interval '1 day' - (i % 86400) * interval '1 second'
                     AS t
              FROM generate_series(1, $1) AS i) AS s
        """,
        n,
        UNITS,
    )
    # Bulk load without the reminder indexes, then build them once (as a restore would).
    await conn.execute("ALTER TABLE reminder DROP CONSTRAINT uq_reminder_unit_key")
    await conn.execute("DROP INDEX ix_reminder_due")
    await conn.execute("DROP INDEX ix_reminder_request_id")
    await conn.execute(
        """
        INSERT INTO reminder (unit_id, request_id, kind, key, due_at, status, attempts,
                              next_attempt_at, late, last_error, created_at, delivered_at)
        SELECT r.unit_id, r.id, k.kind,
               r.id || ':' || k.kind || ':' || to_char(d.due AT TIME ZONE 'UTC',
                                                       'YYYYMMDD"T"HH24MISS"Z"'),
               d.due, CASE WHEN d.due <= now() THEN 'delivered' ELSE 'pending' END, 0, d.due,
               false, '', now(), CASE WHEN d.due <= now() THEN d.due END
        FROM preservation_request r
        CROSS JOIN (SELECT o, CASE WHEN o = 0 THEN 'expiry' ELSE 'expiry_minus_' || o || 'd' END
                           AS kind FROM unnest($1::int[]) AS o) AS k
        CROSS JOIN LATERAL (SELECT r.expires_at - k.o * interval '1 day' AS due) AS d
        """,
        list(OFFSETS),
    )
    await conn.execute(
        "ALTER TABLE reminder ADD CONSTRAINT uq_reminder_unit_key UNIQUE (unit_id, key)"
    )
    await conn.execute("CREATE INDEX ix_reminder_due ON reminder (status, next_attempt_at)")
    await conn.execute("CREATE INDEX ix_reminder_request_id ON reminder (request_id)")
    await conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


CLAIM_SQL = """
SELECT reminder.id FROM reminder
WHERE reminder.status = 'pending' AND reminder.next_attempt_at <= now()
ORDER BY reminder.next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED
"""
LEASE_SQL = """
SELECT reminder.id FROM reminder
WHERE reminder.status = 'sending' AND reminder.lease_until < now()
ORDER BY reminder.lease_until LIMIT 50 FOR UPDATE SKIP LOCKED
"""
LAPSE_SQL = """
SELECT preservation_request.id FROM preservation_request
WHERE preservation_request.expires_at <= now()
  AND preservation_request.status IN ('sent', 'preserved', 'extension_requested', 'mla_sent')
ORDER BY preservation_request.expires_at LIMIT 100 FOR UPDATE SKIP LOCKED
"""


def check_claim_sql() -> None:
    """The SQL above is what claims.claim issues (compiled by SQLAlchemy), modulo the instant."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from preservation.storage.models import Reminder

    stmt = (
        select(Reminder.id)
        .where(Reminder.status == "pending", Reminder.next_attempt_at <= "NOW")
        .order_by(Reminder.next_attempt_at)
        .limit(50)
        .with_for_update(skip_locked=True)
    )
    compiled = str(stmt.compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE SKIP LOCKED" in compiled and "ORDER BY reminder.next_attempt_at" in compiled


async def explain(conn: asyncpg.Connection, sql: str) -> str:
    """EXPLAIN ANALYZE in a transaction that is rolled back (FOR UPDATE takes row locks)."""
    tr = conn.transaction()
    await tr.start()
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
    finally:
        await tr.rollback()
    return "\n".join(r[0] for r in rows)


async def make_due(conn: asyncpg.Connection, tag: str, count: int) -> float:
    """Insert `count` reminder rows due now (one per request); returns the instant (epoch)."""
    at = time.time()
    await conn.execute(
        """
        INSERT INTO reminder (unit_id, request_id, kind, key, due_at, status, attempts,
                              next_attempt_at, late, last_error, created_at)
        SELECT unit_id, id, 'expiry_minus_1d', id || ':bench-' || $1, now(), 'pending', 0, now(),
               false, '', now()
        FROM preservation_request ORDER BY id LIMIT $2
        """,
        tag,
        count,
    )
    return at


async def wait_delivered(conn: asyncpg.Connection, tag: str, count: int, limit: float) -> float:
    started = time.time()
    while time.time() - started < limit:
        done = await conn.fetchval(
            "SELECT count(*) FROM reminder WHERE key LIKE $1 AND status = 'delivered'",
            f"%:bench-{tag}",
        )
        if done >= count:
            return time.time()
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{tag}: not all {count} delivered within {limit}s")


async def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--sink":
        run_sink(int(sys.argv[2]), sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--deliver", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    base = os.environ.get("PRESERVATION_TEST_POSTGRES", "")
    if not base:
        print("set PRESERVATION_TEST_POSTGRES=postgresql+asyncpg://...", file=sys.stderr)
        return 2
    check_claim_sql()
    admin = base.replace("postgresql+asyncpg://", "postgresql://")
    name = f"pd_bench_reminders_{os.getpid()}"
    url = base.rsplit("/", 1)[0] + "/" + name
    results: dict[str, object] = {
        "requests": args.requests,
        "deliver": args.deliver,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    conn0 = await asyncpg.connect(admin)
    await conn0.execute(f'CREATE DATABASE "{name}"')
    await conn0.close()
    servers: list[Server] = []
    try:
        await asyncio.to_thread(upgrade_sync, url)
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        results["load_seconds"] = round(await populate(conn, args.requests), 1)
        results["reminder_rows"] = await conn.fetchval("SELECT count(*) FROM reminder")
        results["pending_rows"] = await conn.fetchval(
            "SELECT count(*) FROM reminder WHERE status = 'pending'"
        )
        print(f"loaded: {json.dumps(results)}", flush=True)
        plans = {
            "claim_due": await explain(conn, CLAIM_SQL),
            "claim_lease_expired": await explain(conn, LEASE_SQL),
            "lapse_candidates": await explain(conn, LAPSE_SQL),
        }
        for label, plan in plans.items():
            print(f"--- {label}\n{plan}", flush=True)
        results["claim_plan_index_scan"] = "Index" in plans["claim_due"] and (
            "Seq Scan" not in plans["claim_due"]
        )

        with tempfile.TemporaryDirectory() as tmp:
            sink_out = Path(tmp) / "sink.txt"
            sink_out.touch()
            sink_proc, sink_port = start_sink(sink_out)
            env = clean_env(
                PRESERVATION_DATABASE_URL=url,
                PRESERVATION_SMTP_HOST="127.0.0.1",
                PRESERVATION_SMTP_PORT=str(sink_port),
                PRESERVATION_LOAD_DEMO="false",
                PRESERVATION_CLAIM_INTERVAL_SECONDS="1",
                PRESERVATION_LOG_LEVEL="WARNING",
            )
            node = Server(env={**env, "PRESERVATION_NODE_NAME": "bench-1"}, cwd=Path(tmp))
            await asyncio.to_thread(node.start)
            servers.append(node)
            await asyncio.sleep(15)  # the start-up sweeps and the periodic job have run
            assert node.proc is not None
            results["rss_after_start_kb"] = rss_kb(node.proc.pid)
            print(f"node rss after start: {results['rss_after_start_kb']}", flush=True)

            due_at = await make_due(conn, "one", args.deliver)
            done_at = await wait_delivered(conn, "one", args.deliver, limit=600)
            results["one_node_seconds"] = round(done_at - due_at, 1)
            results["rss_after_delivery_kb"] = rss_kb(node.proc.pid)
            print(
                f"one node: {results['one_node_seconds']}s; rss {results['rss_after_delivery_kb']}",
                flush=True,
            )

            node2 = Server(env={**env, "PRESERVATION_NODE_NAME": "bench-2"}, cwd=Path(tmp))
            await asyncio.to_thread(node2.start)
            servers.append(node2)
            await asyncio.sleep(5)
            due_at = await make_due(conn, "two", args.deliver)
            done_at = await wait_delivered(conn, "two", args.deliver, limit=600)
            results["two_nodes_seconds"] = round(done_at - due_at, 1)
            results["by_node_two"] = dict(
                await conn.fetch(
                    "SELECT claimed_by, count(*) FROM reminder WHERE key LIKE '%:bench-two'"
                    " GROUP BY claimed_by"
                )
            )
            keys = sink_keys(sink_out)
            results["sink_messages"] = len(keys)
            results["sink_repeats"] = len(keys) - len(set(keys))
            print(f"two nodes: {results['two_nodes_seconds']}s", flush=True)
            for s in servers:
                await asyncio.to_thread(s.stop)
            sink_proc.kill()
            sink_proc.wait()
        await conn.close()
    finally:
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.kill()
        if not args.keep:
            conn0 = await asyncpg.connect(admin)
            await conn0.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn0.close()
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
