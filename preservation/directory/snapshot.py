"""The directory in the database: providers and points of contact, and a per-node snapshot (the
provider and contact indexes) rebuilt when any node changes the directory (a version counter in
the database says so)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact, contact_public
from contacts.search import ContactIndex
from preservation.storage.models import DirectoryVersion
from providers.matching import ProviderIndex
from providers.models import Provider, provider_public


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


#: Bound on the memoised public views of one snapshot (a few MB at most).
_MAX_VIEWS = 50_000


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """The whole directory of one version, detached from any session, with its indexes.

    Rows are shared between requests: treat them as read-only."""

    version: int
    providers: ProviderIndex[Provider]
    contacts: ContactIndex[Contact]
    provider_by_slug: dict[str, Provider] = field(default_factory=dict)
    contact_by_id: dict[int, Contact] = field(default_factory=dict)
    #: Contacts by country, those accepting preservation requests first, then by id.
    by_country: dict[str, tuple[Contact, ...]] = field(default_factory=dict)
    #: Public views already made, by (kind, key, today, max_age_days): rows do not change
    #: within a snapshot, and the answer of one day is the answer of every request that day.
    _views: dict[tuple[str, object, date, int], Any] = field(default_factory=dict)

    @classmethod
    def build(cls, version: int, providers: Sequence[Provider], contacts: Sequence[Contact]):  # type: ignore[no-untyped-def]
        by_country: dict[str, list[Contact]] = {}
        for c in sorted(contacts, key=lambda c: (not c.accepts_preservation, c.id or 0)):
            by_country.setdefault(c.country, []).append(c)
        return cls(
            version=version,
            providers=ProviderIndex(providers),
            contacts=ContactIndex(contacts),
            provider_by_slug={p.slug: p for p in providers},
            contact_by_id={c.id: c for c in contacts if c.id is not None},
            by_country={k: tuple(v) for k, v in by_country.items()},
        )

    def provider_json(self, p: Provider, *, today: date, max_age_days: int) -> dict[str, Any]:
        """``ProviderPublic`` of ``p`` as JSON-ready data, made once per snapshot and day.
        Shared between answers: do not change it."""
        key = ("p", p.slug, today, max_age_days)
        view = self._views.get(key)
        if view is None:
            view = provider_public(p, today=today, max_age_days=max_age_days).model_dump(
                mode="json"
            )
            self._remember(key, view)
        return view

    def contact_json(self, c: Contact, *, today: date, max_age_days: int) -> dict[str, Any]:
        """``ContactPublic`` of ``c`` as JSON-ready data (as ``provider_json``)."""
        key = ("c", c.id, today, max_age_days)
        view = self._views.get(key)
        if view is None:
            view = contact_public(c, today=today, max_age_days=max_age_days).model_dump(mode="json")
            self._remember(key, view)
        return view

    def _remember(self, key: tuple[str, object, date, int], view: dict[str, Any]) -> None:
        if len(self._views) >= _MAX_VIEWS:
            self._views.clear()
        self._views[key] = view

    def contacts_for_country(self, country: str | None) -> list[Contact]:
        """The country's contacts in the order ``contacts_for_country`` reads them."""
        return list(self.by_country.get(country, ())) if country else []


class DirectoryCache:
    """This node's snapshot of the directory, rebuilt when the directory version changes.

    ``recheck_seconds`` bounds how often the version is read from the database: 0 (the default)
    reads it on every call; a small value (the server uses it) lets a burst of look-ups share
    one check. Changes made through this node call ``invalidate`` and are seen at once; changes
    by another node are seen within ``recheck_seconds``.
    """

    def __init__(
        self, *, recheck_seconds: float = 0.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._snapshot = Snapshot.build(-1, [], [])
        self._lock = asyncio.Lock()
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._checked_at = float("-inf")
        #: How many times the snapshot was (re)built (tests and the benchmark read it).
        self.builds = 0

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        now = self._monotonic()
        if self._snapshot.version >= 0 and now - self._checked_at < self._recheck:
            return self._snapshot
        version = await current_version(session)
        if version == self._snapshot.version:
            self._checked_at = now
            return self._snapshot
        async with self._lock:
            if version != self._snapshot.version:
                providers = (
                    (await session.execute(select(Provider).order_by(Provider.slug)))
                    .scalars()
                    .all()
                )
                contacts = (
                    (await session.execute(select(Contact).order_by(Contact.id))).scalars().all()
                )
                for row in (*providers, *contacts):
                    session.expunge(row)
                self._snapshot = Snapshot.build(version, providers, contacts)
                self.builds += 1
            self._checked_at = now
        return self._snapshot

    async def current(
        self, open_session: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    ) -> Snapshot:
        """The snapshot, opening a session (``db.read``) only when the version is due a check."""
        if self._snapshot.version >= 0 and self._monotonic() - self._checked_at < self._recheck:
            return self._snapshot
        async with open_session() as session:
            return await self.snapshot(session)

    def of_version(self, version: int) -> Snapshot | None:
        """The snapshot if it is of `version` (read by the caller in its own transaction: then
        the snapshot is exactly what that transaction sees), else None. No I/O."""
        return self._snapshot if self._snapshot.version == version >= 0 else None

    async def refresh(
        self, open_session: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    ) -> Snapshot:
        """Check the version now (whatever ``recheck_seconds`` says), rebuilding if it changed."""
        self.invalidate()
        return await self.current(open_session)

    async def index(self, session: AsyncSession) -> ProviderIndex[Provider]:
        return (await self.snapshot(session)).providers

    def invalidate(self) -> None:
        """Read the version on the next call (call after committing a directory change)."""
        self._checked_at = float("-inf")


async def get_provider(session: AsyncSession, slug: str) -> Provider | None:
    return await session.get(Provider, slug)


async def contacts_for_country(session: AsyncSession, country: str) -> Sequence[Contact]:
    rows = await session.execute(
        select(Contact)
        .where(Contact.country == country)
        .order_by(Contact.accepts_preservation.desc(), Contact.id)
    )
    return rows.scalars().all()
