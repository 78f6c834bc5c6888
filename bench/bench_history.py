"""Benchmark: reads as history grows, and a node that never freezes (issue 15).

For each engine (SQLite; PostgreSQL with --postgres) and each size (default 1,000, 10,000 and
100,000 requests, 70 % of them in the unit "main"): a fresh database is migrated and filled with
bulk Core inserts (bench/history_data.py: a steady 40 requests a day, so a longer history, not
a larger open set), the real service is started (`python -m preservation.cli serve`, scheduler,
dispatcher and all, in a subprocess on 127.0.0.1), and, in the same run, a bare aiohttp server
answering a small JSON object. Then, over HTTP on keep-alive connections:

- latency (sequential, one connection): p50 and p99 of the dashboard page, the request list
  (first page, and a page deep in the history), one request, its events, the deadline list, the
  calendar feed (built, served from the node's cache, and 304 to a client whose copy is
  current), and the bare handler;
- throughput: 8 clients, requests per second, of the same reads;
- a stall probe: /healthz polled every 20 ms while one thing happens: a feed built, a PDF letter,
  an import of 10,000 providers over the API, a directory change (a provider changed, then a
  look-up, which waits for the new snapshot); the slowest poll and how many took over 100 ms;
- reminder lag: 60 reminders made due 6-20 s ahead (written by another connection, as another
  node would), delivered to an SMTP sink on loopback; lag = delivered_at - due_at;
- the node's resident memory after all that (VmRSS, and its peak VmHWM).

Every answer is checked (status, and a field of the body), so a failing server cannot look fast.

    .venv/bin/python bench/bench_history.py                       # SQLite, 1k 10k 100k
    .venv/bin/python bench/bench_history.py --sizes 1000 --requests 100
    .venv/bin/python bench/bench_history.py --engines postgres --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

The PostgreSQL URL names a server database used only to create and drop a scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import history_data  # noqa: E402
from history_client import pct, run_client  # noqa: E402

BARE_SERVER = """
import sys
from aiohttp import web

async def handler(request):
    return web.json_response({"items": [{"id": 1, "reference": "PR-2026-000001"}], "next": None})

app = web.Application()
app.router.add_get("/bare", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

SINK = """
import sys, time
from aiosmtpd.controller import Controller

class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1])).start()
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
            raise RuntimeError(f"{what} exited: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not start within 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss(pid: int) -> dict[str, float]:
    """The node's resident memory (and its peak), and its worker processes' (the PDF renderer)."""
    out: dict[str, float] = {"workers": 0.0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["workers"] += int(line.split()[1]) / 1024
    return out


# --- the database -----------------------------------------------------------------------------


async def prepare(url: str, size: int) -> dict[str, Any]:
    """Migrate, fill, and make what the client needs: tokens, a feed, sample ids."""
    from sqlalchemy import func, select, update

    from preservation.access import feeds
    from preservation.access.auth import Principal, create_token
    from preservation.storage.db import Database, upgrade
    from preservation.storage.models import PreservationRequest, Unit, User

    await upgrade(url)
    started = time.perf_counter()
    await history_data.build(url, size)
    built = time.perf_counter() - started
    db = Database(url)
    R = PreservationRequest
    try:
        now = datetime.now(UTC)
        async with db.write() as s:
            officer = await create_token(s, unit="main", role="officer", user="officer", now=now)
            keeper = await create_token(
                s, unit="main", role="directory", user="directory-keeper", now=now
            )
        async with db.write() as s:
            unit_id = (await s.execute(select(Unit.id).where(Unit.name == "main"))).scalar_one()
            await s.execute(
                update(Unit).where(Unit.id == unit_id).values(alert_emails=["duty@main.example"])
            )
            user = (
                await s.execute(select(User).where(User.unit_id == unit_id, User.name == "officer"))
            ).scalar_one()
            principal = Principal(
                user_id=user.id,
                user_name=user.name,
                unit_id=unit_id,
                unit_name="main",
                role="officer",
            )
            feed = await feeds.create_feed(s, principal=principal, now=now)
        async with db.read() as s:
            in_unit = (
                await s.execute(select(func.count()).select_from(R).where(R.unit_id == unit_id))
            ).scalar_one()
            one = (
                await s.execute(
                    select(func.max(R.id)).where(R.unit_id == unit_id, R.status == "preserved")
                )
            ).scalar_one()
            ids = (
                await s.execute(select(R.id).where(R.unit_id == unit_id).order_by(R.id))
            ).scalars()
            ids = list(ids)
            open_count = (
                await s.execute(
                    select(func.count())
                    .select_from(R)
                    .where(
                        R.unit_id == unit_id,
                        R.status.in_(("sent", "preserved", "extension_requested", "mla_sent")),
                    )
                )
            ).scalar_one()
    finally:
        await db.dispose()
    from preservation.domain import paging

    middle = ids[len(ids) // 2]
    deep = paging.encode("requests", paging.fingerprint(unit_id, None, None, None), (middle,))
    return {
        "officer": officer,
        "keeper": keeper,
        "feed": feeds.feed_path(feed),
        "unit_id": unit_id,
        "one": one,
        "deep_cursor": deep,
        "in_unit": in_unit,
        "open_in_unit": open_count,
        "build_seconds": built,
    }


def prepare_elsewhere(url: str, size: int) -> dict[str, Any]:
    """`prepare` in a process of its own, its answer read as JSON.

    Building 100,000 requests leaves the builder's process with a large heap (and a garbage
    collector walking it); measured from that process, every read, the bare handler's too, came
    out twice as slow at 100,000 as at 10,000, while a fresh client saw both the same. The
    client that measures is a small process, as a real one is.
    """
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--prepare", url, str(size)],
        cwd=str(ROOT),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"preparing {size} requests failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


async def schedule_reminders(url: str, unit_id: int, count: int) -> tuple[list[int], datetime]:
    """`count` reminder rows due 6-20 s from now, written by another connection."""
    from sqlalchemy import insert

    from preservation.storage.db import Database
    from preservation.storage.models import Reminder

    db = Database(url)
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        due = now + timedelta(seconds=6 + 14 * i / count)
        rows.append(
            {
                "unit_id": unit_id,
                "kind": "alert_bench",
                "key": f"bench-lag:{uuid.uuid4().hex}",
                "due_at": due,
                "next_attempt_at": due,
                "status": "pending",
                "attempts": 0,
                "late": False,
                "payload": {"subject": "bench", "text": "a reminder"},
                "last_error": "",
                "created_at": now,
            }
        )
    try:
        async with db.write() as s:
            result = await s.execute(insert(Reminder).returning(Reminder.id), rows)
            ids = [r[0] for r in result.all()]
    finally:
        await db.dispose()
    return ids, now


async def reminder_lag(url: str, ids: list[int]) -> dict[str, float]:
    from sqlalchemy import select

    from preservation.storage.db import Database
    from preservation.storage.models import Reminder

    db = Database(url)
    try:
        async with db.read() as s:
            rows = (
                await s.execute(
                    select(Reminder.status, Reminder.due_at, Reminder.delivered_at).where(
                        Reminder.id.in_(ids)
                    )
                )
            ).all()
    finally:
        await db.dispose()
    lags = [(d - due).total_seconds() for st, due, d in rows if st == "delivered" and d]
    return {
        "delivered": len(lags),
        "of": len(ids),
        "p50_s": statistics.median(lags) if lags else float("nan"),
        "p99_s": pct(lags, 99) if lags else float("nan"),
        "max_s": max(lags) if lags else float("nan"),
    }


async def pg_database(admin_url: str, name: str, *, drop: bool) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def bench_engine(url: str, size: int, args: argparse.Namespace, bare_port: int) -> dict[str, Any]:
    smtp_port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(smtp_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_port(sink, smtp_port, "SMTP sink")
    try:
        info = prepare_elsewhere(url, size)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVATION_")}
        env.update(
            PRESERVATION_DATABASE_URL=url,
            PRESERVATION_LOAD_DEMO="true",
            PRESERVATION_LOG_LEVEL="WARNING",
            PRESERVATION_NODE_NAME="bench",
            PRESERVATION_AUTH_FAILURES_PER_MINUTE="100000",
            PRESERVATION_MAX_BODY_BYTES=str(64 * 1024 * 1024),
            PRESERVATION_SMTP_HOST="127.0.0.1",
            PRESERVATION_SMTP_PORT=str(smtp_port),
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "preservation.cli", "serve", "--port", str(port)],
            env=env,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_port(proc, port, "service")
        try:
            # Reminders due while the reads run.
            info["node_pid"] = proc.pid
            ids, _ = asyncio.run(schedule_reminders(url, info["unit_id"], args.reminders))
            scheduled = time.monotonic()
            result = asyncio.run(
                run_client(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}", info, args)
            )
            # The last reminder is due 20 s after they were written.
            time.sleep(max(0.0, scheduled + 25 - time.monotonic()))
            result["reminder_lag"] = asyncio.run(reminder_lag(url, ids))
            result["rss_mb"] = rss(proc.pid)
        finally:
            stop(proc)
        result["data"] = {k: info[k] for k in ("in_unit", "open_in_unit", "build_seconds")}
        result["load_average"] = os.getloadavg()[0]
        return result
    finally:
        stop(sink)


def print_tables(results: dict[str, dict[int, dict[str, Any]]], args: argparse.Namespace) -> None:
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()};"
        f" {args.requests} sequential requests per read, {args.throughput} with"
        f" {args.clients} clients; load average {os.getloadavg()[0]:.1f}"
    )
    for engine, by_size in results.items():
        sizes = sorted(by_size)
        print(f"\n### {engine}\n")
        print("| read | " + " | ".join(f"{s:,}: p50 / p99 ms, req/s" for s in sizes) + " |")
        print("|---|" + "---:|" * len(sizes))
        names = list(by_size[sizes[0]]["latency"])
        for name in names:
            cells = []
            for s in sizes:
                lat = by_size[s]["latency"][name]
                cells.append(
                    f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f}, {by_size[s]['throughput'][name]:.0f}"
                )
            print(f"| {name} | " + " | ".join(cells) + " |")
        print()
        print(
            "| size | requests in main (open) | feed built: ms (events, MB, gzip MB)"
            " | reminder lag p50 / p99 / max s | node RSS after (peak) MB | PDF worker MB"
            " | load average | built in s | deadline page items |"
        )
        print("|---|---|---|---|---|---|---:|---:|---:|")
        for s in sizes:
            r = by_size[s]
            fb = r["feed_build"]
            lag = r["reminder_lag"]
            print(
                f"| {s:,} | {r['data']['in_unit']:,} ({r['data']['open_in_unit']:,}) |"
                f" {fb['p50_ms']:.0f} (max {fb['max_ms']:.0f}; {fb['events']:,} events,"
                f" {fb['bytes'] / 1e6:.1f} MB, {r['feed_gzip_bytes'] / 1e6:.2f} MB) |"
                f" {lag['p50_s']:.3f} / {lag['p99_s']:.3f} / {lag['max_s']:.3f}"
                f" ({lag['delivered']}/{lag['of']}) |"
                f" {r['rss_mb'].get('VmRSS', 0):.0f} ({r['rss_mb'].get('VmHWM', 0):.0f}) |"
                f" {r['rss_mb'].get('workers', 0):.0f} | {r['load_average']:.1f} |"
                f" {r['data']['build_seconds']:.0f} | {r.get('deadline_page_items', '')} |"
            )
        print()
        phases = list(by_size[sizes[0]].get("rss_phases", {}))
        if phases:
            print("| size | node RSS MB after: " + " | ".join(phases) + " |")
            print("|---|" + "---:|" * len(phases))
            for s in sizes:
                got = by_size[s].get("rss_phases", {})
                print(f"| {s:,} | " + " | ".join(f"{got.get(k, 0):.0f}" for k in phases) + " |")
            print()
        print("| size | stall case | took s | /healthz polls | slowest ms | p99 ms | over 100 ms |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for s in sizes:
            for case, st in by_size[s]["stalls"].items():
                print(
                    f"| {s:,} | {case} | {st['action_s']:.2f} | {st['polls']} |"
                    f" {st['max_ms']:.0f} | {st['p99_ms']:.0f} | {st['over_100ms']} |"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    parser.add_argument("--postgres", help="PostgreSQL URL (postgresql+asyncpg://...)")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per read")
    parser.add_argument("--throughput", type=int, default=400, help="requests per read under load")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--providers", type=int, default=10_000, help="rows of the import")
    parser.add_argument("--reminders", type=int, default=60)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--prepare", nargs=2, metavar=("URL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps(asyncio.run(prepare(args.prepare[0], int(args.prepare[1])))))
        return 0
    if "postgres" in args.engines and not args.postgres:
        parser.error("--engines postgres needs --postgres URL")
    for size in args.sizes:
        if not 100 <= size <= 1_000_000:
            parser.error("each size must be between 100 and 1,000,000")
    if not (1 <= args.requests <= 100_000 and 1 <= args.clients <= 64):
        parser.error("bad --requests or --clients")

    bare_port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER, str(bare_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_port(bare, bare_port, "bare server")
    results: dict[str, dict[int, dict[str, Any]]] = {}
    try:
        for engine in args.engines:
            results[engine] = {}
            for size in args.sizes:
                print(f"{engine}, {size:,} requests ...", file=sys.stderr, flush=True)
                if engine == "sqlite":
                    with tempfile.TemporaryDirectory() as tmp:
                        url = f"sqlite+aiosqlite:///{Path(tmp) / 'history.db'}"
                        results[engine][size] = bench_engine(url, size, args, bare_port)
                else:
                    name = f"pd_history_{uuid.uuid4().hex[:10]}"
                    url = asyncio.run(pg_database(args.postgres, name, drop=False))
                    try:
                        results[engine][size] = bench_engine(url, size, args, bare_port)
                    finally:
                        asyncio.run(pg_database(args.postgres, name, drop=True))
                if args.json:
                    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    finally:
        stop(bare)
    print_tables(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
