"""The directory over HTTP: points of contact, providers, the look-up from an identifier, the
writes, import and export, and the log of changes. Reads are open to every role; writes are the
``directory`` role's alone (granted on the command line): the directory is shared by every unit,
so no unit's admin may re-route another unit's letters. Every write is a chained change
(``directory.changes``)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from contacts.models import ContactCreate, ContactPublic, ContactUpdate, contact_public
from preservation.directory import changes as directory_changes
from preservation.directory import io as directory_io
from preservation.directory import listing as directory_listing
from preservation.directory import service as directory_service
from preservation.directory.lookup import IdentifierTypeName, LookupResult, lookup
from preservation.directory.service import ContactList, ProviderList
from preservation.directory.snapshot import DirectoryCache
from preservation.errors import InvalidInput, NotFound
from preservation.storage.db import Database
from preservation.storage.models import Unit
from preservation.web.endpoints import Api, Call
from preservation.web.keys import CLOCK, DB, SCHEDULER, SETTINGS
from providers.models import ProviderCreate, ProviderPublic, ProviderUpdate, provider_public

log = logging.getLogger(__name__)
api = Api()

DIRECTORY = web.AppKey("directory", DirectoryCache)
#: Who changes the shared directory.
WRITERS = {"directory"}
#: Who exports it (a read of the whole directory).
EXPORTERS = {"admin", "directory"}
#: How long a burst of reads may share one check of the directory version (another node's
#: change is seen within this time; this node's own changes at once).
RECHECK_SECONDS = 0.5


class UnitSettings:
    """Each unit's ``copy_to_poc``, read at most once per ``recheck_seconds`` (a change of the
    unit's profile reaches the look-up within that time)."""

    def __init__(
        self, *, recheck_seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._seen: dict[int, tuple[bool, str | None, float]] = {}

    async def _read(self, db: Database, unit_id: int) -> tuple[bool, str | None, float]:
        now = self._monotonic()
        seen = self._seen.get(unit_id)
        if seen is not None and now - seen[2] < self._recheck:
            return seen
        async with db.read() as session:
            row = (
                await session.execute(
                    select(Unit.copy_to_poc, Unit.country).where(Unit.id == unit_id)
                )
            ).first()
        value = True if row is None or row[0] is None else bool(row[0])
        country = row[1] if row is not None else None
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[unit_id] = (value, country, now)
        return self._seen[unit_id]

    async def copy_to_poc(self, db: Database, unit_id: int) -> bool:
        return (await self._read(db, unit_id))[0]

    async def country(self, db: Database, unit_id: int) -> str | None:
        """The unit's State: national phone numbers in a look-up are read as its own."""
        return (await self._read(db, unit_id))[1]

    def clear(self) -> None:
        self._seen.clear()


UNIT_SETTINGS = web.AppKey("unit_settings", UnitSettings)


def setup_directory(app: web.Application) -> None:
    """The node's directory snapshot, and the demo load at start (add after the database)."""
    app[DIRECTORY] = DirectoryCache(recheck_seconds=RECHECK_SECONDS)
    app[UNIT_SETTINGS] = UnitSettings(recheck_seconds=RECHECK_SECONDS)
    app.cleanup_ctx.append(_load_demo)


async def _load_demo(app: web.Application) -> AsyncIterator[None]:
    if app[SETTINGS].load_demo:
        async with app[DB].write() as session:
            loaded = await directory_service.load_demo_if_empty(session, now=app[CLOCK].now())
        if loaded.providers or loaded.contacts:
            log.info(
                "demo directory loaded",
                extra={
                    "action": "directory.demo_load",
                    "providers": loaded.providers,
                    "contacts": loaded.contacts,
                },
            )
    # Rebuilds after another node's change run in the background on their own session.
    app[DIRECTORY].bind(app[DB].read)
    yield
    await app[DIRECTORY].close()


def _today(call: Call) -> date:
    return call.request.app[CLOCK].now().date()


def _age(call: Call) -> int:
    return call.request.app[SETTINGS].staleness_days


def _cache(call: Call) -> DirectoryCache:
    return call.request.app[DIRECTORY]


def _by(call: Call) -> directory_changes.Author:
    return directory_changes.Author.of(call.principal, call.request.app[CLOCK].now())


def _written(call: Call) -> None:
    """After a committed change: this node sees it at once, and a mail to the supervisors
    (an address letters go to changed) leaves without waiting for the next poll."""
    _cache(call).invalidate()
    scheduler = call.request.app.get(SCHEDULER)
    if scheduler is not None:
        scheduler.wake()


def _contact_id(call: Call) -> int:
    raw = call.params["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise NotFound(f"no point of contact {raw!r}")
    return int(raw)


# --- models of the query strings and of import/export -----------------------------------------


class ContactQuery(BaseModel):
    #: ISO 3166-1 alpha-2 (alpha-3 and English names are accepted).
    country: str | None = Field(default=None, max_length=60)
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(directory_listing.PAGE, ge=1, le=directory_listing.MAX_PAGE)
    #: The `next` of the previous page; absent: the first page.
    cursor: str | None = Field(default=None, max_length=500)


class ProviderQuery(BaseModel):
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(directory_listing.PAGE, ge=1, le=directory_listing.MAX_PAGE)
    #: The `next` of the previous page; absent: the first page.
    cursor: str | None = Field(default=None, max_length=500)


class LookupQuery(BaseModel):
    identifier: str = Field(min_length=1, max_length=2048)
    #: Detected from the identifier when absent.
    type: IdentifierTypeName | None = None
    #: The platform of an account (``instagram``); or write the identifier ``instagram:handle``.
    platform: str | None = Field(default=None, max_length=100)


class ImportQuery(BaseModel):
    #: Inferred from the columns or keys when absent (``slug``: providers; ``authority``: contacts).
    kind: Literal["providers", "contacts"] | None = None
    dry_run: bool = False
    skip_invalid: bool = False


class ImportBody(BaseModel):
    format: Literal["csv", "json"]
    #: The file's text (CSV with a header row, or a JSON list of objects).
    content: str


class ImportRowError(BaseModel):
    row: int
    line: int | None
    field: str
    message: str


class ImportResult(BaseModel):
    kind: Literal["providers", "contacts"]
    dry_run: bool
    written: bool
    rows: int
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    errors: list[ImportRowError]


class ExportQuery(BaseModel):
    kind: Literal["providers", "contacts"]
    format: Literal["csv", "json"] = "json"


class ExportResult(BaseModel):
    kind: Literal["providers", "contacts"]
    format: Literal["csv", "json"]
    count: int
    #: The file's text; POST it back to /api/v1/directory/import unchanged.
    content: str


# --- reads --------------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/v1/contacts",
    summary="List or search 24/7 points of contact",
    tag="directory",
    query=ContactQuery,
    response=ContactList,
    errors=(401, 422),
)
async def list_contacts(call: Call) -> ContactList:
    async with call.request.app[DB].read() as session:
        return await directory_listing.contacts_page(
            session,
            _cache(call),
            country=call.query.country,
            q=call.query.q,
            today=_today(call),
            max_age_days=_age(call),
            limit=call.query.limit,
            cursor=call.query.cursor,
        )


@api.route(
    "GET",
    r"/api/v1/contacts/{id}",
    summary="Show a point of contact",
    tag="directory",
    response=ContactPublic,
    errors=(401, 404),
)
async def get_contact(call: Call) -> ContactPublic:
    contact_id = _contact_id(call)
    async with call.request.app[DB].read() as session:
        return await directory_service.get_contact(
            session, contact_id, today=_today(call), max_age_days=_age(call)
        )


@api.route(
    "GET",
    "/api/v1/providers",
    summary="List or search providers",
    tag="directory",
    query=ProviderQuery,
    response=ProviderList,
    errors=(401, 422),
)
async def list_providers(call: Call) -> ProviderList:
    async with call.request.app[DB].read() as session:
        return await directory_listing.providers_page(
            session,
            _cache(call),
            q=call.query.q,
            today=_today(call),
            max_age_days=_age(call),
            limit=call.query.limit,
            cursor=call.query.cursor,
        )


@api.route(
    "GET",
    "/api/v1/providers/{slug}",
    summary="Show a provider",
    tag="directory",
    response=ProviderPublic,
    errors=(401, 404),
)
async def get_provider(call: Call) -> ProviderPublic:
    async with call.request.app[DB].read() as session:
        return await directory_service.get_provider(
            session, call.params["slug"], today=_today(call), max_age_days=_age(call)
        )


@api.route(
    "GET",
    "/api/v1/lookup",
    summary="Look up an identifier: provider, country, points of contact, route",
    tag="directory",
    query=LookupQuery,
    response=LookupResult,
    errors=(401, 422),
)
async def lookup_identifier(call: Call) -> dict[str, Any]:
    app = call.request.app
    snap = await app[DIRECTORY].current(app[DB].read)
    copy_to_poc = await app[UNIT_SETTINGS].copy_to_poc(app[DB], call.principal.unit_id)
    return lookup(
        snap,
        identifier=call.query.identifier,
        type=call.query.type,
        platform=call.query.platform,
        copy_to_poc=copy_to_poc,
        today=_today(call),
        max_age_days=_age(call),
        region=await app[UNIT_SETTINGS].country(app[DB], call.principal.unit_id),
    )


# --- the directory role's writes ---------------------------------------------------------------------


@api.route(
    "POST",
    "/api/v1/contacts",
    summary="Add a point of contact",
    tag="directory",
    body=ContactCreate,
    response=ContactPublic,
    status=201,
    roles=WRITERS,
    errors=(400, 401, 403, 409, 422),
)
async def create_contact(call: Call) -> ContactPublic:
    async with call.request.app[DB].write() as session:
        row = await directory_service.create_contact(session, call.body, by=_by(call))
        out = contact_public(row, today=_today(call), max_age_days=_age(call))
    _written(call)
    return out


@api.route(
    "PUT",
    r"/api/v1/contacts/{id}",
    summary="Change a point of contact (fields left out keep their value)",
    tag="directory",
    body=ContactUpdate,
    response=ContactPublic,
    roles=WRITERS,
    errors=(400, 401, 403, 404, 409, 422),
)
async def update_contact(call: Call) -> ContactPublic:
    contact_id = _contact_id(call)
    async with call.request.app[DB].write() as session:
        row = await directory_service.update_contact(session, contact_id, call.body, by=_by(call))
        out = contact_public(row, today=_today(call), max_age_days=_age(call))
    _written(call)
    return out


@api.route(
    "DELETE",
    r"/api/v1/contacts/{id}",
    summary="Delete a point of contact",
    tag="directory",
    status=204,
    roles=WRITERS,
    errors=(401, 403, 404),
)
async def delete_contact(call: Call) -> web.Response:
    contact_id = _contact_id(call)
    async with call.request.app[DB].write() as session:
        await directory_service.delete_contact(session, contact_id, by=_by(call))
    _written(call)
    return web.Response(status=204)


@api.route(
    "POST",
    "/api/v1/providers",
    summary="Add a provider",
    tag="directory",
    body=ProviderCreate,
    response=ProviderPublic,
    status=201,
    roles=WRITERS,
    errors=(400, 401, 403, 409, 422),
)
async def create_provider(call: Call) -> ProviderPublic:
    async with call.request.app[DB].write() as session:
        row = await directory_service.create_provider(session, call.body, by=_by(call))
        out = provider_public(row, today=_today(call), max_age_days=_age(call))
    _written(call)
    return out


@api.route(
    "PUT",
    "/api/v1/providers/{slug}",
    summary="Change a provider (fields left out keep their value)",
    tag="directory",
    body=ProviderUpdate,
    response=ProviderPublic,
    roles=WRITERS,
    errors=(400, 401, 403, 404, 409, 422),
)
async def update_provider(call: Call) -> ProviderPublic:
    async with call.request.app[DB].write() as session:
        row = await directory_service.update_provider(
            session, call.params["slug"], call.body, by=_by(call)
        )
        out = provider_public(row, today=_today(call), max_age_days=_age(call))
    _written(call)
    return out


@api.route(
    "DELETE",
    "/api/v1/providers/{slug}",
    summary="Delete a provider",
    tag="directory",
    status=204,
    roles=WRITERS,
    errors=(401, 403, 404),
)
async def delete_provider(call: Call) -> web.Response:
    async with call.request.app[DB].write() as session:
        await directory_service.delete_provider(session, call.params["slug"], by=_by(call))
    _written(call)
    return web.Response(status=204)


@api.route(
    "POST",
    "/api/v1/directory/import",
    summary="Import providers or points of contact from CSV or JSON (upsert by natural key)",
    tag="directory",
    query=ImportQuery,
    body=ImportBody,
    response=ImportResult,
    roles=WRITERS,
    errors=(400, 401, 403, 409, 422),
)
async def import_directory(call: Call) -> ImportResult:
    q: ImportQuery = call.query
    # Read, validated and compared outside the write transaction: only the writes hold the
    # writer (directory/io.py import_into).
    report = await directory_io.import_into(
        call.request.app[DB],
        content=call.body.content,
        fmt=call.body.format,
        kind=q.kind,
        dry_run=q.dry_run,
        skip_invalid=q.skip_invalid,
        by=_by(call),
    )
    if report.errors and not q.skip_invalid:
        raise InvalidInput(errors=[e.as_field_error() for e in report.errors])
    if report.written:
        _written(call)
    log.info(
        "directory import",
        extra={
            "action": "directory.import",
            "kind": report.kind,
            "dry_run": report.dry_run,
            "rows_created": len(report.created),
            "rows_updated": len(report.updated),
            "invalid": len({e.row for e in report.errors}),
        },
    )
    return ImportResult(
        kind=report.kind,
        dry_run=report.dry_run,
        written=report.written,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=[
            ImportRowError(row=e.row, line=e.line, field=e.field, message=e.message)
            for e in report.errors
        ],
    )


@api.route(
    "GET",
    "/api/v1/directory/export",
    summary="Export providers or points of contact as CSV or JSON",
    tag="directory",
    query=ExportQuery,
    response=ExportResult,
    roles=EXPORTERS,
    errors=(401, 403, 422),
)
async def export_directory(call: Call) -> ExportResult:
    q: ExportQuery = call.query
    async with call.request.app[DB].read() as session:
        content, count = await directory_io.export_directory(session, kind=q.kind, fmt=q.format)
    return ExportResult(kind=q.kind, format=q.format, count=count, content=content)


# --- the log of changes ---------------------------------------------------------------------


class ChangesQuery(BaseModel):
    #: "provider", "contact" or "directory" (a load).
    entity: Literal["provider", "contact", "directory"] | None = None
    #: A provider's slug or a contact's id.
    key: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=100, ge=1, le=500)
    #: The ``next`` of the previous page.
    cursor: int | None = Field(default=None, ge=1)


class DirectoryChange(BaseModel):
    seq: int
    at: str
    actor: str
    unit: str
    entity: str
    key: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str


class DirectoryChanges(BaseModel):
    items: list[DirectoryChange]
    #: Pass as ``cursor`` for older changes; null on the last page.
    next: int | None


@api.route(
    "GET",
    "/api/v1/directory/changes",
    summary="List the changes to the directory, latest first (who, unit, when, before, after)",
    tag="directory",
    query=ChangesQuery,
    response=DirectoryChanges,
    errors=(401, 422),
)
async def list_directory_changes(call: Call) -> dict[str, Any]:
    q: ChangesQuery = call.query
    async with call.request.app[DB].read() as session:
        rows, nxt = await directory_changes.list_changes(
            session, entity=q.entity, key=q.key, before_seq=q.cursor, limit=q.limit
        )
    return {"items": [directory_changes.public_event(e) for e in rows], "next": nxt}
