"""The demo directory is loaded at serve into an empty database only, once, even when several
nodes start together; and the staleness report lists what needs re-checking."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from contacts.models import Contact, ContactCreate
from preservation.directory.service import create_contact, load_demo_if_empty, stale_entries
from preservation.directory.snapshot import current_version
from preservation.settings import Settings
from preservation.storage.db import Database
from preservation.web.app import create_app
from providers.models import Provider


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        p = (await session.execute(select(func.count()).select_from(Provider))).scalar_one()
        c = (await session.execute(select(func.count()).select_from(Contact))).scalar_one()
    return p, c


async def serve_once(settings: Settings, clock: Any, **overrides: Any) -> None:
    app = create_app(
        settings.model_copy(update=overrides), clock=clock, migrate=False, scheduler=False
    )
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/openapi.json")).status == 200


async def test_serve_loads_the_demo_into_an_empty_database(settings, clock, db) -> None:
    await serve_once(settings, clock, load_demo=True)
    assert await counts(db) == (25, 8)
    async with db.read() as session:
        assert await current_version(session) >= 1
        demo = (await session.execute(select(Contact))).scalars().all()
    assert all(c.demo and c.authority.startswith("DEMO") for c in demo)
    # a restart adds nothing
    await serve_once(settings, clock, load_demo=True)
    assert await counts(db) == (25, 8)


async def test_serve_leaves_a_non_empty_directory_alone(settings, clock, db) -> None:
    async with db.write() as session:
        await create_contact(
            session, ContactCreate(country="ES", authority="Real Unit", emails=["r@example.org"])
        )
    await serve_once(settings, clock, load_demo=True)
    assert await counts(db) == (0, 1)


async def test_no_demo_when_switched_off(settings, clock, db) -> None:
    await serve_once(settings, clock, load_demo=False)
    assert await counts(db) == (0, 0)


async def test_nodes_starting_together_load_once(settings, db) -> None:
    nodes = [Database(settings.database_url) for _ in range(3)]

    async def start(node: Database) -> Any:
        async with node.write() as session:
            return await load_demo_if_empty(session)

    try:
        loads = await asyncio.gather(*(start(n) for n in nodes))
    finally:
        for n in nodes:
            await n.dispose()
    assert sum(x.providers for x in loads) == 25 and sum(x.contacts for x in loads) == 8
    assert await counts(db) == (25, 8)


async def test_stale_entries(db) -> None:
    async with db.write() as session:
        await load_demo_if_empty(session)
        meta = await session.get(Provider, "meta")
        meta.verified_on = date(2026, 1, 1)
        await create_contact(session, ContactCreate(country="ES", authority="Never Checked"))
    async with db.read() as session:
        now = await stale_entries(session, date(2026, 12, 1), 180)
        later = await stale_entries(session, date(2027, 12, 1), 180)
    assert [(e.kind, e.key) for e in now] == [("provider", "meta"), ("contact", now[1].key)]
    assert now[0].verified_on == date(2026, 1, 1) and now[0].name == "Meta"
    assert now[1].name == "ES Never Checked" and now[1].verified_on is None
    assert len(later) == 25 + 9
