"""The client side of bench_history.py: sequential latency, throughput with concurrent clients,
and the stall probe (/healthz every 20 ms while one thing happens), over HTTP with aiohttp."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import statistics
import time
import uuid
from typing import Any

#: The deadline list's page, and its name in the tables.
PAGE = 100
DEADLINE_PAGE = f"deadline list (a page of {PAGE}, 90 days)"
#: Reads timed as the bytes arrive (gzip), without the client's decompression.
RAW = {"feed, served from cache"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def provider_file(n: int) -> str:
    """A directory import of `n` providers (JSON), each with two domains and an e-mail."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "slug": f"bench-{i:05d}",
                "name": f"Bench Provider {i:05d}",
                "aliases": [f"bp{i:05d}"],
                "domains": [f"bench{i:05d}.example", f"bench{i:05d}-mail.example"],
                "country": "US",
                "le_email": f"legal@bench{i:05d}.example",
                "accepts_foreign_direct": True,
                "verified_on": "2026-11-01",
            }
        )
    return json.dumps(rows)


def plain(body: bytes, headers: Any) -> bytes:
    """A body as sent (`raw`), decompressed when it was sent gzipped."""
    return gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body


class Client:
    def __init__(self, base: str, session: Any) -> None:
        self.base = base
        self.session = session

    async def one(
        self,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        expect: int = 200,
        check: str | None = None,
        method: str = "GET",
        data: Any = None,
        raw: bool = False,
    ) -> tuple[float, bytes, Any]:
        started = time.perf_counter()
        async with self.session.request(
            method, self.base + path, headers=headers or {}, data=data, auto_decompress=not raw
        ) as resp:
            body = await resp.read()
            took = time.perf_counter() - started
            # `raw`: the body as the server sent it, timed without the client's decompression
            # (a feed of 6 MB takes the client 10-15 ms to gunzip: not the server's time).
            shown = plain(body, resp.headers) if raw else body
            if resp.status != expect or (check is not None and check.encode() not in shown):
                raise RuntimeError(f"{method} {path}: {resp.status} {body[:300]!r}")
            return took, body, resp.headers

    async def latency(self, path: str, n: int, warmup: int, **kw: Any) -> dict[str, float]:
        for _ in range(warmup):
            await self.one(path, **kw)
        times = [(await self.one(path, **kw))[0] for _ in range(n)]
        return {
            "p50_ms": statistics.median(times) * 1000,
            "p99_ms": pct(times, 99) * 1000,
            "n": n,
        }

    async def throughput(self, path: str, total: int, clients: int, **kw: Any) -> float:
        per = total // clients

        async def worker() -> None:
            for _ in range(per):
                await self.one(path, **kw)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return per * clients / (time.perf_counter() - started)


async def stall_probe(client: Client, action: Any) -> dict[str, float]:
    """Poll /healthz every 20 ms while `action` runs; the slowest poll and the slow ones."""
    import aiohttp

    polls: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        async with aiohttp.ClientSession() as own:
            prober = Client(client.base, own)
            await prober.one("/healthz", check='"ok"')
            while not done.is_set():
                took, _, _ = await prober.one("/healthz", check='"ok"')
                polls.append(took)
                await asyncio.sleep(max(0.0, 0.02 - took))

    task = asyncio.create_task(poll())
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    await action()
    took = time.perf_counter() - started
    await asyncio.sleep(0.3)
    done.set()
    await task
    return {
        "action_s": took,
        "polls": len(polls),
        "max_ms": max(polls) * 1000,
        "p99_ms": pct(polls, 99) * 1000,
        "over_100ms": sum(1 for p in polls if p > 0.1),
    }


def node_rss(pid: int | None) -> float:
    """The node's resident memory now, in MB (0 without a pid)."""
    if not pid:
        return 0.0
    for line in open(f"/proc/{pid}/status", encoding="ascii").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def sign_in(client: Client, token: str) -> None:
    _, body, _ = await client.one("/signin")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', body)
    assert csrf is not None, "no csrf field on /signin"
    await client.one(
        "/signin",
        method="POST",
        data={"csrf": csrf.group(1).decode(), "token": token, "next": "/"},
        expect=200,
    )


async def run_client(
    base: str, bare: str, info: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    import aiohttp

    out: dict[str, Any] = {}
    officer = {"Authorization": f"Bearer {info['officer']}"}
    keeper = {"Authorization": f"Bearer {info['keeper']}"}
    n, warm = args.requests, max(5, args.requests // 10)
    connector = aiohttp.TCPConnector(limit=args.clients)
    # unsafe: keep the session cookie of a server addressed by IP (127.0.0.1).
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as session:
        c = Client(base, session)
        b = Client(bare, session)
        await sign_in(c, info["officer"])
        pid = info.get("node_pid")
        # The node's memory after each phase: where it grows.
        phases: dict[str, float] = {"started": node_rss(pid)}
        out["rss_phases"] = phases
        rid = info["one"]
        reads = {
            "bare aiohttp handler": (b, "/bare", {}, '"items"'),
            "dashboard page": (c, "/", {}, "Dashboard"),
            "request list, first page": (c, "/api/v1/requests?limit=100", officer, '"items"'),
            "request list, deep page": (
                c,
                f"/api/v1/requests?limit=100&cursor={info['deep_cursor']}",
                officer,
                '"items"',
            ),
            "one request": (c, f"/api/v1/requests/{rid}", officer, '"reference"'),
            "its events": (c, f"/api/v1/requests/{rid}/events", officer, '"items"'),
            # A full page at every size (the 1,000-request history is 25 days long: it has
            # fewer deadlines in the next 30 days than a page holds): the same work compared.
            DEADLINE_PAGE: (c, f"/api/v1/deadlines?within=P90D&limit={PAGE}", officer, '"items"'),
            "feed, served from cache": (c, info["feed"], {}, "BEGIN:VCALENDAR"),
        }
        # The feed: built (each `within` is a feed of its own), then from cache, then 304.
        builds = []
        for k in range(5):
            took, body, headers = await c.one(
                f"{info['feed']}?within=P{3000 + k}D", check="BEGIN:VCALENDAR", raw=True
            )
            builds.append(took)
            body = plain(body, headers)
        out["feed_build"] = {
            "p50_ms": statistics.median(builds) * 1000,
            "max_ms": max(builds) * 1000,
            "bytes": len(body),
            "events": body.count(b"BEGIN:VEVENT"),
        }
        _, _, headers = await c.one(info["feed"], check="BEGIN:VCALENDAR")
        etag = headers["ETag"]
        out["feed_gzip_bytes"] = len(
            (await c.one(info["feed"], headers={"Accept-Encoding": "gzip"}, raw=True))[1]
        )
        _, page, _ = await c.one(reads[DEADLINE_PAGE][1], headers=officer)
        out["deadline_page_items"] = len(json.loads(page)["items"])
        latency = {}
        for name, (cl, path, hdrs, check) in reads.items():
            latency[name] = await cl.latency(
                path, n, warm, headers=hdrs, check=check, raw=name in RAW
            )
        latency["feed, 304 (If-None-Match)"] = await c.latency(
            info["feed"], n, warm, headers={"If-None-Match": etag}, expect=304
        )
        out["latency"] = latency
        phases["feeds and reads"] = node_rss(pid)
        rps = {}
        for name, (cl, path, hdrs, check) in reads.items():
            rps[name] = await cl.throughput(
                path, args.throughput, args.clients, headers=hdrs, check=check, raw=name in RAW
            )
        rps["feed, 304 (If-None-Match)"] = await c.throughput(
            info["feed"], args.throughput, args.clients, headers={"If-None-Match": etag}, expect=304
        )
        out["throughput"] = rps
        phases["8 clients"] = node_rss(pid)

        # Stall probe.
        stalls = {}
        feed_n = [0]

        async def feed_built() -> None:
            feed_n[0] += 1
            await c.one(
                f"{info['feed']}?within=P{3100 + feed_n[0]}D", check="BEGIN:VCALENDAR", raw=True
            )

        async def pdf() -> None:
            await c.one(f"/api/v1/requests/{rid}/letter?format=pdf", headers=officer, check="%PDF")

        content = provider_file(args.providers)
        slug = ["bench-00000"]

        async def directory_import() -> None:
            body = json.dumps({"format": "json", "content": content})
            await c.one(
                "/api/v1/directory/import?kind=providers",
                method="POST",
                data=body,
                headers={**keeper, "Content-Type": "application/json"},
                check='"written":true',
            )

        async def directory_change() -> None:
            await c.one(
                f"/api/v1/providers/{slug[0]}",
                method="PUT",
                data=json.dumps({"le_email": f"legal-{uuid.uuid4().hex[:6]}@bench00000.example"}),
                headers={**keeper, "Content-Type": "application/json"},
                check='"slug"',
            )
            await c.one(
                "/api/v1/lookup?identifier=someone@bench00000.example",
                headers=officer,
                check="bench-00000",
            )

        for name, case in (
            ("feed built", feed_built),
            ("PDF letter", pdf),
            (f"import of {args.providers} providers", directory_import),
            ("directory change (PUT, then a look-up)", directory_change),
        ):
            stalls[name] = await stall_probe(c, case)
            phases[name] = node_rss(pid)
        out["stalls"] = stalls
    return out
