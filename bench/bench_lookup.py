"""Benchmark: GET /api/v1/lookup over HTTP with a large directory loaded.

Fills a fresh database with 10,000 providers (each with two domains and an alias) and one
point of contact for each of 200 countries (through the import code, timed), creates an
officer's token, then starts in a subprocess the real application (``create_app``: middleware,
bearer authentication, the directory snapshot, routing) on aiohttp's ``web.AppRunner`` and
``web.TCPSite`` on 127.0.0.1, and, in the same run, a bare aiohttp server whose handler answers
a small JSON object. For each server and each concurrency C: C clients on keep-alive connections
send N requests in all; we report the median and p99 latency and the requests per second.

The look-ups cycle through a fixed mix: e-mail addresses and URLs at the generated providers'
domains and sub-domains, Gmail addresses, phone numbers of the 200 countries, IPv4 addresses
and Instagram accounts. Every answer is checked (200, and the provider or country expected), so
a failing server cannot look fast.

    .venv/bin/python bench/bench_lookup.py
    .venv/bin/python bench/bench_lookup.py --requests 5000 --concurrency 1 8 --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

The client is Python (aiohttp) in this process; the servers are one process each; both share
the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APP_SERVER = """
import asyncio, logging, sys
from aiohttp import web
from preservation.settings import load_settings
from preservation.web.app import create_app

async def main(url, port):
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(environ={}, database_url=url, load_demo=False, log_level="WARNING")
    app = create_app(settings, migrate=False, scheduler=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

BARE_SERVER = """
import asyncio, sys
from aiohttp import web

async def handler(request):
    return web.json_response({"identifier": request.query.get("identifier"), "provider": None})

async def main(port):
    app = web.Application()
    app.router.add_get("/api/v1/lookup", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1])))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def countries(n: int) -> list[str]:
    """n countries whose example phone number phonenumbers maps back to them."""
    import phonenumbers
    import pycountry

    out = []
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        example = phonenumbers.example_number(c.alpha_2)
        if example is not None and phonenumbers.region_code_for_number(example) == c.alpha_2:
            out.append(c.alpha_2)
        if len(out) == n:
            break
    return out


def provider_rows(n: int, codes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "slug": f"prov-{i:05d}",
                "name": f"Provider {i:05d}",
                "aliases": [f"pv{i:05d}"],
                "domains": [f"prov{i:05d}.com", f"prov{i:05d}-mail.net"],
                "country": codes[i % len(codes)],
                "portal_url": f"https://le.prov{i:05d}.com/" if i % 3 == 0 else None,
                "le_email": f"legal@prov{i:05d}.com" if i % 3 == 1 else None,
                "accepts_foreign_direct": [True, True, None, False][i % 4],
                "verified_on": "2026-11-01",
                "source": f"https://prov{i:05d}.com/law-enforcement",
            }
        )
    return rows


def contact_rows(codes: list[str]) -> list[dict[str, Any]]:
    import phonenumbers

    rows = []
    for code in codes:
        number = phonenumbers.example_number(code)
        rows.append(
            {
                "country": code,
                "authority": f"Bench 24/7 point of contact {code}",
                "phones": [phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)],
                "emails": [f"poc-{code.lower()}@example.org"],
                "languages": ["en"],
                "verified_on": "2026-11-01",
                "demo": True,
            }
        )
    return rows


def workload(n_providers: int, codes: list[str], size: int = 2000) -> list[tuple[str, str]]:
    """(identifier, expected provider slug or country) pairs, a fixed mix."""
    import phonenumbers

    from preservation.directory.carriers import ip_country

    rnd = random.Random(7)
    phones = {
        c: phonenumbers.format_number(
            phonenumbers.example_number(c), phonenumbers.PhoneNumberFormat.E164
        )
        for c in codes
    }
    out = []
    for k in range(size):
        i = rnd.randrange(n_providers)
        kind = k % 10
        if kind < 3:
            out.append((f"user{k}@prov{i:05d}.com", f"prov-{i:05d}"))
        elif kind < 5:
            out.append((f"https://www.prov{i:05d}-mail.net/u/{k}", f"prov-{i:05d}"))
        elif kind == 5:
            out.append((f"someone{k}@gmail.com", "google"))
        elif kind < 8:
            c = codes[k % len(codes)]
            out.append((phones[c], c))
        elif kind == 8:
            # The State the block is registered in (the registries' data in the iptocc wheel).
            ip = f"203.0.{k % 256}.{(k * 7) % 256}"
            out.append((ip, ip_country(ip) or "-"))
        else:
            out.append((f"instagram:handle.{k}", "meta"))
    return out


async def fill(url: str, n_providers: int, n_countries: int) -> tuple[str, list[str], float]:
    from preservation.access.auth import create_token
    from preservation.directory.changes import Author
    from preservation.directory.io import import_directory
    from preservation.directory.service import load_demo_if_empty
    from preservation.storage.db import Database, upgrade

    await upgrade(url)
    codes = countries(n_countries)
    db = Database(url)
    try:
        async with db.write() as session:
            # The seed providers (Google, Meta ...).
            await load_demo_if_empty(session, now=datetime.now(UTC))
        started = time.perf_counter()
        for kind, rows in (
            ("providers", provider_rows(n_providers, codes)),
            ("contacts", contact_rows(codes)),
        ):
            async with db.write() as session:
                report = await import_directory(
                    session,
                    content=json.dumps(rows),
                    fmt="json",
                    kind=kind,
                    by=Author(actor="bench", unit="", at=datetime.now(UTC)),
                )
            assert report.written and not report.errors, report.errors[:3]
        import_seconds = time.perf_counter() - started
        async with db.write() as session:
            token = await create_token(
                session, unit="bench", role="officer", user="bench", now=datetime.now(UTC)
            )
    finally:
        await db.dispose()
    return token, codes, import_seconds


def start(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PRESERVATION_")},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc


async def run(
    base: str,
    token: str,
    items: list[tuple[str, str]],
    *,
    concurrency: int,
    requests: int,
    check: bool,
) -> dict[str, float]:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker(session: aiohttp.ClientSession) -> None:
        for k in counter:
            identifier, expected = items[k % len(items)]
            t0 = time.perf_counter()
            async with session.get(
                base + "/api/v1/lookup", params={"identifier": identifier}, headers=headers
            ) as resp:
                body = await resp.read()
            latencies.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise RuntimeError(f"{identifier}: {resp.status} {body[:300]!r}")
            if check:
                data = json.loads(body)
                got = (data["provider"] or {}).get("slug") or data["country"] or "-"
                if got != expected:
                    raise RuntimeError(f"{identifier}: expected {expected}, got {got}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # warm-up: connections, the directory snapshot, caches
        warm = iter(range(min(300, requests)))
        for k in warm:
            async with session.get(
                base + "/api/v1/lookup", params={"identifier": items[k][0]}, headers=headers
            ) as resp:
                await resp.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "rps": len(latencies) / elapsed,
    }


async def bench(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    token, codes, import_seconds = await fill(url, args.providers, args.countries)
    print(
        f"loaded {args.providers} providers and {len(codes)} countries' contacts "
        f"in {import_seconds:.1f} s (validated import)",
        file=sys.stderr,
    )
    items = workload(args.providers, codes)
    results = []
    for name, script, extra, check in (
        ("bare aiohttp JSON handler", BARE_SERVER, (), False),
        ("GET /api/v1/lookup", APP_SERVER, (url,), True),
    ):
        port = free_port()
        proc = start(script, *extra, str(port))
        try:
            for c in args.concurrency:
                figures = await run(
                    f"http://127.0.0.1:{port}",
                    token,
                    items,
                    concurrency=c,
                    requests=args.requests,
                    check=check,
                )
                results.append({"server": name, "concurrency": c, **figures})
                print(
                    f"{name:28} c={c:<3} median {figures['median_ms']:.2f} ms  "
                    f"p99 {figures['p99_ms']:.2f} ms  {figures['rps']:.0f} req/s",
                    file=sys.stderr,
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| server | concurrency | median (ms) | p99 (ms) | requests/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['server']} | {r['concurrency']} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['rps']:.0f} |"
        )
    bare = {r["concurrency"]: r["rps"] for r in results if r["server"].startswith("bare")}
    for r in results:
        if not r["server"].startswith("bare"):
            share = r["rps"] / bare[r["concurrency"]]
            lines.append(
                f"\nc={r['concurrency']}: look-up throughput is {share:.0%} of the bare handler's"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--providers", type=int, default=10_000)
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000, help="per server and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL: bench there (a scratch database) too"
    )
    args = parser.parse_args()
    print(
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, {date.today()}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        print("\n## SQLite\n" + table(asyncio.run(bench(url, args))))
    if args.postgres:
        import asyncpg

        name = f"pd_bench_{uuid.uuid4().hex[:8]}"
        admin = args.postgres.replace("postgresql+asyncpg://", "postgresql://")

        async def sql(statement: str) -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(sql(f'CREATE DATABASE "{name}"'))
        try:
            url = args.postgres.rsplit("/", 1)[0] + "/" + name
            print("\n## PostgreSQL\n" + table(asyncio.run(bench(url, args))))
        finally:
            asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
