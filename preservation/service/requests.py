"""Preservation requests: create (optionally submitting in the same transaction), read, list,
change drafts, and the public view.

Each use case is one transaction. The `*_in_session` functions do the work inside a transaction
the caller owns (the idempotency layer wraps them to store its record in the same transaction);
the plain functions open it, and wake the scheduler after a commit that queued messages.

Unit isolation: every read goes through `load_request`, which looks a request up by id AND the
caller's unit; another unit's request is NotFound, never Forbidden (its existence is not told)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import routing
from ..auth import Principal
from ..db import Database
from ..errors import Conflict, FieldError, InvalidInput, NotFound
from ..lifecycle import Status, allowed_actions
from ..models import (
    OutboxMessage,
    PreservationRequest,
    Reminder,
    RequestIdentifier,
    Unit,
    User,
)
from ..regimes import Regime
from ..render.letter import available_languages
from ..schemas import (
    ChecklistItem,
    ChecklistPublic,
    DeadlinePublic,
    EventList,
    EventPublic,
    ExtensionPublic,
    IdentifierIn,
    IdentifierPublic,
    LocalTimePublic,
    RecipientPublic,
    RequestList,
    RequestPatch,
    RequestPublic,
    RequestSummary,
    RoutePublic,
)
from . import audit
from .context import Context

MAX_ID = 2**63 - 1

#: Member States bound by Regulation (EU) 2023/1543: the EU less Denmark, which does not take
#: part in measures of this kind (Protocol No 22 to the Treaties) and is not bound by it.
EPOC_STATES = frozenset(
    "AT BE BG HR CY CZ EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)

#: Request fields that PATCH may set (the rest are set by transitions only).
EDITABLE = (
    "case_reference",
    "offence",
    "summary",
    "relevance",
    "regime",
    "country",
    "provider",
    "data_categories",
    "urgent",
    "urgency_reason",
    "confidential",
    "mla_to_follow",
    "lang",
)


# --- checks ------------------------------------------------------------------------------------


def resolve_regime(ctx: Context, key: str, *, field: str = "regime") -> Regime:
    """A usable regime: known, and not a template to be copied."""
    regime = ctx.regimes.get(key)
    known = ", ".join(sorted(k for k, r in ctx.regimes.items() if not r.template))
    if regime is None:
        raise InvalidInput(field, f"unknown regime {key!r}; known: {known}")
    if regime.template:
        raise InvalidInput(
            field, f"{key!r} is a template: copy and adapt it in the regimes file; known: {known}"
        )
    return regime


def check_lang(lang: str, *, field: str = "lang") -> str:
    languages = available_languages()
    if lang not in languages:
        raise InvalidInput(
            field, f"no letter template in {lang!r}; available: {', '.join(languages)}"
        )
    return lang


async def check_provider(
    session: AsyncSession, slug: str | None, *, field: str = "provider"
) -> Any | None:
    """The provider row of `slug` (None for None), or InvalidInput naming `field`.

    Callers keep the row for the rest of the transaction: the session's identity map holds its
    objects weakly, and a kept row spares routing and the reminder plan another SELECT."""
    if slug is None:
        return None
    from ..directory import get_provider

    provider = await get_provider(session, slug)
    if provider is None:
        raise unknown_provider(slug, field=field)
    return provider


def unknown_provider(slug: str, *, field: str = "provider") -> InvalidInput:
    return InvalidInput(field, f"no provider {slug!r} in the directory (see GET /api/v1/providers)")


def parse_identifiers(
    items: Sequence[IdentifierIn], *, ctx: Context, now: datetime, field: str = "identifiers"
) -> list[Any]:
    """Check every identifier; one InvalidInput naming every invalid field of every identifier."""
    if len(items) > ctx.settings.max_identifiers:
        raise InvalidInput(field, f"at most {ctx.settings.max_identifiers} identifiers per request")
    # Imported here: the identifiers module is a pure leaf, loaded on first use.
    from ..identifiers import check_identifier

    parsed: list[Any] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        try:
            parsed.append(check_identifier(item.raw(), index=index, now=now))
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors=errors)
    return parsed


def _local_public(instant: Any) -> dict[str, Any]:
    return dict(instant.as_public())


def identifier_values(request_id: int | None, parsed: Sequence[Any]) -> list[dict[str, Any]]:
    """Column values of the identifier rows of a request (for a plain INSERT)."""
    rows = []
    for position, p in enumerate(parsed):
        instants = {"at": p.at, "from": p.from_, "to": p.to}
        rows.append(
            {
                "request_id": request_id,
                "position": position,
                "type": str(p.type),
                "value": p.value,
                "normalized": p.normalized,
                "platform": p.platform,
                "port": p.port,
                "tz": p.tz,
                "at_utc": p.at.utc if p.at else None,
                "from_utc": p.from_.utc if p.from_ else None,
                "to_utc": p.to.utc if p.to else None,
                "local": {k: _local_public(v) for k, v in instants.items() if v is not None},
                # Notes (e.g. "https:// was added") are kept with the warnings: the officer
                # should see how the value was completed before the provider does.
                "warnings": [*p.warnings, *p.notes],
            }
        )
    return rows


def identifier_rows(request_id: int, parsed: Sequence[Any]) -> list[RequestIdentifier]:
    return [RequestIdentifier(**values) for values in identifier_values(request_id, parsed)]


@dataclass(frozen=True, kw_only=True)
class CheckItem:
    key: str
    label: str
    #: The request fields to fill in when the item is missing (named in the 422).
    fields: tuple[str, ...]
    required: bool = True


CHECKS = (
    CheckItem(
        key="basic_facts",
        label="Basic facts of the investigation: the offence and a short summary",
        fields=("offence", "summary"),
    ),
    CheckItem(
        key="data_description",
        label="A precise description of the data: each identifier, with its dates, times and time zones",
        fields=("identifiers",),
    ),
    CheckItem(
        key="relevance",
        label="Why the data are relevant to the investigation",
        fields=("relevance",),
    ),
    CheckItem(
        key="mla_to_follow",
        label="A statement that a mutual legal assistance request for disclosure will follow",
        fields=("mla_to_follow",),
    ),
    CheckItem(
        key="confidentiality",
        label="The need for confidentiality: the user is not to be notified",
        fields=("confidential",),
        required=False,
    ),
    CheckItem(
        key="urgency_reason",
        label="The reason for urgency (the request is marked urgent)",
        fields=("urgency_reason",),
    ),
    CheckItem(
        key="requested_state",
        label="The requested country (or a provider whose country is known)",
        fields=("country",),
    ),
    CheckItem(
        key="contact_details",
        label="Contact details of the unit: official e-mail and telephone (unit profile)",
        fields=("unit.email", "unit.phone"),
    ),
)


def checklist(
    req: PreservationRequest, *, identifiers: int, unit: Any, provider_country: str | None
) -> dict[str, Any]:
    """The UNODC practitioners' checklist (basic facts, data, relevance, MLA to follow,
    confidentiality, urgency, contact details) for the request as it stands."""
    ok = {
        "basic_facts": bool(req.offence.strip() and req.summary.strip()),
        "data_description": identifiers > 0,
        "relevance": bool(req.relevance.strip()),
        "mla_to_follow": req.mla_to_follow,
        "confidentiality": req.confidential,
        "urgency_reason": (not req.urgent) or bool(req.urgency_reason.strip()),
        "requested_state": bool(req.country or provider_country),
        "contact_details": bool(unit.email.strip() and unit.phone.strip()),
    }
    items = [
        {"key": c.key, "label": c.label, "ok": ok[c.key], "required": c.required} for c in CHECKS
    ]
    missing = [c.key for c in CHECKS if c.required and not ok[c.key]]
    return {"complete": not missing, "missing": missing, "items": items}


def missing_errors(req: PreservationRequest, check: dict[str, Any]) -> list[FieldError]:
    """One error per field to fill in, for a 422 on submit."""
    by_key = {c.key: c for c in CHECKS}
    errors = []
    for key in check["missing"]:
        item = by_key[key]
        for name in item.fields:
            if key == "basic_facts" and getattr(req, name).strip():
                continue
            errors.append(FieldError(field=name, message=f"required to submit: {item.label}"))
    return errors


def regime_warnings(regime: Regime, *, country: str | None, now: datetime) -> list[str]:
    out = []
    if regime.applies_from is not None and now.date() < regime.applies_from:
        out.append(f"{regime.citation} applies only from {regime.applies_from.isoformat()}")
    if country and regime.key == "us-2703f" and country != "US":
        out.append(
            f"{regime.citation} binds providers in the United States; the requested country is"
            f" {country}: check the regime"
        )
    if country and regime.key == "eu-epoc-pr" and country not in EPOC_STATES:
        out.append(
            f"{regime.citation}: an EPOC-PR is addressed to a provider's establishment in a Member"
            f" State bound by the Regulation; {country} is not one: check the regime"
        )
    return out


def route_warnings(route: routing.Route, *, confidential: bool, regime: Regime) -> list[str]:
    out = []
    provider = route.provider
    if provider is not None:
        name = provider.get("name") or provider.get("slug")
        if provider.get("accepts_foreign_direct") is False:
            out.append(
                f"{name} does not accept preservation requests directly from foreign"
                " authorities: the request goes to the requested country's 24/7 point of contact"
            )
        elif provider.get("accepts_foreign_direct") is None:
            out.append(
                f"the directory does not say whether {name} accepts foreign requests directly:"
                " the request goes to the 24/7 point of contact"
            )
        if provider.get("stale"):
            out.append(
                f"the directory entry of {name} has not been verified recently"
                f" (verified on {provider.get('verified_on') or 'never'}): check its portal and address"
            )
        if confidential and provider.get("notifies_user") == "always":
            out.append(
                f"{name} notifies its users unless a law or court order forbids it: the"
                " confidentiality request alone may not keep the preservation from the user"
            )
        elif confidential and provider.get("notifies_user") == "unknown":
            out.append(
                f"it is not known whether {name} notifies its users: ask the requested authority"
            )
    copy_ids = set(route.copy_to)
    for contact in route.contacts:
        used = contact.get("id") in copy_ids or any(
            r.contact_id == contact.get("id") for r in route.recipients
        )
        if used and contact.get("stale"):
            out.append(
                f"the directory entry of {contact.get('authority')} ({contact.get('country')}) has"
                f" not been verified recently (verified on {contact.get('verified_on') or 'never'})"
            )
    if not route.recipients:
        out.append(f"no recipient: {route.why}")
    if (
        regime.key == "budapest-art29"
        and route.country
        and not any(c.get("network") == "24/7" for c in route.contacts)
    ):
        out.append(
            f"no 24/7 point of contact of {route.country} is on file: check that {route.country}"
            " is a Party to the Convention on Cybercrime (Art. 35)"
        )
    return out


async def resolve_route(
    session: AsyncSession, req: PreservationRequest, *, unit: Unit, ctx: Context
) -> routing.Route:
    return await routing.route_request(
        session,
        country=req.country,
        provider_slug=req.provider,
        copy_to_poc=unit.copy_to_poc,
        today=ctx.clock.now().date(),
        staleness_days=ctx.settings.staleness_days,
    )


def stored_route(route: routing.Route) -> dict[str, Any]:
    return {
        **route.as_public(),
        "country": route.country,
        "provider_name": (route.provider or {}).get("name"),
        "recipients": [
            {"role": r.role, "channel": r.channel, "to": r.to, "name": r.name}
            for r in route.recipients
        ],
    }


def apply_assessment(
    req: PreservationRequest,
    route: routing.Route,
    *,
    parsed_warnings: Sequence[str],
    identifiers: int,
    unit: Any,
    ctx: Context,
) -> None:
    """Store `route`, the checklist and the warnings of the request as it stands (pure)."""
    regime = resolve_regime(ctx, req.regime)
    req.route = stored_route(route)
    req.checklist = checklist(
        req, identifiers=identifiers, unit=unit, provider_country=route.country
    )
    now = ctx.clock.now()
    warnings = list(parsed_warnings)
    warnings += regime_warnings(regime, country=req.country or route.country, now=now)
    warnings += route_warnings(route, confidential=req.confidential, regime=regime)
    req.warnings = list(dict.fromkeys(warnings))


async def assess(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    parsed_warnings: Sequence[str],
    identifiers: int,
    unit: Unit,
    ctx: Context,
) -> routing.Route:
    """Route, checklist and warnings of the request as it stands (stored on the request)."""
    route = await resolve_route(session, req, unit=unit, ctx=ctx)
    apply_assessment(
        req,
        route,
        parsed_warnings=parsed_warnings,
        identifiers=identifiers,
        unit=unit,
        ctx=ctx,
    )
    return route


def identifier_warnings(rows: Sequence[Any]) -> list[str]:
    """Each identifier row's warnings, named by position, for the request's warnings."""
    return [f"identifiers[{r.position}]: {w}" for r in rows for w in (r.warnings or [])]


# --- loading -----------------------------------------------------------------------------------


async def load_request(
    session: AsyncSession, *, principal: Principal, request_id: int | str
) -> PreservationRequest:
    """The caller's unit's request, or NotFound (also for another unit's)."""
    try:
        rid = int(request_id)
    except (TypeError, ValueError):
        raise NotFound("no such request") from None
    if rid < 1 or rid > MAX_ID:
        raise NotFound("no such request")
    req = (
        await session.execute(
            select(PreservationRequest).where(
                PreservationRequest.id == rid, PreservationRequest.unit_id == principal.unit_id
            )
        )
    ).scalar_one_or_none()
    if req is None:
        raise NotFound("no such request")
    return req


async def load_identifiers(session: AsyncSession, request_id: int) -> list[RequestIdentifier]:
    rows = await session.execute(
        select(RequestIdentifier)
        .where(RequestIdentifier.request_id == request_id)
        .order_by(RequestIdentifier.position)
    )
    return list(rows.scalars())


async def load_unit(session: AsyncSession, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("no such unit")
    return unit


# --- public view -------------------------------------------------------------------------------


def identifier_public(row: RequestIdentifier) -> IdentifierPublic:
    return IdentifierPublic(
        position=row.position,
        type=row.type,
        value=row.value,
        normalized=row.normalized,
        platform=row.platform,
        port=row.port,
        tz=row.tz,
        at_utc=row.at_utc,
        from_utc=row.from_utc,
        to_utc=row.to_utc,
        local={k: LocalTimePublic(**v) for k, v in (row.local or {}).items()},
        warnings=list(row.warnings or []),
    )


async def to_public(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    unit_name: str | None = None,
    creator: str | None = None,
    identifiers: Sequence[Any] | None = None,
    outbox: Sequence[Any] | None = None,
    deadlines: Sequence[tuple[str, datetime]] | None = None,
) -> RequestPublic:
    """The API view of a request; loads whatever the caller has not already got at hand
    (`identifiers` and `outbox` are rows or objects with their columns as attributes;
    `deadlines` the (kind, due_at) of its open reminders, by due time)."""
    assert req.id is not None
    if unit_name is None:
        unit_name = (await load_unit(session, req.unit_id)).name
    if creator is None:
        user = await session.get(User, req.created_by)
        creator = user.name if user is not None else ""
    if identifiers is None:
        identifiers = await load_identifiers(session, req.id)
    if req.status == Status.DRAFT:
        recipients = [
            RecipientPublic(status="planned", **r) for r in (req.route or {}).get("recipients", [])
        ]
    else:
        if outbox is None:
            outbox = list(
                (
                    await session.execute(
                        select(OutboxMessage)
                        .where(OutboxMessage.request_id == req.id)
                        .order_by(OutboxMessage.id)
                    )
                ).scalars()
            )
        recipients = [
            RecipientPublic(
                role=m.role, channel=m.channel, to=m.to, name=m.recipient_name, status=m.status
            )
            for m in outbox
        ]
    if deadlines is None:
        deadlines = (
            await session.execute(
                select(Reminder.kind, Reminder.due_at)
                .where(Reminder.request_id == req.id, Reminder.status.in_(("pending", "sending")))
                .order_by(Reminder.due_at, Reminder.id)
            )
        ).all()
    route = req.route or None
    check = req.checklist or {"complete": False, "missing": [], "items": []}
    return RequestPublic(
        id=req.id,
        reference=req.reference,
        status=req.status,  # type: ignore[arg-type]
        unit=unit_name,
        created_by=creator,
        case_reference=req.case_reference,
        offence=req.offence,
        summary=req.summary,
        relevance=req.relevance,
        regime=req.regime,
        country=req.country,
        provider=req.provider,
        data_categories=list(req.data_categories or []),
        urgent=req.urgent,
        urgency_reason=req.urgency_reason,
        confidential=req.confidential,
        mla_to_follow=req.mla_to_follow,
        lang=req.lang,
        identifiers=[identifier_public(r) for r in identifiers],
        route=RoutePublic(
            channel=route["channel"],
            to=route["to"],
            copy_to=list(route.get("copy_to", [])),
            why=route.get("why", ""),
        )
        if route
        else None,
        recipients=recipients,
        checklist=ChecklistPublic(
            complete=check["complete"],
            missing=list(check["missing"]),
            items=[ChecklistItem(**i) for i in check["items"]],
        ),
        warnings=list(req.warnings or []),
        created_at=req.created_at,
        updated_at=req.updated_at,
        submitted_at=req.submitted_at,
        sent_at=req.sent_at,
        preserved_at=req.preserved_at,
        provider_reference=req.provider_reference,
        mla_sent_at=req.mla_sent_at,
        mla_reference=req.mla_reference,
        closed_at=req.closed_at,
        outcome=req.outcome,
        extensions=[
            ExtensionPublic(
                requested_at=str(e.get("requested_at")),
                granted_at=str(e["granted_at"]) if e.get("granted_at") else None,
            )
            for e in (req.extensions or [])
        ],
        expires_at=req.expires_at,
        expiry_rule=req.expiry_rule,
        held_until_decision=req.held_until_decision,
        next_reminder_at=req.next_reminder_at,
        deadlines=[DeadlinePublic(kind=k, due_at=d) for k, d in deadlines],
        allowed_actions=[
            a.value for a in allowed_actions(req.status) if a.value not in ("dispatch", "lapse")
        ],
        version=req.version,
    )


# --- use cases ---------------------------------------------------------------------------------


async def patch_in_session(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    change: RequestPatch,
) -> RequestPublic:
    now = ctx.clock.now()
    req = await load_request(session, principal=principal, request_id=request_id)
    if req.status != Status.DRAFT:
        raise Conflict(f"request {req.reference} is {req.status}: only drafts can be changed")
    given = change.model_dump(exclude_unset=True)
    for name in ("regime", "lang"):
        if name in given and given[name] is None:
            raise InvalidInput(name, "may not be null")
    for name in ("urgent", "confidential", "mla_to_follow", "data_categories", "identifiers"):
        if name in given and given[name] is None:
            raise InvalidInput(name, "may not be null")
    if "regime" in given:
        resolve_regime(ctx, given["regime"])
    if "lang" in given:
        check_lang(given["lang"])
    provider = None
    if given.get("provider") is not None:
        provider = await check_provider(session, given["provider"])
    parsed = None
    if "identifiers" in given:
        parsed = parse_identifiers(change.identifiers or [], ctx=ctx, now=now)

    changed: list[str] = []
    for name in EDITABLE:
        if name not in given:
            continue
        value = given[name]
        if isinstance(value, str) and name not in ("country", "provider"):
            value = value.strip()
        if name in ("case_reference", "offence", "summary", "relevance", "urgency_reason"):
            value = value or ""
        if getattr(req, name) != value:
            setattr(req, name, value)
            changed.append(name)
    assert req.id is not None
    if parsed is not None:
        await session.execute(
            delete(RequestIdentifier).where(RequestIdentifier.request_id == req.id)
        )
        rows = identifier_rows(req.id, parsed)
        session.add_all(rows)
        changed.append("identifiers")
    else:
        rows = await load_identifiers(session, req.id)
    unit = await load_unit(session, req.unit_id)
    await assess(
        session,
        req,
        parsed_warnings=identifier_warnings(rows),
        identifiers=len(rows),
        unit=unit,
        ctx=ctx,
    )
    req.updated_at = now
    req.version += 1
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action="update",
        now=now,
        detail={"fields": changed},
    )
    await session.flush()
    del provider  # kept until here on purpose (see check_provider)
    return await to_public(session, req, unit_name=unit.name, identifiers=rows)


async def patch_request(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    change: RequestPatch,
) -> RequestPublic:
    """PATCH /api/v1/requests/{id}: drafts only (409 naming the state otherwise)."""
    async with db.write() as session:
        return await patch_in_session(
            session, ctx=ctx, principal=principal, request_id=request_id, change=change
        )


async def get_request(
    db: Database, *, principal: Principal, request_id: int | str
) -> RequestPublic:
    async with db.read() as session:
        req = await load_request(session, principal=principal, request_id=request_id)
        return await to_public(session, req)


_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str, *, field: str) -> timedelta:
    """ISO 8601 duration in weeks, days, hours, minutes, seconds ("P14D", "P2W", "PT36H").
    Years and months are refused: their length depends on the start."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise InvalidInput(
            field,
            f"{text!r} is not an ISO 8601 duration in weeks, days or hours (e.g. P14D, PT36H)",
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    try:
        delta = timedelta(**parts)
    except OverflowError:
        raise InvalidInput(field, "is too long") from None
    if delta > timedelta(days=36600):
        raise InvalidInput(field, "is too long (at most 100 years)")
    return delta


async def list_requests(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    status: str | None = None,
    expiring_within: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> RequestList:
    """The unit's requests, newest first; with `expiring_within`, those whose preservation
    expires between now and now + that duration, soonest first."""
    conditions = [PreservationRequest.unit_id == principal.unit_id]
    order = [PreservationRequest.id.desc()]
    if status is not None:
        conditions.append(PreservationRequest.status == Status(status).value)
    if expiring_within is not None:
        now = ctx.clock.now()
        until = now + parse_duration(expiring_within, field="query.expiring_within")
        conditions += [
            PreservationRequest.expires_at.is_not(None),
            PreservationRequest.expires_at >= now,
            PreservationRequest.expires_at <= until,
        ]
        order = [PreservationRequest.expires_at, PreservationRequest.id]
    async with db.read() as session:
        total = (
            await session.execute(
                select(func.count()).select_from(PreservationRequest).where(*conditions)
            )
        ).scalar_one()
        rows = (
            await session.execute(
                select(PreservationRequest)
                .where(*conditions)
                .order_by(*order)
                .limit(limit)
                .offset(offset)
            )
        ).scalars()
        items = [
            RequestSummary(
                id=r.id,
                reference=r.reference,
                status=r.status,  # type: ignore[arg-type]
                case_reference=r.case_reference,
                regime=r.regime,
                country=r.country,
                provider=r.provider,
                urgent=r.urgent,
                created_at=r.created_at,
                submitted_at=r.submitted_at,
                expires_at=r.expires_at,
                next_reminder_at=r.next_reminder_at,
            )
            for r in rows
        ]
    return RequestList(items=items, total=int(total), limit=limit, offset=offset)


async def list_events(db: Database, *, principal: Principal, request_id: int | str) -> EventList:
    async with db.read() as session:
        req = await load_request(session, principal=principal, request_id=request_id)
        assert req.id is not None
        events = await audit.events_of(session, req.id)
    return EventList(items=[EventPublic(**e) for e in audit.public_events(events)])


async def render_request_letter(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    fmt: str,
    lang: str | None,
) -> tuple[bytes, str]:
    """The letter of a request as it stands (a draft is marked as such; once sent, it also gives
    the expiry computed from the sending): body and content type. Built by the same function as
    the letter the dispatcher sends (service/letters.py)."""
    from ..render.letter import CONTENT_TYPES, render_letter
    from .letters import letter_context_for

    async with db.read() as session:
        req = await load_request(session, principal=principal, request_id=request_id)
        context = await letter_context_for(session, req, regimes=ctx.regimes, now=ctx.clock.now())
    if lang is not None and fmt != "json":
        check_lang(lang, field="query.lang")
    body = render_letter(context, fmt=fmt, lang=lang or req.lang)
    return body, CONTENT_TYPES[fmt]
