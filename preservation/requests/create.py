"""Creating a preservation request, and submitting it in the same transaction: the path an
investigator takes at 2 a.m., and the one the service must keep fast (issue 4's benchmark,
bench/bench_create.py).

Everything that can be checked or computed without the database is done before the write
transaction (`prepare_create`) or in memory inside it; the transaction itself is a few plain
statements, whatever the number of identifiers:

1. the unit's profile and the directory's version, in one SELECT;
2. the next reference (one upsert, see references.py);
3. the request row, with its final status, route, checklist, warnings and deadlines;
4. the identifier rows, the audit events (a new chain: no read), the outbox rows and the
   reminder rows, one multi-row INSERT each.

The directory rows (provider, points of contact) come from this node's snapshot when the
version read in step 1 is the snapshot's: it is then exactly what the transaction would read.
Otherwise they are read in the transaction, and the caller refreshes the snapshot afterwards
(`after_create`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact
from preservation.access.auth import Principal
from preservation.directory.routing import Route, decide_route
from preservation.directory.snapshot import Snapshot, contacts_for_country, get_provider
from preservation.domain.lifecycle import Status
from preservation.errors import InvalidInput, NotFound
from preservation.requests import audit
from preservation.requests import emergency as emergencies
from preservation.requests import reminder_plan as reminders
from preservation.requests.addressee import addressee_of
from preservation.requests.assessment import (
    apply_assessment,
    check_lang,
    identifier_warnings,
    laws_for,
    owner_warnings,
    provider_index,
    resolve_regime,
    unknown_provider,
)
from preservation.requests.identifiers import identifier_values, parse_identifiers
from preservation.requests.references import next_reference
from preservation.requests.schemas import RequestCreate, RequestPublic
from preservation.requests.submit import (
    PENDING,
    check_submittable,
    mark_submitted,
    outbox_values,
    submit_detail,
)
from preservation.requests.view import to_public
from preservation.runtime.context import Context
from preservation.storage.db import Database
from preservation.storage.models import (
    AuditEvent,
    DirectoryVersion,
    OutboxMessage,
    PreservationRequest,
    Reminder,
    RequestIdentifier,
    Unit,
)
from providers.models import Provider

_UNIT = Unit.__table__
_UNIT_AND_DIRECTORY = select(
    _UNIT,
    select(DirectoryVersion.version)
    .where(DirectoryVersion.id == 1)
    .scalar_subquery()
    .label("directory_version"),
).where(_UNIT.c.id == bindparam("unit_id"))
_REQUEST = PreservationRequest.__table__
_INSERT_REQUEST = insert(_REQUEST).returning(_REQUEST.c.id)
_INSERT_IDENTIFIERS = insert(RequestIdentifier.__table__)
_INSERT_EVENTS = insert(AuditEvent.__table__)
_INSERT_OUTBOX_IDS = insert(OutboxMessage.__table__).returning(
    OutboxMessage.__table__.c.id, sort_by_parameter_order=True
)
_INSERT_REMINDERS = insert(Reminder.__table__)


@dataclass(frozen=True, kw_only=True)
class PreparedCreate:
    """What can be checked and built before the write transaction (pure: no I/O), so that
    SQLite's single writer is held only for the database work."""

    data: RequestCreate
    identifiers: tuple[Any, ...]
    now: datetime
    #: The country national phone numbers were read as (the unit's, when the caller knew it).
    region: str | None = None


@dataclass(frozen=True, kw_only=True)
class Created:
    public: RequestPublic
    #: True when the request was submitted.
    submitted: bool
    #: True when outbox rows wait for the dispatcher: wake the scheduler after the commit.
    due: bool = False
    #: True when this node's directory snapshot was behind the database: refresh it after the
    #: commit (`after_create`), outside the write transaction.
    directory_stale: bool = False


def prepare_create(
    *, ctx: Context, data: RequestCreate, region: str | None = None
) -> PreparedCreate:
    """Check the regime, the letter language, an emergency's facts and every identifier (one 422
    naming each field). `region` is the unit's country: "0151 12345678" or "0049 151 12345678"
    read as its numbers (the transaction reads them again if the unit's country differs)."""
    now = ctx.clock.now()
    if data.regime is not None:
        resolve_regime(ctx, data.regime)
    check_lang(data.lang)
    refused: list[Any] = []
    try:
        emergencies.check_facts(data.kind, data.emergency)
    except InvalidInput as exc:
        refused += exc.errors
    try:
        parsed = parse_identifiers(data.identifiers, ctx=ctx, now=now, region=region)
    except InvalidInput as exc:
        raise InvalidInput(errors=[*refused, *exc.errors]) from None
    if refused:
        raise InvalidInput(errors=refused)
    return PreparedCreate(data=data, identifiers=tuple(parsed), now=now, region=region)


@dataclass(frozen=True, kw_only=True)
class _Directory:
    provider: Provider | None
    #: The requested country: given, or the provider's.
    country: str | None
    contacts: Sequence[Contact]
    #: The snapshot the rows come from (None: read in this transaction).
    snapshot: Snapshot | None


async def _directory(
    session: AsyncSession, ctx: Context, *, version: int, data: RequestCreate
) -> _Directory:
    """The provider (422 when the directory has no such provider) and the requested country's
    points of contact, from the snapshot when it is of `version`."""
    snapshot = ctx.directory.of_version(version) if ctx.directory is not None else None
    if snapshot is not None:
        provider = snapshot.provider_by_slug.get(data.provider) if data.provider else None
    else:
        provider = await get_provider(session, data.provider) if data.provider else None
    if data.provider and provider is None:
        raise unknown_provider(data.provider)
    country = data.country or (provider.country if provider is not None else None)
    if not country:
        contacts: Sequence[Contact] = ()
    elif snapshot is not None:
        contacts = snapshot.contacts_for_country(country)
    else:
        contacts = await contacts_for_country(session, country)
    return _Directory(provider=provider, country=country, contacts=contacts, snapshot=snapshot)


def _route(
    found: _Directory, req: PreservationRequest, *, unit: Any, ctx: Context, now: datetime
) -> Route:
    snapshot = found.snapshot
    route = decide_route(
        provider=found.provider,
        contacts=list(found.contacts),
        country=found.country,
        copy_to_poc=unit.copy_to_poc,
        today=now.date(),
        staleness_days=ctx.settings.staleness_days,
        with_views=snapshot is None,
        laws=laws_for(req, unit=unit, ctx=ctx),
    )
    if snapshot is None:
        return route
    # The snapshot's views are made once per snapshot and day (shared: read only).
    today, age = now.date(), ctx.settings.staleness_days
    return replace(
        route,
        provider=(
            snapshot.provider_json(found.provider, today=today, max_age_days=age)
            if found.provider is not None
            else None
        ),
        contacts=tuple(
            snapshot.contact_json(c, today=today, max_age_days=age) for c in found.contacts
        ),
    )


def _column_defaults() -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """Each column's default as the model declares it: values, and default factories."""
    values: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name, info in PreservationRequest.model_fields.items():
        if info.default_factory is not None:
            factories[name] = info.default_factory  # type: ignore[assignment]
        else:
            values[name] = None if info.is_required() else info.default
    return values, factories


_DEFAULTS, _FACTORIES = _column_defaults()


def _new_row(**values: Any) -> Any:
    """The request being created, as plain attributes with the model's defaults: read and set
    like a PreservationRequest by the pure functions (checklist, plan, public view) and written
    with one INSERT. (Building the SQLModel object would cost more than the INSERT.)"""
    row = dict(_DEFAULTS)
    row.update({k: make() for k, make in _FACTORIES.items()})
    row.update(values)
    return SimpleNamespace(**row)


def _request_values(req: Any) -> dict[str, Any]:
    return {c.name: getattr(req, c.key) for c in _REQUEST.columns if c.name != "id"}


async def create_in_session(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    data: RequestCreate,
    prepared: PreparedCreate | None = None,
) -> Created:
    """Create a request (and submit it when `data.submit`) in the caller's transaction.
    `prepared` is prepare_create's result when the caller checked the input beforehand."""
    if prepared is None or prepared.data is not data:
        prepared = prepare_create(ctx=ctx, data=data)
    if data.record_only or data.sent_at or data.preserved_at or data.provider_reference:
        # Sent elsewhere, recorded after the fact: requests/record.py (a draft made here, then
        # recorded as sent).
        from preservation.requests.record import record_in_session

        return await record_in_session(
            session, ctx=ctx, principal=principal, data=data, prepared=prepared
        )
    now = prepared.now
    parsed = prepared.identifiers

    unit = (
        await session.execute(_UNIT_AND_DIRECTORY, {"unit_id": principal.unit_id})
    ).one_or_none()
    if unit is None:
        raise NotFound("no such unit")
    if (unit.country or None) != prepared.region and any(
        str(i.type) == "phone" for i in data.identifiers
    ):
        # National phone numbers are the unit's country's: read them again as the stored one
        # (only a phone number reads differently with another country).
        parsed = tuple(
            parse_identifiers(data.identifiers, ctx=ctx, now=now, region=unit.country or None)
        )
    version = int(unit.directory_version or 0)
    identifiers = [SimpleNamespace(**v) for v in identifier_values(None, parsed)]
    named: tuple[str, ...] = ()
    if data.provider is None and not data.country and identifiers:
        # Neither a provider nor a State named: the identifiers' own (requests/addressee.py).
        snapshot = ctx.directory.of_version(version) if ctx.directory is not None else None
        inferred = addressee_of(
            snapshot.providers if snapshot is not None else await provider_index(session, ctx),
            identifiers,
        )
        named = inferred.warnings
        data = data.model_copy(update={"provider": inferred.provider, "country": inferred.country})
    found = await _directory(session, ctx, version=version, data=data)

    req = _new_row(
        reference=await next_reference(session, now=now),
        unit_id=principal.unit_id,
        created_by=principal.user_id,
        status=Status.DRAFT.value,
        case_reference=data.case_reference.strip(),
        offence=data.offence.strip(),
        summary=data.summary.strip(),
        relevance=data.relevance.strip(),
        necessity=data.necessity.strip(),
        regime=data.regime or "",
        regime_asked=data.regime is not None,
        country=data.country,
        provider=data.provider,
        data_categories=list(data.data_categories),
        # An emergency is urgent by nature: the letters and lists say so.
        urgent=data.urgent or data.kind == emergencies.EMERGENCY,
        urgency_reason=data.urgency_reason.strip(),
        kind=data.kind,
        emergency=emergencies.check_facts(data.kind, data.emergency),
        confidential=data.confidential,
        mla_to_follow=data.mla_to_follow,
        lang=data.lang,
        created_at=now,
        updated_at=now,
    )
    route = _route(found, req, unit=unit, ctx=ctx, now=now)
    apply_assessment(
        req,
        route,
        parsed_warnings=[
            *named,
            *identifier_warnings(identifiers),
            *owner_warnings(
                found.snapshot.providers
                if found.snapshot is not None
                else await provider_index(session, ctx),
                provider=req.provider,
                rows=identifiers,
            ),
        ],
        identifiers=len(identifiers),
        unit=unit,
        ctx=ctx,
    )
    planned: list[Any] = []
    # An EPOC-PR is not queued on submit: it waits for a judge or prosecutor (requests/epoc.py).
    refer = data.submit and req.regime == "eu-epoc-pr"
    if refer:
        check_submittable(req, route, regimes=ctx.regimes)
    elif data.submit:
        check_submittable(req, route, regimes=ctx.regimes)
        mark_submitted(req, now=now)
        planned = reminders.plan_new(
            req, ctx=ctx, policy=reminders.policy_of(found.provider), now=now
        )

    req.id = (await session.execute(_INSERT_REQUEST, _request_values(req))).scalar_one()
    for row in identifiers:
        row.request_id = req.id
    if identifiers:
        await session.execute(_INSERT_IDENTIFIERS, [vars(row) for row in identifiers])
    events: list[tuple[str, str, datetime, dict[str, Any] | None]] = [
        (
            principal.actor,
            "create",
            now,
            {
                "reference": req.reference,
                "regime": req.regime,
                "country": req.country,
                "provider": req.provider,
                "identifiers": len(identifiers),
                "urgent": req.urgent,
            },
        )
    ]
    if emergencies.is_emergency(req):
        # Who declared the emergency, and why (the facts the provider will weigh).
        events.append(
            (principal.actor, "emergency_declared", now, emergencies.declared_detail(req))
        )
    outbox: list[dict[str, Any]] | None = None
    rows: list[dict[str, Any]] = []
    if data.submit and not refer:
        events.append((principal.actor, "submit", now, submit_detail(route)))
        outbox = outbox_values(req, route, now=now)
        rows = reminders.new_rows(unit_id=req.unit_id, request_id=req.id, planned=planned, now=now)
    await session.execute(_INSERT_EVENTS, audit.chain(req.id, events))
    if outbox:
        # The rows' ids name each recipient's letter (`?recipient=`) in the answer.
        ids = (await session.execute(_INSERT_OUTBOX_IDS, outbox)).scalars().all()
        for values, row_id in zip(outbox, ids, strict=True):
            values["id"] = row_id
    if rows:
        await session.execute(_INSERT_REMINDERS, rows)
    if refer:
        from preservation.requests import epoc

        assert req.id is not None
        return Created(
            public=await epoc.refer_created(
                session, ctx=ctx, principal=principal, request_id=req.id, route=route
            ),
            submitted=True,
            due=False,
            directory_stale=ctx.directory is not None and found.snapshot is None,
        )

    public = await to_public(
        session,
        req,
        unit_name=unit.name,
        creator=principal.user_name,
        identifiers=identifiers,
        outbox=[SimpleNamespace(**v) for v in outbox or ()],
        deadlines=[(r["kind"], r["due_at"]) for r in rows],
        regimes=ctx.regimes,
    )
    return Created(
        public=public,
        submitted=data.submit,
        due=any(m["status"] == PENDING for m in outbox or ()),
        directory_stale=ctx.directory is not None and found.snapshot is None,
    )


async def after_create(db: Database, ctx: Context, created: Created) -> None:
    """After the commit: wake the scheduler for the new outbox rows, and bring this node's
    directory snapshot up to date if it was behind (outside the write transaction)."""
    if created.due:
        ctx.wake()
    if created.directory_stale and ctx.directory is not None:
        await ctx.directory.refresh(db.read)


async def create_request(
    db: Database, *, ctx: Context, principal: Principal, data: RequestCreate
) -> RequestPublic:
    """Create (and submit) in one transaction; nothing is left behind when it is refused."""
    prepared = prepare_create(ctx=ctx, data=data)
    async with db.write() as session:
        created = await create_in_session(
            session, ctx=ctx, principal=principal, data=data, prepared=prepared
        )
    await after_create(db, ctx, created)
    return created.public
