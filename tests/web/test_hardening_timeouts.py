"""Issue 16, slow and noisy clients: a request's headers and its body must arrive in bounded
time (slow-loris), and failed authentications from a shared address do not lock out the valid
tokens (or feeds) of the people behind it.

The two timeout tests wait on the server's own timers, set to half a second."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from preservation.access.auth import create_token
from preservation.settings import load_settings
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth

LIMIT_SECONDS = 5.0


@contextlib.asynccontextmanager
async def served(settings: Any, clock: Any, **over: Any) -> AsyncIterator[tuple[TestClient, str]]:
    from preservation.web.app import create_app
    from preservation.web.timeouts import server_options

    tuned = load_settings(environ={}, database_url=settings.database_url, load_demo=False, **over)
    app = create_app(tuned, clock=clock, migrate=False, scheduler=False)
    server = TestServer(app)
    # As `serve` runs it (TestServer's constructor would drop these options).
    await server.start_server(**server_options(tuned))
    async with TestClient(server) as client:
        async with app[DB].write() as s:
            token = await create_token(
                s, unit="alpha", role="officer", user="officer-a", now=clock.now()
            )
        yield client, token


async def _closed_or_answered(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(4096), LIMIT_SECONDS)
    return data, time.monotonic() - started


async def test_slow_request_headers_are_cut_off(settings, clock) -> None:  # type: ignore[no-untyped-def]
    async with served(settings, clock, header_timeout_seconds=0.5) as (client, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(40):
                    await asyncio.sleep(0.1)
                    writer.write(b"a")
                    await writer.drain()

        dripping = asyncio.create_task(trickle())
        data, waited = await _closed_or_answered(reader)
        dripping.cancel()
        assert data == b"" and waited < 2.5, (data, waited)
        writer.close()
        assert (await client.get("/openapi.json")).status == 200


async def test_a_slow_request_body_is_408(settings, clock) -> None:  # type: ignore[no-untyped-def]
    async with served(settings, clock, body_timeout_seconds=0.5) as (client, token):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(
            b"POST /api/v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n".encode()
            + b'{"case_reference": '
        )
        await writer.drain()
        data, waited = await _closed_or_answered(reader)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert b"application/problem+json" in data and waited < 2.5
        writer.close()
        assert (await client.get("/openapi.json")).status == 200


async def test_a_shared_address_does_not_lock_out_valid_tokens(settings, clock) -> None:  # type: ignore[no-untyped-def]
    """Many failures from one address (a NAT, a proxy): the failing credentials get 429, a
    valid token and a valid feed from the same address keep working."""
    async with served(settings, clock, auth_failures_per_minute=3) as (client, token):
        resp = await client.post("/api/v1/feeds/deadlines", headers=auth(token))
        feed = (await resp.json())["path"]
        statuses = [
            (await client.get("/api/v1/me", headers=auth(f"pdt_guess{n:04d}xyz"))).status
            for n in range(10)
        ]
        assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}
        # The same bad credential again: refused at once.
        await assert_problem(await client.get("/api/v1/me", headers=auth("pdt_guess0000xyz")), 429)
        for _ in range(3):
            assert (await client.get("/api/v1/me", headers=auth(token))).status == 200
            assert (await client.get(feed)).status == 200
        await assert_problem(await client.get("/api/v1/feeds/pdf_guess/deadlines.ics"), 429)
