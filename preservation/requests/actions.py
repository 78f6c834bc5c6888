"""The transitions after sending: acknowledge, extend, MLA, close, and the officer's record of a
portal hand-off. Each runs in the caller's transaction (the idempotency layer stores its answer
in the same one): lock the request, ask lifecycle (409 naming the current state), update the
fields, append the audit event, replan the reminders. The caller commits, then wakes the
scheduler.

Instants given by the user: ISO 8601 with an offset ("2026-11-21T09:30:00+01:00", "...Z"), or a
local time with "tz" (an IANA zone) and, in a daylight-saving change, "dst". Never in the future,
never before the request was created."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.domain.dates import is_date_only, safe_start_of_day
from preservation.domain.lifecycle import Action, Status, transition
from preservation.domain.text import MultiLine, SingleLine
from preservation.domain.timing import resolve_local
from preservation.errors import Conflict, InvalidInput, NotFound
from preservation.requests import audit, delivery
from preservation.requests import reminder_plan as reminders
from preservation.requests.schemas import RequestPublic
from preservation.requests.view import load_request, to_public
from preservation.runtime.context import Context
from preservation.storage.models import OutboxMessage, PreservationRequest

Outcome = Literal["produced", "refused", "withdrawn", "not_found"]


# --- inputs ------------------------------------------------------------------------------------


class _WithZone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: IANA zone of the local times given without an offset.
    tz: str | None = Field(None, min_length=1, max_length=64)
    #: Resolves a local time in a daylight-saving change: true = the summer-time reading.
    dst: bool | None = None


class AcknowledgeIn(_WithZone):
    """The provider confirmed: the preservation, a granted extension, or receipt of the MLA
    request."""

    provider_reference: SingleLine = Field("", max_length=200)
    #: When the provider preserved the data (its date, not when it is recorded); default: now.
    preserved_at: str | None = Field(None, min_length=1, max_length=64)


class ExtendIn(_WithZone):
    #: When the renewed request was sent; default: now.
    requested_at: str | None = Field(None, min_length=1, max_length=64)


class MlaIn(_WithZone):
    #: When the formal MLA request was sent; default: now.
    sent_at: str | None = Field(None, min_length=1, max_length=64)
    #: The MLA request's own reference.
    reference: SingleLine = Field("", max_length=200)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: MultiLine = Field("", max_length=4000)


class SubmittedIn(_WithZone):
    """The officer filed the request in the provider's portal."""

    #: When it was filed; default: now.
    submitted_at: str | None = Field(None, min_length=1, max_length=64)
    #: The portal's confirmation number, if it gave one.
    portal_reference: SingleLine = Field("", max_length=200)


def parse_instant(
    text: str | None,
    *,
    field: str,
    tz: str | None,
    dst: bool | None,
    now: datetime,
    not_before: datetime | None = None,
    country: str | None = None,
    notes: dict[str, str] | None = None,
) -> datetime:
    """A user-given instant in UTC (`now` when absent); 422 naming `field` otherwise (domain/timing.py:
    an offset, or a local time with "tz"; ambiguous local times need "dst"; never in the future).

    A date alone (YYYY-MM-DD: providers confirm with a date) is read on the safe side, the start
    of that day in the custodian's State (`country`, domain/dates.py); `notes[field]` says so."""
    if text is None:
        return now
    if is_date_only(text):
        try:
            safe = safe_start_of_day(text, country=country, field=field)
        except ValueError as exc:
            raise InvalidInput(field, str(exc)) from None
        if safe.utc > now:
            raise InvalidInput(field, f"{text} is in the future")
        if not_before is not None and safe.utc.date() < (not_before - timedelta(days=1)).date():
            raise InvalidInput(
                field, f"is before the request was created ({not_before.date().isoformat()})"
            )
        if notes is not None:
            notes[field] = safe.note
        return safe.utc
    at = resolve_local(text, tz, field=field, now=now, dst=dst, tz_field="tz").utc
    if not_before is not None and at < not_before:
        raise InvalidInput(field, f"is before the request was created ({not_before.isoformat()})")
    return at


def earliest_event(req: PreservationRequest) -> datetime | None:
    """The earliest instant an event of `req` may be recorded at: its creation, or, for a
    request sent elsewhere and recorded after the fact (requests/record.py), its sending."""
    if getattr(req, "record_only", False) and req.sent_at is not None:
        return req.sent_at
    return req.created_at


def _custodian_country(req: PreservationRequest) -> str | None:
    """The requested State, where the custodian keeps the data (its dates are read there)."""
    return req.country or (req.route or {}).get("country")


def _note_dates(req: PreservationRequest, notes: dict[str, str]) -> None:
    if notes:
        req.date_notes = {**(req.date_notes or {}), **notes}


# --- helpers -----------------------------------------------------------------------------------


async def _locked(
    session: AsyncSession, *, principal: Principal, request_id: int | str
) -> PreservationRequest:
    """The caller's unit's request (404 otherwise), locked until the transaction ends."""
    req = await load_request(session, principal=principal, request_id=request_id)
    assert req.id is not None
    locked = await delivery.lock_request(session, req.id)
    assert locked is not None
    return locked


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


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


def _pending_extension(req: PreservationRequest) -> int | None:
    for index in range(len(req.extensions or []) - 1, -1, -1):
        if not (req.extensions[index] or {}).get("granted_at"):
            return index
    return None


# --- use cases ---------------------------------------------------------------------------------


async def acknowledge(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: AcknowledgeIn,
) -> RequestPublic:
    """The provider confirmed. From queued or sent: preserved (the expiry clock runs from
    `preserved_at` where the regime says so). From extension_requested: the extension is granted.
    From mla_sent: grants a pending extension, or confirms receipt of the MLA request."""
    now = ctx.clock.now()
    req = await _locked(session, principal=principal, request_id=request_id)
    old = req.status
    new = transition(old, Action.ACKNOWLEDGE)
    notes: dict[str, str] = {}
    at = parse_instant(
        data.preserved_at,
        field="preserved_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=earliest_event(req),
        country=_custodian_country(req),
        notes=notes,
    )
    detail: dict[str, Any] = {"at": at.isoformat(), **({"read": notes} if notes else {})}
    pending = _pending_extension(req)
    if old in (Status.QUEUED, Status.SENT):
        req.preserved_at = at
        _note_dates(req, notes)
        detail["confirms"] = "preservation"
    elif pending is not None:
        extensions = [dict(e) for e in req.extensions]
        extensions[pending]["granted_at"] = at.isoformat()
        req.extensions = extensions  # a new list: JSON columns notice assignment, not mutation
        detail["confirms"] = "extension"
        detail["extension"] = pending + 1
    else:
        detail["confirms"] = "mla_receipt" if old == Status.MLA_SENT else "preservation"
        if req.preserved_at is None:
            req.preserved_at = at
            _note_dates(req, notes)
    reference = data.provider_reference.strip()
    if reference and detail["confirms"] == "extension":
        # The extension's own reference beside it: the provider's first reference stays.
        extensions = [dict(e) for e in req.extensions]
        extensions[pending]["reference"] = reference  # type: ignore[index]
        req.extensions = extensions
        detail["provider_reference"] = reference
    elif reference:
        if req.provider_reference and req.provider_reference != reference:
            detail["previous_reference"] = req.provider_reference
        req.provider_reference = reference
        detail["provider_reference"] = reference
    req.status = new.value
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="acknowledge",
        old=old,
        now=now,
        detail=detail,
    )


async def extend(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: ExtendIn,
) -> RequestPublic:
    """An extension (renewed request) was sent: extension_requested until acknowledged. Refused
    (409) where the regime or provider allows no more, one is pending, or it is too late."""
    now = ctx.clock.now()
    req = await _locked(session, principal=principal, request_id=request_id)
    old = req.status
    new = transition(old, Action.EXTEND)
    notes: dict[str, str] = {}
    at = parse_instant(
        data.requested_at,
        field="requested_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=earliest_event(req),
        country=_custodian_country(req),
        notes=notes,
    )
    _note_dates(req, notes)
    from preservation.domain import deadlines

    warnings = deadlines.check_can_extend(await reminders.deadline_input(session, req, ctx=ctx), at)
    req.extensions = [*(dict(e) for e in req.extensions or []), {"requested_at": at.isoformat()}]
    req.status = new.value
    detail: dict[str, Any] = {"requested_at": at.isoformat(), "extension": len(req.extensions)}
    if warnings:
        detail["warnings"] = list(warnings)
        req.warnings = list(dict.fromkeys([*(req.warnings or []), *warnings]))
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="extend",
        old=old,
        now=now,
        detail=detail,
    )


async def mla(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: MlaIn,
) -> RequestPublic:
    """The formal MLA request was sent (under some regimes the data are then held until it is
    decided: the reminders change accordingly)."""
    now = ctx.clock.now()
    req = await _locked(session, principal=principal, request_id=request_id)
    old = req.status
    new = transition(old, Action.MLA)
    if req.regime == "eu-epoc-pr":
        raise Conflict(
            "an EPOC-PR's subsequent request for production is confirmed by the issuing"
            " authority with the form in Annex V (Regulation (EU) 2023/1543, Art. 11(1)):"
            f" POST /api/v1/requests/{req.id}/annex-v"
        )
    notes: dict[str, str] = {}
    at = parse_instant(
        data.sent_at,
        field="sent_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=earliest_event(req),
        country=_custodian_country(req),
        notes=notes,
    )
    _note_dates(req, {f"mla {k}": v for k, v in notes.items()})
    req.mla_sent_at = at
    req.mla_reference = data.reference.strip()
    req.status = new.value
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="mla",
        old=old,
        now=now,
        detail={"sent_at": at.isoformat(), "reference": req.mla_reference},
    )


class MlaReceivedIn(_WithZone):
    #: When the requested State received the MLA request, as it confirms (a date alone is read
    #: on the safe side); default: now.
    received_at: str | None = Field(None, min_length=1, max_length=64)


async def mla_received(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: MlaReceivedIn,
) -> RequestPublic:
    """The requested State confirmed receipt of the MLA request. Under the Convention on
    Cybercrime the hold pending the decision starts then (Art. 29(7)); the plan changes to
    follow-ups (and a practical end where the requested State's law limits the hold). 409 unless
    the MLA request was recorded and its receipt was not yet."""
    now = ctx.clock.now()
    req = await _locked(session, principal=principal, request_id=request_id)
    old = req.status
    new = transition(old, Action.MLA_RECEIVED)
    if req.mla_received_at is not None:
        raise Conflict(
            f"request {req.reference}: receipt of the MLA request was already recorded"
            f" ({req.mla_received_at.isoformat()})"
        )
    notes: dict[str, str] = {}
    at = parse_instant(
        data.received_at,
        field="received_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=req.mla_sent_at,
        country=_custodian_country(req),
        notes=notes,
    )
    _note_dates(req, {f"mla {k}": v for k, v in notes.items()})
    req.mla_received_at = at
    req.status = new.value
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="mla-received",
        old=old,
        now=now,
        detail={"received_at": at.isoformat()},
    )


async def close(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: CloseIn,
) -> RequestPublic:
    """Closed with an outcome; anything not yet delivered is cancelled, and so are reminders."""
    now = ctx.clock.now()
    req = await _locked(session, principal=principal, request_id=request_id)
    old = req.status
    new = transition(old, Action.CLOSE)
    if old == Status.DRAFT and data.outcome != "withdrawn":
        raise InvalidInput("outcome", "a draft has reached nobody: it can only be withdrawn")
    assert req.id is not None
    cancelled = await delivery.cancel_unsent(session, request_id=req.id, now=now)
    req.status = new.value
    req.closed_at = now
    req.outcome = data.outcome
    req.close_note = data.note.strip()
    detail: dict[str, Any] = {"outcome": data.outcome, "note": req.close_note}
    if req.regime == "eu-epoc-pr":
        # Art. 11(3): the addressee is told when preservation is no longer necessary.
        from preservation.requests import epoc

        detail.update(
            await epoc.on_close(session, req, principal=principal, outcome=data.outcome, now=now)
        )
    if cancelled:
        detail["cancelled_deliveries"] = cancelled
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="close",
        old=old,
        now=now,
        detail=detail,
    )


async def portal_submitted(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    recipient_id: int | str,
    data: SubmittedIn,
) -> RequestPublic:
    """The officer filed the request in the provider's portal: the hand-off row becomes sent, and
    the request moves from queued to sent like on any first delivery."""
    from preservation.requests import outbox as portal

    now = ctx.clock.now()
    req = await _locked(session, principal=principal, request_id=request_id)
    try:
        rid = int(recipient_id)
    except (TypeError, ValueError):
        raise NotFound("no such recipient") from None
    row = (
        await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.id == rid, OutboxMessage.request_id == req.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such recipient of this request")
    if Status(req.status) in (Status.CLOSED, Status.LAPSED):
        raise Conflict(f"cannot record a portal submission of a request in state {req.status}")
    if row.channel not in ("portal", "phone"):
        raise Conflict(f"recipient {rid} is sent by {row.channel}, not a portal hand-off")
    if row.status != portal.HANDOFF:
        raise Conflict(f"recipient {rid} is {row.status}: only a hand-off can be recorded")
    at = parse_instant(
        data.submitted_at,
        field="submitted_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=req.submitted_at or req.created_at,
    )
    portal.mark_submitted(row, now=at, portal_reference=data.portal_reference.strip())
    await delivery.record_sent(
        session,
        ctx=ctx,
        req=req,
        row=row,
        actor=principal.actor,
        now=now,
        sent_at=at,
        detail={
            "portal_submitted_at": at.isoformat(),
            "portal_reference": data.portal_reference.strip(),
        },
    )
    await session.flush()
    return await to_public(session, req, regimes=ctx.regimes)
