"""Faults at the storage edge: an unreachable PostgreSQL, a full SQLite database, an oversized
body. Each is answered with a clear problem, writes nothing half-way, and recovers."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest
from sqlalchemy import event, text

from preservation.web.keys import DB
from tests.conftest import PG_URL, assert_problem, auth


class TcpProxy:
    """A loopback TCP forwarder we can cut and restore, standing in for a network outage."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for w in list(self.writers):
            w.close()
        self.writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.mark.parametrize("engine_name", ["postgres"])
async def test_postgres_outage_is_503_and_recovers(database_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from preservation.access.auth import create_token
    from preservation.settings import load_settings
    from preservation.web.app import create_app

    if not PG_URL:
        pytest.skip("needs PRESERVATION_TEST_POSTGRES")
    proxy = TcpProxy(5432)
    await proxy.start()
    url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert url != database_url
    settings = load_settings(environ={}, database_url=url, load_demo=False)
    app = create_app(settings, clock=clock, migrate=False, scheduler=False)
    async with TestClient(TestServer(app)) as client:
        db = app[DB]
        async with db.write() as s:
            token = await create_token(
                s, unit="alpha", role="supervisor", user="s", now=clock.now()
            )
        ok = await client.patch("/api/v1/unit", json={"authority": "Before"}, headers=auth(token))
        assert ok.status == 200

        await proxy.cut()
        resp = await client.patch("/api/v1/unit", json={"authority": "During"}, headers=auth(token))
        body = await assert_problem(resp, 503)
        assert "nothing was written" in body["detail"]
        health = await client.get("/healthz")
        assert health.status == 503 and (await health.json())["database"] == "unreachable"

        await proxy.start()  # the same port again
        resp = await client.patch("/api/v1/unit", json={"authority": "After"}, headers=auth(token))
        assert resp.status == 200, await resp.text()
        assert (await (await client.get("/api/v1/unit", headers=auth(token))).json())[
            "authority"
        ] == "After"
        await proxy.cut()


async def test_full_sqlite_database_is_503_and_writes_nothing(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from preservation.access.auth import create_token
    from preservation.settings import load_settings
    from preservation.storage.db import upgrade
    from preservation.web.app import create_app

    url = f"sqlite+aiosqlite:///{tmp_path}/full.db"
    await upgrade(url)
    settings = load_settings(environ={}, database_url=url, load_demo=False)
    app = create_app(settings, clock=clock, migrate=False, scheduler=False)
    async with TestClient(TestServer(app)) as client:
        db = app[DB]
        async with db.write() as s:
            token = await create_token(
                s, unit="alpha", role="supervisor", user="s", now=clock.now()
            )
        async with db.write() as s:
            await s.execute(text("CREATE TABLE filler (pad TEXT)"))
        async with db.read() as s:
            pages = (await s.execute(text("PRAGMA page_count"))).scalar() + 5
        # The disk is "full": SQLite may not grow the file past its current size.
        await db.engine.dispose()

        @event.listens_for(db.engine.sync_engine, "connect")
        def _limit(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

        from preservation.errors import Unavailable

        rows_before = None
        with pytest.raises(Unavailable, match="nothing was written"):
            for _ in range(10000):
                async with db.read() as s:
                    rows_before = (await s.execute(text("SELECT count(*) FROM filler"))).scalar()
                await _grow(db)
        # The failed write left nothing behind, the database is sound, and reads still work.
        async with db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM filler"))).scalar() == rows_before
            assert (await s.execute(text("PRAGMA integrity_check"))).scalar() == "ok"
        resp = await client.get("/api/v1/unit", headers=auth(token))
        assert resp.status == 200


async def _grow(db) -> None:  # type: ignore[no-untyped-def]
    async with db.write() as s:
        await s.execute(text("INSERT INTO filler VALUES (:pad)"), {"pad": "z" * 3000})


async def test_oversized_body_is_413_problem(client, tokens) -> None:  # type: ignore[no-untyped-def]
    huge = b'{"authority": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = await client.patch(
        "/api/v1/unit",
        data=io.BytesIO(huge),
        headers={**auth(tokens["supervisor"]), "Content-Type": "application/json"},
    )
    await assert_problem(resp, 413)
