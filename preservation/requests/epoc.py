"""The European Preservation Order (EPOC-PR) as use cases: an officer's submit sends it to
validation; a judge or prosecutor of the unit issues or validates it (or returns it); the unit
records its transmission through the national IT system, the issuing authority's Annexes V and
VI, and what comes back (notices, requests/epoc_notices.py); closing it drafts the end of
preservation (Art. 11(3)).

The service never transmits an EPOC-PR: Regulation (EU) 2023/1543, Art. 19(1) makes the
decentralised IT system the channel of every form. Issuing one here makes a hand-off row (channel
"eu-system", status "handoff") the unit completes with POST .../epoc-pr/transmitted once its
national IT system has sent the certificate (GET .../epoc-pr?format=xml|pdf).

Each use case runs in the caller's transaction (web/idempotent.py stores its answer in the same
one): lock the request, ask lifecycle (409 naming the state), the clock (domain/epoc_clock.py),
update, audit, replan."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access import judicial
from preservation.access.auth import Principal, Role
from preservation.directory import routing
from preservation.domain import epoc as rules
from preservation.domain import epoc_clock
from preservation.domain.lifecycle import Action, transition
from preservation.domain.text import MultiLine, SingleLine
from preservation.errors import Conflict, Forbidden, InvalidInput, NotFound
from preservation.requests import audit, delivery
from preservation.requests import reminder_plan as reminders
from preservation.requests.actions import _WithZone
from preservation.requests.schemas import RequestPublic
from preservation.requests.view import load_identifiers, load_request, load_unit, to_public
from preservation.runtime.context import Context
from preservation.storage.epoc import EpocOrder
from preservation.storage.models import OutboxMessage, PreservationRequest, Unit

EPOC_PR = "eu-epoc-pr"
HANDOFF = "handoff"
PROSECUTOR = str(Role.prosecutor)


# --- inputs ------------------------------------------------------------------------------------


class ValidateIn(BaseModel):
    """What the judge or prosecutor confirms when issuing or validating."""

    model_config = ConfigDict(extra="forbid")

    #: "issuing": the judge or prosecutor issues the order; "validating": the unit issued it as
    #: the competent authority its State defines, and the judge or prosecutor validates it.
    capacity: Literal["issuing", "validating"] = "issuing"
    #: Section B: issued in an emergency case.
    emergency: bool = False
    #: Section E: for criminal proceedings, or the execution of a custodial sentence or detention
    #: order.
    purpose: Literal["criminal_proceedings", "custodial_sentence"] = "criminal_proceedings"
    #: Section E: the statutory provisions of the offence.
    statutory_provisions: MultiLine = Field("", max_length=2000)
    #: The judicial authority's own file number (Section A).
    file_reference: SingleLine = Field("", max_length=200)


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Why it goes back to the officer (what to change).
    note: MultiLine = Field(..., min_length=1, max_length=4000)


class TransmittedIn(_WithZone):
    #: When the national IT system transmitted the certificate; default: now.
    transmitted_at: str | None = Field(None, min_length=1, max_length=64)
    #: The addressee's receipt, when the national system already reports it.
    received_at: str | None = Field(None, min_length=1, max_length=64)
    #: The national IT system's reference (case or form id).
    reference: SingleLine = Field("", max_length=200)


class AnnexViIn(_WithZone):
    #: When the issuing authority issued Annex VI; default: now.
    issued_at: str | None = Field(None, min_length=1, max_length=64)
    #: Why the 30 days are needed ("to allow for the issuing of a subsequent request for
    #: production", Art. 11(1)).
    reason: MultiLine = Field("", max_length=2000)


class AnnexVIn(_WithZone):
    #: When the issuing authority issued Annex V; default: now.
    issued_at: str | None = Field(None, min_length=1, max_length=64)
    #: The subsequent request for production: its reference, kind and date.
    production_reference: SingleLine = Field(..., min_length=1, max_length=200)
    production_kind: SingleLine = Field("European Production Order", max_length=200)
    production_issued_on: SingleLine = Field("", max_length=64)


# --- helpers -----------------------------------------------------------------------------------


def is_epoc(req: PreservationRequest) -> bool:
    return req.regime == EPOC_PR


def _require_epoc(req: PreservationRequest) -> None:
    if not is_epoc(req):
        raise Conflict(
            f"request {req.reference} rests on {req.regime!r}, not an EPOC-PR ({EPOC_PR!r})"
        )


async def order_of(session: AsyncSession, req: PreservationRequest) -> EpocOrder | None:
    return (
        await session.execute(select(EpocOrder).where(EpocOrder.request_id == req.id))
    ).scalar_one_or_none()


async def _order(session: AsyncSession, req: PreservationRequest, *, now: datetime) -> EpocOrder:
    order = await order_of(session, req)
    if order is None:
        assert req.id is not None
        order = EpocOrder(request_id=req.id, created_at=now, updated_at=now, notices=[])
        session.add(order)
    return order


async def locked(
    session: AsyncSession, *, principal: Principal, request_id: int | str
) -> PreservationRequest:
    """The caller's unit's EPOC-PR (404 otherwise), locked until the transaction ends."""
    req = await load_request(session, principal=principal, request_id=request_id)
    assert req.id is not None
    row = await delivery.lock_request(session, req.id)
    assert row is not None
    _require_epoc(row)
    return row


def check_issuing_authority(order: EpocOrder | None, principal: Principal) -> None:
    """Annexes V and VI are the issuing authority's forms (Art. 11(1)): the judge or prosecutor;
    the unit's officers too where the unit issued the order and the prosecutor validated it."""
    if principal.role == PROSECUTOR:
        return
    if order is not None and order.capacity == "validating":
        return
    raise Forbidden(
        "only the issuing authority issues Annex V and Annex VI (Regulation (EU) 2023/1543,"
        " Art. 11(1)): the judge or prosecutor who issued this EPOC-PR"
    )


def clock_events(req: PreservationRequest, ctx: Context) -> epoc_clock.EpocEvents:
    return epoc_clock.events_of(reminders.events_of(req), reminders.regimes_of(ctx)[EPOC_PR])


async def _finish(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    ctx: Context,
    principal: Principal,
    action: str,
    old: str,
    now: datetime,
    detail: dict[str, Any],
) -> RequestPublic:
    assert req.id is not None
    req.updated_at = now
    req.version += 1
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action=action,
        now=now,
        detail={"from": old, "to": req.status, **detail},
    )
    await reminders.replan(session, req, ctx=ctx)
    await session.flush()
    return await to_public(session, req, regimes=ctx.regimes)


# --- submit and validation ---------------------------------------------------------------------


async def refer(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    req: PreservationRequest,
    route: routing.Route,
) -> list[OutboxMessage]:
    """`submit` of an EPOC-PR (requests/submit.py): draft -> awaiting_validation, nothing sent.
    A prosecutor's own submit issues it at once (validate with the defaults)."""
    now = ctx.clock.now()
    old = req.status
    req.status = transition(old, Action.REFER).value
    req.submitted_at = now
    req.updated_at = now
    req.version += 1
    await _order(session, req, now=now)
    assert req.id is not None
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action="submit",
        now=now,
        detail={
            "from": old,
            "to": req.status,
            "why": (
                "a European Preservation Order is 'issued or validated by a judicial authority'"
                " (Regulation (EU) 2023/1543, Art. 3(2)): it waits for a judge or prosecutor of"
                " the unit (POST .../validate); nothing is sent"
            ),
            "addressee": [r.name for r in route.recipients],
        },
    )
    await reminders.replan(session, req, ctx=ctx)
    if principal.role == PROSECUTOR:
        return await _validate(
            session, ctx=ctx, principal=principal, req=req, data=ValidateIn(), route=route
        )
    return []


async def validate(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: ValidateIn,
) -> RequestPublic:
    """POST /api/v1/requests/{id}/validate (prosecutor role): the judge or prosecutor issues or
    validates the EPOC-PR: awaiting_validation -> queued, with a hand-off to the national IT
    system. 422 when the judicial authority's profile is incomplete or the order cannot be
    issued (domain/epoc.py), 409 outside awaiting_validation."""
    req = await locked(session, principal=principal, request_id=request_id)
    await _validate(session, ctx=ctx, principal=principal, req=req, data=data, route=None)
    return await to_public(session, req, regimes=ctx.regimes)


async def _validate(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    req: PreservationRequest,
    data: ValidateIn,
    route: routing.Route | None,
) -> list[OutboxMessage]:
    from preservation.requests.assessment import assess, identifier_warnings
    from preservation.requests.submit import check_submittable, outbox_values

    if principal.role != PROSECUTOR:
        raise Forbidden(
            "only a judge or prosecutor (role prosecutor) issues or validates an EPOC-PR"
        )
    now = ctx.clock.now()
    old = req.status
    new = transition(old, Action.VALIDATE)
    authority = await judicial.require_authority(session, principal)
    assert req.id is not None
    unit = await load_unit(session, req.unit_id)
    if route is None:
        # The directory or the unit's profile may have changed since the officer submitted.
        identifiers = await load_identifiers(session, req.id)
        route = await assess(
            session,
            req,
            parsed_warnings=identifier_warnings(identifiers),
            identifiers=len(identifiers),
            unit=unit,
            ctx=ctx,
        )
    check_submittable(req, route, regimes=ctx.regimes)
    recipient = next((r for r in route.recipients if r.channel == routing.EU_SYSTEM), None)
    if recipient is None:
        raise InvalidInput("provider", f"an EPOC-PR needs an addressee in the Union: {route.why}")
    rep = rules.representative((route.provider or {}).get("eu_representative"))
    order = await _order(session, req, now=now)
    signer = principal.user_name
    mine = judicial.snapshot(authority, signer=signer)
    if data.file_reference:
        mine["file_reference"] = data.file_reference
    order.capacity = data.capacity
    order.emergency = data.emergency
    order.purpose = data.purpose
    order.statutory_provisions = data.statutory_provisions.strip()
    if data.capacity == "issuing":
        order.issuing_authority = mine
        order.validating_authority = None
    else:
        order.issuing_authority = unit_authority(unit, file_reference=req.case_reference)
        order.validating_authority = mine
    order.addressee = {
        **(rep or {"name": recipient.name}),
        "provider": req.provider,
        "provider_name": (route.provider or {}).get("name") or req.provider,
    }
    order.validated_by = principal.user_id
    order.validated_actor = principal.actor
    order.validated_at = now
    order.updated_at = now
    rows = [
        OutboxMessage(**{**values, "status": HANDOFF})
        for values in outbox_values(req, route, now=now)
    ]
    session.add_all(rows)
    req.status = new.value
    req.updated_at = now
    req.version += 1
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action="validate",
        now=now,
        detail={
            "from": old,
            "to": req.status,
            "capacity": data.capacity,
            "issued_by": principal.actor,
            "authority": mine["name"],
            "authority_type": mine["type"],
            "emergency": data.emergency,
            "addressee": order.addressee.get("name"),
            "handoff": "transmit through the national IT system, then POST .../epoc-pr/transmitted",
        },
    )
    await reminders.replan(session, req, ctx=ctx)
    await session.flush()
    return rows


def unit_authority(unit: Unit, *, file_reference: str) -> dict[str, object]:
    """The unit as the issuing authority when the judge or prosecutor validates (Section A/F)."""
    return {
        "type": "other_competent_authority",
        "type_label": "Other competent authority as defined by the issuing State",
        "name": unit.authority or unit.name,
        "representative": "",
        "post_held": "",
        "address": unit.address,
        "phone": unit.phone,
        "email": unit.email,
        "languages": [],
        "file_reference": file_reference,
    }


async def return_to_officer(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: ReturnIn,
) -> RequestPublic:
    """POST .../return (prosecutor role): awaiting_validation -> draft, with the reason."""
    if principal.role != PROSECUTOR:
        raise Forbidden("only a judge or prosecutor returns an EPOC-PR awaiting validation")
    now = ctx.clock.now()
    req = await locked(session, principal=principal, request_id=request_id)
    old = req.status
    req.status = transition(old, Action.RETURN).value
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="return",
        old=old,
        now=now,
        detail={"note": data.note.strip()},
    )


# --- closing: the end of preservation (Art. 11(3)) ---------------------------------------------


async def on_close(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    principal: Principal,
    outcome: str,
    now: datetime,
) -> dict[str, Any]:
    """Closing an EPOC-PR (requests/actions.close, in its transaction): once transmitted, the
    issuing authority must tell the addressee that preservation is no longer necessary (Art.
    11(3)); the notice is drafted (GET .../forms/end-of-preservation) for the national IT system:
    a withdrawal while nothing is preserved yet, an end of preservation otherwise (the ETSI
    TS 104 144 names). Returns what the close event records."""
    order = await order_of(session, req)
    if order is None or order.transmitted_at is None:
        return {"end_of_preservation": "not transmitted: the addressee has nothing to be told"}
    kind = "Withdraw" if outcome == "withdrawn" and req.preserved_at is None else "EndPreservation"
    order.end_notice = {
        "at": now.isoformat(),
        "kind": kind,
        "outcome": outcome,
        "by": principal.actor,
    }
    order.updated_at = now
    warning = (
        f"Art. 11(3): tell the addressee without undue delay that preservation is no longer"
        f" necessary: transmit the notice ({kind}, GET /api/v1/requests/{req.id}/forms/"
        "end-of-preservation) through the national IT system, then record it (notice"
        " EndPreservation)"
    )
    req.warnings = [*(req.warnings or []), warning]
    await cancel_notice_reminders(session, req)
    return {"end_of_preservation": kind, "citation": epoc_clock.CITE_END}


async def cancel_notice_reminders(session: AsyncSession, req: PreservationRequest) -> None:
    from sqlalchemy import update

    from preservation.storage.models import Reminder

    await session.execute(
        update(Reminder)
        .where(
            Reminder.request_id == req.id,
            Reminder.kind.in_(NOTICE_KINDS),
            Reminder.status.in_(("pending", "sending")),
        )
        .values(status="cancelled", lease_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )


#: Reminder kinds of the non-execution window (requests/epoc_notices.py).
NOTICE_KINDS = ("epoc_nonexecution",)


async def get_order(
    session: AsyncSession, *, principal: Principal, request_id: int | str
) -> tuple[PreservationRequest, EpocOrder | None]:
    req = await load_request(session, principal=principal, request_id=request_id)
    if not is_epoc(req):
        raise NotFound(f"request {req.reference} is not an EPOC-PR (it rests on {req.regime!r})")
    return req, await order_of(session, req)


async def refer_created(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int,
    route: routing.Route,
) -> RequestPublic:
    """`refer` for a request created and submitted in one call (requests/create.py wrote it with
    plain inserts): read it back as a row and send it to validation."""
    req = await session.get(PreservationRequest, request_id)
    assert req is not None
    await refer(session, ctx=ctx, principal=principal, req=req, route=route)
    return await to_public(session, req, regimes=ctx.regimes)
