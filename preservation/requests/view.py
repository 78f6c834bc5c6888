"""Reading one request: loaded within the caller's unit (another unit's request is NotFound, never Forbidden), and its public view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.domain.lifecycle import EPOC_ACTIONS, SYSTEM_ACTIONS, Status, allowed_actions
from preservation.errors import NotFound
from preservation.requests.assessment import check_lang
from preservation.requests.schemas import (
    ChecklistItem,
    ChecklistPublic,
    DeadlinePublic,
    ExtensionPublic,
    IdentifierPublic,
    LocalTimePublic,
    RecipientPublic,
    RequestPublic,
    RoutePublic,
)
from preservation.runtime.context import Context
from preservation.runtime.offload import in_process
from preservation.storage.db import Database
from preservation.storage.models import (
    OutboxMessage,
    PreservationRequest,
    Reminder,
    RequestIdentifier,
    Unit,
    User,
)

MAX_ID = 2**63 - 1
#: Formats rendered in the worker process (runtime/offload.py), not on the event loop.
HEAVY_FORMATS = frozenset({"pdf", "docx"})


def _request_id(request_id: int | str) -> int:
    try:
        rid = int(request_id)
    except (TypeError, ValueError):
        raise NotFound("no such request") from None
    if rid < 1 or rid > MAX_ID:
        raise NotFound("no such request")
    return rid


async def load_request(
    session: AsyncSession, *, principal: Principal, request_id: int | str
) -> PreservationRequest:
    """The caller's unit's request, or NotFound (also for another unit's)."""
    rid = _request_id(request_id)
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
    regimes: Mapping[str, Any] | None = None,
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
    if req.status in (Status.DRAFT, Status.AWAITING_VALIDATION):
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
                id=m.id,
                role=m.role,
                channel=m.channel,
                to=m.to,
                name=m.recipient_name,
                status=m.status,
                instrument=m.instrument or None,
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
        necessity=req.necessity,
        regime=req.regime,
        regime_asked=req.regime_asked,
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
        mla_received_at=req.mla_received_at,
        received_at=getattr(req, "received_at", None),
        closed_at=req.closed_at,
        outcome=req.outcome,
        extensions=[
            ExtensionPublic(
                requested_at=str(e.get("requested_at")),
                granted_at=str(e["granted_at"]) if e.get("granted_at") else None,
                reference=str(e.get("reference") or ""),
            )
            for e in (req.extensions or [])
        ],
        expires_at=req.expires_at,
        expiry_rule=req.expiry_rule,
        held_until_decision=req.held_until_decision,
        next_reminder_at=req.next_reminder_at,
        deadlines=[DeadlinePublic(kind=k, due_at=d) for k, d in deadlines],
        allowed_actions=offered_actions(req, regimes),  # instrument-aware when given
        version=req.version,
        kind=getattr(req, "kind", None) or "preservation",
        emergency=getattr(req, "emergency", None) or None,
        call=[c for c in (route or {}).get("call", []) if c.get("phone")],
        record_only=bool(getattr(req, "record_only", False)),
    )


def offered_actions(req: PreservationRequest, regimes: Mapping[str, Any] | None) -> list[str]:
    """The transitions the state allows, less those the instrument always refuses: an extension
    where the instrument has none (Budapest: a fresh request instead), the MLA request's receipt
    where it changes nothing or was already recorded."""
    regime = (regimes or {}).get(req.regime)
    out = []
    for a in allowed_actions(req.status):
        if a in SYSTEM_ACTIONS:
            continue
        epoc = req.regime == "eu-epoc-pr"
        if a in EPOC_ACTIONS and not epoc:
            continue
        if epoc and a.value in ("extend", "mla", "mla-received"):
            continue  # an EPOC-PR has Annex VI and Annex V instead (requests/epoc.py)
        emergency = getattr(req, "kind", None) == "emergency"
        if emergency and a.value in ("extend", "mla", "mla-received"):
            # An emergency has no preservation to extend: its formal request follows from the
            # preservation request made after it (POST .../follow-up).
            continue
        if a.value == "extend" and regime is not None:
            if not regime.period_from_provider and not regime.extendable:
                continue
        if a.value == "mla-received" and (
            req.mla_received_at is not None
            or (regime is not None and regime.hold_starts.value != "mla_received")
        ):
            continue
        out.append(a.value)
    if (
        getattr(req, "kind", None) == "emergency"
        and req.status != Status.DRAFT
        and not (getattr(req, "emergency", None) or {}).get("follow_up")
    ):
        out.append("follow-up")  # the preservation request for the same identifiers
    return out


# --- use cases ---------------------------------------------------------------------------------


async def get_request(
    db: Database,
    *,
    principal: Principal,
    request_id: int | str,
    regimes: Mapping[str, Any] | None = None,
) -> RequestPublic:
    """The public view in four plain statements (the request with its unit's and creator's
    names; its identifiers; its recipients; its open deadlines), read as rows, not ORM objects."""
    rid = _request_id(request_id)
    R = PreservationRequest
    async with db.read() as session:
        req = (
            await session.execute(
                select(
                    R.__table__,
                    Unit.name.label("unit_name_of_request"),
                    User.name.label("creator_name_of_request"),
                )
                .join(Unit, Unit.id == R.unit_id)
                .outerjoin(User, User.id == R.created_by)
                .where(R.id == rid, R.unit_id == principal.unit_id)
            )
        ).first()
        if req is None:
            raise NotFound("no such request")
        identifiers = (
            await session.execute(
                select(RequestIdentifier.__table__)
                .where(RequestIdentifier.request_id == rid)
                .order_by(RequestIdentifier.position)
            )
        ).all()
        outbox = None
        if req.status != Status.DRAFT:
            outbox = (
                await session.execute(
                    select(OutboxMessage.__table__)
                    .where(OutboxMessage.request_id == rid)
                    .order_by(OutboxMessage.id)
                )
            ).all()
        return await to_public(
            session,
            req,  # type: ignore[arg-type]
            unit_name=req.unit_name_of_request,
            creator=req.creator_name_of_request or "",
            identifiers=identifiers,
            outbox=outbox,
            regimes=regimes,
        )


async def render_request_letter(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    fmt: str,
    lang: str | None,
    recipient_id: int | None = None,
) -> tuple[bytes, str]:
    """The letter of a request as it stands (a draft is marked as such; once sent, it also gives
    the expiry computed from the sending): body and content type. Built by the same function as
    the letter the dispatcher sends (requests/letters.py)."""
    from preservation.documents.letter import CONTENT_TYPES, render_letter
    from preservation.requests.letters import letter_context_for, outbox_recipient

    async with db.read() as session:
        req = await load_request(session, principal=principal, request_id=request_id)
        recipient = None
        if recipient_id is not None:
            row = await session.get(OutboxMessage, recipient_id)
            if row is None or row.request_id != req.id:
                raise NotFound(f"request {req.reference} has no recipient {recipient_id}")
            recipient = outbox_recipient(row)
        if lang is not None:
            check_lang(lang, field="query.lang")
        lang = lang or req.lang
        context = await letter_context_for(
            session,
            req,
            regimes=ctx.regimes,
            now=ctx.clock.now(),
            recipient=recipient,
            lang=lang,
        )
    if fmt in HEAVY_FORMATS:
        # A PDF takes 0.1-0.8 s of CPU and its library 60 MB: in the worker process, so the
        # node keeps answering (runtime/offload.py).
        body = await in_process(render_letter, context, fmt=fmt, lang=lang)
    else:
        body = render_letter(context, fmt=fmt, lang=lang)
    return body, CONTENT_TYPES[fmt]
