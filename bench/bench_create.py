"""Benchmark: create a submitted preservation request with three identifiers over HTTP.

Starts the real service (`python -m preservation.cli serve`, scheduler and all) in a subprocess
on 127.0.0.1, and, in the same run, a bare aiohttp server whose handler only parses the JSON body
and answers 201: the difference is what the service itself costs. Then, for each server:

- latency: N sequential requests (one connection, one request at a time): median and p99;
- throughput: C concurrent clients sending M requests in all: requests per second (and the
  median and p99 under that load).

Loops are bounded (fixed counts), the servers listen on 127.0.0.1 only, and every request is
checked (201 and status "queued") so a failing server cannot look fast.

    .venv/bin/python bench/bench_create.py                       # SQLite only
    .venv/bin/python bench/bench_create.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

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

BARE_SERVER = """
import sys
from aiohttp import web

async def create(request):
    body = await request.json()
    return web.json_response({"id": 1, "status": "queued", "identifiers": body["identifiers"]}, status=201)

app = web.Application(client_max_size=1048576)
app.router.add_post("/api/v1/requests", create)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_body() -> dict[str, Any]:
    # Times in the past (no instant in the future is accepted), in three zones.
    seen = datetime.now(UTC) - timedelta(days=1)
    berlin = seen.strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "case_reference": "BENCH-1",
        "offence": "Computer fraud",
        "summary": "Phishing campaign; the account sent the lure e-mails.",
        "relevance": "Subscriber data and logins identify the sender.",
        "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
        "country": "US",
        "provider": "benchmail",
        "data_categories": ["subscriber", "traffic", "content"],
        "urgent": True,
        "urgency_reason": "The account may be deleted tonight.",
        "identifiers": [
            {
                "type": "ipv4",
                "value": "203.0.113.7",
                "port": 51234,
                "at": berlin,
                "tz": "Europe/Berlin",
            },
            {
                "type": "email",
                "value": "suspect@example.com",
                "from": (seen - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
                "to": seen.strftime("%Y-%m-%dT%H:%M"),
                "tz": "Asia/Kathmandu",
            },
            {"type": "account", "platform": "instagram", "value": "some.handle"},
        ],
        "submit": True,
    }


async def prepare_database(url: str) -> str:
    """Migrate, create an officer token, fill in the unit profile, add one provider."""
    from sqlalchemy import update

    from preservation.access.auth import create_token
    from preservation.storage.db import Database, upgrade
    from preservation.storage.models import Unit
    from providers.models import Provider

    await upgrade(url)
    db = Database(url)
    try:
        now = datetime.now(UTC)
        async with db.write() as s:
            token = await create_token(s, unit="bench", role="officer", user="bench", now=now)
        async with db.write() as s:
            await s.execute(
                update(Unit)
                .where(Unit.name == "bench")
                .values(
                    authority="Benchmark Unit",
                    email="bench@police.example",
                    phone="+35722000000",
                    # The requesting State (required to submit): Cyprus, a Party to the
                    # Convention on Cybercrime (config/parties.toml).
                    country="CY",
                    copy_to_poc=False,
                )
            )
            # A portal hand-off: the dispatcher leaves it to the officer, so no delivery
            # attempts (to an SMTP server that is not there) compete with the requests.
            s.add(
                Provider(
                    slug="benchmail",
                    name="BenchMail Inc.",
                    country="US",
                    portal_url="https://le.benchmail.test/portal",
                    accepts_foreign_direct=True,
                    notifies_user="never",
                    verified_on=now.date(),
                )
            )
        return token
    finally:
        await db.dispose()


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


async def run_client(
    port: int, token: str, *, sequential: int, concurrent: int, clients: int, warmup: int
) -> dict[str, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/api/v1/requests"
    headers = {"Authorization": f"Bearer {token}"}
    body = json.dumps(request_body()).encode()
    headers["Content-Type"] = "application/json"

    async def one(session: aiohttp.ClientSession) -> float:
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            data = await resp.json()
            if resp.status != 201 or data.get("status") != "queued":
                raise RuntimeError(f"unexpected answer {resp.status}: {str(data)[:500]}")
        return time.perf_counter() - started

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(warmup):
            await one(session)
        latencies = [await one(session) for _ in range(sequential)]

        loaded: list[float] = []
        per_client = concurrent // clients

        async def worker() -> None:
            for _ in range(per_client):
                loaded.append(await one(session))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "rps": len(loaded) / elapsed,
        "loaded_median_ms": statistics.median(loaded) * 1000,
        "loaded_p99_ms": pct(loaded, 99) * 1000,
        "requests": len(latencies) + len(loaded),
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


def bench_service(url: str, args: argparse.Namespace) -> dict[str, float]:
    token = asyncio.run(prepare_database(url))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVATION_")}
    env.update(
        PRESERVATION_DATABASE_URL=url,
        PRESERVATION_LOAD_DEMO="false",
        PRESERVATION_LOG_LEVEL="WARNING",
        PRESERVATION_NODE_NAME="bench",
        PRESERVATION_AUTH_FAILURES_PER_MINUTE="1000",
    )
    proc = start(
        [sys.executable, "-m", "preservation.cli", "serve", "--port", str(port)], env, port
    )
    try:
        return asyncio.run(
            run_client(
                port,
                token,
                sequential=args.sequential,
                concurrent=args.concurrent,
                clients=args.clients,
                warmup=args.warmup,
            )
        )
    finally:
        stop(proc)


def bench_bare(args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    proc = start([sys.executable, "-c", BARE_SERVER, str(port)], dict(os.environ), port)
    try:
        return asyncio.run(
            run_client(
                port,
                "none",
                sequential=args.sequential,
                concurrent=args.concurrent,
                clients=args.clients,
                warmup=args.warmup,
            )
        )
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (postgresql+asyncpg://...) to bench too")
    parser.add_argument("--sequential", type=int, default=500, help="sequential requests")
    parser.add_argument("--concurrent", type=int, default=2000, help="requests under load")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    for name in ("sequential", "concurrent", "clients", "warmup"):
        if not 0 <= getattr(args, name) <= 100_000:
            parser.error(f"--{name} must be between 0 and 100000")
    if args.sequential < 1 or args.concurrent < args.clients or args.clients < 1:
        parser.error("need --sequential >= 1 and --concurrent >= --clients >= 1")

    results: dict[str, dict[str, float]] = {}
    results["bare aiohttp handler"] = bench_bare(args)
    with tempfile.TemporaryDirectory() as tmp:
        results["service, SQLite"] = bench_service(
            f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args
        )
    if args.postgres:
        name = f"pd_bench_{uuid.uuid4().hex[:10]}"
        url = asyncio.run(pg_database(args.postgres, name, drop=False))
        try:
            results["service, PostgreSQL"] = bench_service(url, args)
        finally:
            asyncio.run(pg_database(args.postgres, name, drop=True))

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()};"
        f" {args.sequential} sequential, {args.concurrent} with {args.clients} clients"
    )
    print(
        "| server | median ms | p99 ms | req/s (8 clients) | median ms under load | p99 ms under load |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | {r['rps']:.0f}"
            f" | {r['loaded_median_ms']:.2f} | {r['loaded_p99_ms']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
