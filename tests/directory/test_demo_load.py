"""The demo directory is loaded at serve into an empty database only, once, even when several
nodes start together; and the staleness report lists what needs re-checking."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from contacts.models import Contact, ContactCreate
from preservation.directory.changes import Author
from preservation.directory.service import create_contact, load_demo_if_empty, stale_entries
from preservation.directory.snapshot import current_version
from preservation.settings import Settings
from preservation.storage.db import Database
from preservation.web.app import create_app
from providers.models import DOCUMENT_MAX_AGE_DAYS, Provider
from providers.provenance import document_date
from providers.seed import load_seed
from tests.conftest import T0

BY = Author(actor="ops", unit="", at=T0)
SEEDS = len(load_seed())


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
    assert await counts(db) == (SEEDS, 8)
    async with db.read() as session:
        assert await current_version(session) >= 1
        demo = (await session.execute(select(Contact))).scalars().all()
    assert all(c.demo and c.authority.startswith("DEMO") for c in demo)
    # a restart adds nothing
    await serve_once(settings, clock, load_demo=True)
    assert await counts(db) == (SEEDS, 8)


async def test_serve_leaves_a_non_empty_directory_alone(settings, clock, db) -> None:
    async with db.write() as session:
        await create_contact(
            session,
            ContactCreate(country="ES", authority="Real Unit", emails=["r@example.org"]),
            by=BY,
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
            return await load_demo_if_empty(session, now=T0)

    try:
        loads = await asyncio.gather(*(start(n) for n in nodes))
    finally:
        for n in nodes:
            await n.dispose()
    assert sum(x.providers for x in loads) == SEEDS and sum(x.contacts for x in loads) == 8
    assert await counts(db) == (SEEDS, 8)


async def test_stale_entries(db) -> None:
    async with db.write() as session:
        await load_demo_if_empty(session, now=T0)
        meta = await session.get(Provider, "meta")
        meta.verified_on = date(2026, 1, 1)
        await create_contact(session, ContactCreate(country="ES", authority="Never Checked"), by=BY)
    today = date(2026, 12, 4)
    async with db.read() as session:
        now = await stale_entries(session, today, 180)
        later = await stale_entries(session, date(2027, 12, 1), 180)
    # Stale by its reading date: Meta; by its document's date: every row whose document is
    # more than two years old, though read today.
    old_documents = {
        p.slug
        for p in load_seed()
        if p.source.published
        and (today - document_date(p.source.published)).days > DOCUMENT_MAX_AGE_DAYS
    }
    assert len(old_documents) >= 10
    providers = [e for e in now if e.kind == "provider"]
    assert {e.key for e in providers} == old_documents | {"meta"}
    [meta_entry] = [e for e in providers if e.key == "meta"]
    assert meta_entry.verified_on == date(2026, 1, 1) and meta_entry.name == "Meta"
    [contact] = [e for e in now if e.kind == "contact"]
    assert contact.name == "ES Never Checked" and contact.verified_on is None
    assert len(later) == SEEDS + 9
