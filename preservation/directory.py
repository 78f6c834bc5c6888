"""The directory in the database: providers and points of contact, and a per-node provider index
rebuilt when any node changes the directory (a version counter in the database says so)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact
from providers.matching import ProviderIndex
from providers.models import Provider

from .models import DirectoryVersion


async def current_version(session: AsyncSession) -> int:
    value = (
        await session.execute(select(DirectoryVersion.version).where(DirectoryVersion.id == 1))
    ).scalar()
    return int(value or 0)


async def bump_version(session: AsyncSession) -> None:
    """Call in every transaction that changes providers or contacts."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(DirectoryVersion).values(id=1, version=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"], set_={"version": DirectoryVersion.version + 1}
    )
    await session.execute(stmt)


class DirectoryCache:
    """The provider index of this node, rebuilt when the directory version changes."""

    def __init__(self) -> None:
        self._version = -1
        self._index: ProviderIndex[Provider] = ProviderIndex([])
        self._lock = asyncio.Lock()

    async def index(self, session: AsyncSession) -> ProviderIndex[Provider]:
        version = await current_version(session)
        if version == self._version:
            return self._index
        async with self._lock:
            if version != self._version:
                rows = (
                    (await session.execute(select(Provider).order_by(Provider.slug)))
                    .scalars()
                    .all()
                )
                for row in rows:
                    session.expunge(row)
                self._index = ProviderIndex(rows)
                self._version = version
        return self._index

    def invalidate(self) -> None:
        self._version = -1


async def get_provider(session: AsyncSession, slug: str) -> Provider | None:
    return await session.get(Provider, slug)


async def contacts_for_country(session: AsyncSession, country: str) -> Sequence[Contact]:
    rows = await session.execute(
        select(Contact)
        .where(Contact.country == country)
        .order_by(Contact.accepts_preservation.desc(), Contact.id)
    )
    return rows.scalars().all()
