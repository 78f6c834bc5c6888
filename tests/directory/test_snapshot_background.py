"""The directory snapshot is rebuilt off the event loop: after another node's change the old
snapshot keeps serving while the new one is built in the background; after a change through
this node (invalidate) the next read waits for the new one. Both engines."""

from __future__ import annotations

import asyncio

from preservation.directory.snapshot import DirectoryCache
from providers.models import Provider


async def _bump(db) -> None:  # type: ignore[no-untyped-def]
    """Another node's change: a provider added (the triggers bump the directory version)."""
    async with db.write() as s:
        s.add(Provider(slug="later", name="Later Inc.", country="US", domains=["later.example"]))


async def test_another_nodes_change_is_built_in_the_background(db) -> None:  # type: ignore[no-untyped-def]
    cache = DirectoryCache()
    cache.bind(db.read)
    first = await cache.current(db.read)  # the first build is waited for
    assert first.version >= 0 and cache.builds == 1
    await _bump(db)
    served = await cache.current(db.read)
    assert served is first  # the old one serves while the new one is built
    for _ in range(200):
        if cache.builds == 2:
            break
        await asyncio.sleep(0.01)
    newer = await cache.current(db.read)
    assert newer.version > first.version and "later" in newer.provider_by_slug
    await cache.close()


async def test_a_change_through_this_node_is_seen_by_the_next_read(db) -> None:  # type: ignore[no-untyped-def]
    cache = DirectoryCache(recheck_seconds=60)
    cache.bind(db.read)
    first = await cache.current(db.read)
    await _bump(db)
    cache.invalidate()
    newer = await cache.current(db.read)
    assert newer.version > first.version and "later" in newer.provider_by_slug
    await cache.close()


async def test_without_a_session_of_its_own_the_reader_rebuilds(db) -> None:  # type: ignore[no-untyped-def]
    cache = DirectoryCache()
    first = await cache.current(db.read)
    await _bump(db)
    newer = await cache.current(db.read)
    assert newer.version > first.version and cache.builds == 2


async def test_snapshot_rows_read_as_the_stored_rows_and_cannot_be_changed(db) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    import pytest
    from sqlalchemy import select

    from contacts.models import Contact

    await _bump(db)
    async with db.write() as s:
        s.add(Contact(country="FR", authority="Rows test authority", emails=["poc@fr.example"]))
    snap = await DirectoryCache().current(db.read)
    async with db.read() as s:
        stored = (await s.execute(select(Provider).where(Provider.slug == "later"))).scalar_one()
        contact = (
            await s.execute(select(Contact).where(Contact.authority == "Rows test authority"))
        ).scalar_one()
    row = snap.provider_by_slug["later"]
    assert row.model_dump() == stored.model_dump()
    assert snap.contact_by_id[contact.id].model_dump() == contact.model_dump()
    assert snap.providers.by_domain("later.example") is row
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.name = "Changed"  # type: ignore[misc]
    assert snap.provider_by_slug["later"].name == "Later Inc."
