"""The directory in the database: providers and points of contact, and a per-node snapshot (the
provider and contact indexes) rebuilt when any node changes the directory (a version counter in
the database says so)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import JSON, Text, select, type_coerce
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact, contact_public
from contacts.search import ContactIndex
from preservation.storage.models import DirectoryVersion
from providers.matching import ProviderIndex
from providers.models import Provider, provider_public

log = logging.getLogger(__name__)


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

    Its rows are ``ProviderRow`` and ``ContactRow`` (below): read like ``Provider`` and
    ``Contact`` (the same attributes, ``model_dump``), shared between requests, and frozen."""

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


def _frozen_row_type(model: Any) -> type:
    """A read-only row type with `model`'s columns as slots, and its ``model_dump``.

    What the snapshot keeps of each row. A table model instance carries its pydantic and
    SQLAlchemy state beside its values: 4.5 KB of bookkeeping per provider, 45 MB for a directory
    of 10,000 providers; a slotted row is about 0.3 KB. Rows are shared between requests, and
    being frozen they cannot be changed by one of them by mistake.
    """
    keys = tuple(attr.key for attr in sa_inspect(model).column_attrs)

    def model_dump(self: Any) -> dict[str, Any]:
        return {key: getattr(self, key) for key in keys}

    return dataclasses.make_dataclass(
        f"{model.__name__}Row",
        [(key, Any) for key in keys],
        frozen=True,
        slots=True,
        eq=False,
        namespace={"model_dump": model_dump, "__module__": __name__},
    )


#: The snapshot's rows: read like ``Provider`` and ``Contact`` rows, never written.
ProviderRow = _frozen_row_type(Provider)
ContactRow = _frozen_row_type(Contact)


def _rows_to_snapshot(
    version: int, provider_rows: list[dict[str, Any]], contact_rows: list[dict[str, Any]]
) -> Snapshot:
    """The snapshot of rows read as plain values (run in a worker thread: building the rows and
    the indexes of 10,000 providers takes the better part of a second)."""
    providers = [ProviderRow(**row) for row in decode_json(Provider, provider_rows)]
    contacts = [ContactRow(**row) for row in decode_json(Contact, contact_rows)]
    return Snapshot.build(version, providers, contacts)  # type: ignore[arg-type]


#: Rows read per round trip while a snapshot is loaded (the loop serves others in between).
_PARTITION = 200


def _json_keys(model: Any) -> list[str]:
    return [
        attr.key
        for attr in sa_inspect(model).column_attrs
        if isinstance(attr.columns[0].type, JSON)
    ]


async def attribute_rows(session: AsyncSession, model: Any, order: str) -> list[dict[str, Any]]:
    """Every row of `model` as {attribute: value}, read in slices, with its JSON columns still
    JSON text: the loop only hands rows over; `decode_json` (in the worker thread) parses them."""
    json_keys = set(_json_keys(model))
    columns = [
        (type_coerce(attr.columns[0], Text) if attr.key in json_keys else attr.columns[0]).label(
            attr.key
        )
        for attr in sa_inspect(model).column_attrs
    ]
    result = await session.stream(select(*columns).order_by(getattr(model, order)))
    out: list[dict[str, Any]] = []
    async for part in result.partitions(_PARTITION):
        out.extend(dict(row._mapping) for row in part)
    return out


def decode_json(model: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`attribute_rows`' rows with their JSON columns parsed (in place; returns them)."""
    keys = _json_keys(model)
    for row in rows:
        for key in keys:
            value = row.get(key)
            if isinstance(value, str):
                row[key] = _loads(value)
    return rows


def _loads(value: str) -> Any:
    """A JSON column's text: empty is no value (a NULL read as text on PostgreSQL), and text
    that is not JSON is kept as it is (a column stored as plain text)."""
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


async def load_snapshot(session: AsyncSession) -> Snapshot:
    """The directory as `session` sees it: the version and the rows read in that transaction,
    the objects and indexes built off the event loop (runtime/offload.py)."""
    from preservation.runtime.offload import offload

    version = await current_version(session)
    providers = await attribute_rows(session, Provider, "slug")
    contacts = await attribute_rows(session, Contact, "id")
    return await offload(_rows_to_snapshot, version, providers, contacts, bulk=True, keep=True)


class DirectoryCache:
    """This node's snapshot of the directory, rebuilt when the directory version changes.

    ``recheck_seconds`` bounds how often the version is read from the database: 0 (the default)
    reads it on every call; a small value (the server uses it) lets a burst of look-ups share
    one check. Changes made through this node call ``invalidate``: the next read waits for the
    new snapshot, so the change is seen at once. A change by another node is seen within
    ``recheck_seconds`` plus the rebuild: meanwhile the old snapshot keeps serving (the rebuild
    runs in the background, its CPU work in a worker thread), so no read waits for it.

    Without ``bind(open_session)`` (the CLI, some tests) a rebuild runs in the reader's own
    transaction, and that reader waits for it.
    """

    def __init__(
        self, *, recheck_seconds: float = 0.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._snapshot = Snapshot.build(-1, [], [])
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._checked_at = float("-inf")
        self._open: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None
        self._building: asyncio.Task[Snapshot] | None = None
        #: Set by invalidate(): the next read waits for a snapshot of the current version.
        self._wait_next = False
        #: Held by the reader that builds a snapshot the others wait for.
        self._reader_build = asyncio.Lock()
        self._trimming: asyncio.Task[None] | None = None
        #: How many times the snapshot was (re)built (tests and the benchmark read it).
        self.builds = 0

    def bind(self, open_session: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        """Let rebuilds open their own read transaction (``db.read``): then they run in the
        background while the old snapshot serves."""
        self._open = open_session

    async def close(self) -> None:
        """Cancel a rebuild (and a trim) in flight (at shutdown)."""
        for task in (self._building, self._trimming):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._building = self._trimming = None

    def _install(self, snap: Snapshot) -> Snapshot:
        if snap.version > self._snapshot.version or self._snapshot.version < 0:
            self._snapshot = snap
            self.builds += 1
        return self._snapshot

    async def _build_own(self) -> Snapshot:
        from preservation.runtime.offload import trim_heap

        assert self._open is not None
        async with self._open() as session:
            snap = self._install(await load_snapshot(session))
        await trim_heap()  # the rows read and the old snapshot are gone
        return snap

    def _trim_later(self) -> None:
        """Give the old snapshot's memory back to the system, after the reader has its answer
        (a rebuild of 10,000 providers otherwise leaves tens of MB with glibc)."""
        from preservation.runtime.offload import trim_heap

        if self._trimming is None or self._trimming.done():
            self._trimming = asyncio.get_running_loop().create_task(
                trim_heap(), name="directory-snapshot-trim"
            )

    def _background(self) -> asyncio.Task[Snapshot]:
        task = self._building
        if task is None or task.done():
            task = self._building = asyncio.get_running_loop().create_task(
                self._build_own(), name="directory-snapshot"
            )
            task.add_done_callback(_log_failure)
        return task

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        now = self._monotonic()
        current = self._snapshot
        if current.version >= 0 and not self._wait_next and now - self._checked_at < self._recheck:
            return current
        version = await current_version(session)
        if version == current.version:
            self._checked_at = now
            self._wait_next = False
            return current
        if self._open is None:
            # No session of its own: rebuild in the reader's transaction (which read `version`).
            snap = self._install(await load_snapshot(session))
            self._checked_at = now
            self._wait_next = False
            return snap
        if current.version < 0 or self._wait_next:
            # This reader must wait for a snapshot of at least `version`. It builds it in its
            # own transaction (which read `version`), one reader at a time: a rebuild that
            # opened a session of its own would need one more pooled connection while every
            # waiting reader holds one, and a burst of readers would exhaust the pool waiting
            # for it.
            async with self._reader_build:
                if self._snapshot.version < version:
                    self._install(await load_snapshot(session))
                    self._trim_later()
                self._wait_next = False
                self._checked_at = now
            return self._snapshot
        self._background()
        # Another node's change: the old snapshot serves until the new one is ready.
        return current

    async def current(
        self, open_session: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    ) -> Snapshot:
        """The snapshot, opening a session (``db.read``) only when the version is due a check."""
        if (
            self._snapshot.version >= 0
            and not self._wait_next
            and self._monotonic() - self._checked_at < self._recheck
        ):
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
        """Check the version now (whatever ``recheck_seconds`` says), and wait for a rebuild if
        it changed."""
        self.invalidate()
        return await self.current(open_session)

    async def index(self, session: AsyncSession) -> ProviderIndex[Provider]:
        return (await self.snapshot(session)).providers

    def invalidate(self) -> None:
        """Read the version on the next call, and let that call wait for the new snapshot (call
        after committing a directory change through this node)."""
        self._checked_at = float("-inf")
        self._wait_next = True


def _log_failure(task: asyncio.Task[Snapshot]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "directory snapshot rebuild failed",
            exc_info=task.exception(),
            extra={"action": "directory.snapshot_failed"},
        )


async def get_provider(session: AsyncSession, slug: str) -> Provider | None:
    return await session.get(Provider, slug)


async def contacts_for_country(session: AsyncSession, country: str) -> Sequence[Contact]:
    rows = await session.execute(
        select(Contact)
        .where(Contact.country == country)
        .order_by(Contact.accepts_preservation.desc(), Contact.id)
    )
    return rows.scalars().all()
