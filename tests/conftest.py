"""Shared fixtures: a fresh real database per test (SQLite file, or PostgreSQL cloned from a
migrated template), a frozen clock, the app on aiohttp's test server, tokens per role."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

# Settings come from the tests alone: a developer's own PRESERVATION_* variables are cleared.
PG_URL = os.environ.get("PRESERVATION_TEST_POSTGRES", "")
for _var in list(os.environ):
    if _var.startswith("PRESERVATION_") and _var != "PRESERVATION_TEST_POSTGRES":
        del os.environ[_var]

from preservation.domain.clock import FrozenClock  # noqa: E402
from preservation.settings import Settings, load_settings  # noqa: E402
from preservation.storage.db import Database, upgrade_sync  # noqa: E402

T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
ENGINES = ["sqlite", "postgres"]


def _pg_admin_url() -> str:
    # asyncpg URL for the server's maintenance connection.
    return PG_URL.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_exec(sql: str, database: str | None = None) -> None:
    import asyncpg

    url = _pg_admin_url()
    if database is not None:
        url = url.rsplit("/", 1)[0] + "/" + database
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url_for(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated once; each test clones it (CREATE DATABASE ... TEMPLATE)."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need PRESERVATION_TEST_POSTGRES (set by .ci/run)")
    name = f"pd_template_{os.getpid()}"
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    upgrade_sync(_pg_url_for(name))
    yield name
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, migrated database for this test on the engine of the parameter."""
    if engine_name == "sqlite":
        import shutil

        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "preservation.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"pd_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _pg_url_for(name)
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        environ={}, database_url=database_url, load_demo=False, node_name="test-node"
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock):  # type: ignore[no-untyped-def]
    from preservation.web.app import create_app

    return create_app(settings, clock=clock, migrate=False, scheduler=False)


@pytest.fixture
async def client(app):  # type: ignore[no-untyped-def]
    """The app on aiohttp's real test server (a real socket on loopback)."""
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def tokens(client, clock: FrozenClock) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One token per role in unit "alpha" (the directory role's too), and an officer in unit
    "beta"."""
    from preservation.access.auth import create_token
    from preservation.web.keys import DB

    db = client.server.app[DB]
    out = {}
    async with db.write() as session:
        for role in ("officer", "supervisor", "admin", "directory"):
            out[role] = await create_token(
                session, unit="alpha", role=role, user=f"{role}-a", now=clock.now()
            )
        out["other_officer"] = await create_token(
            session, unit="beta", role="officer", user="officer-b", now=clock.now()
        )
        # The requesting State (required to submit): Cyprus, a Party to the Convention on
        # Cybercrime (config/parties.toml).
        from sqlalchemy import update

        from preservation.storage.models import Unit

        await session.execute(update(Unit).values(country=UNIT_COUNTRY))
    return out


#: The test units' country (the requesting State).
UNIT_COUNTRY = "CY"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_problem(resp: Any, status: int, *, field: str | None = None) -> dict[str, Any]:
    """The one check of the error shape that every 4xx test uses."""
    assert resp.status == status, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    body = await resp.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list)
    if field is not None:
        fields = [e["field"] for e in body["errors"]]
        assert field in fields, f"{field} not in {fields}"
    return body
