"""Submitting a draft: draft -> queued, one outbox row per recipient, audit event and reminder
plan, all in the transaction of the use case. The scheduler is woken only after the commit:
nothing is sent before it is committed, and nothing committed is forgotten."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.directory import routing
from preservation.domain.lifecycle import Action, transition
from preservation.errors import InvalidInput
from preservation.requests import audit
from preservation.requests import reminder_plan as reminders
from preservation.requests.assessment import assess, check_provider, identifier_warnings
from preservation.requests.checklist import missing_errors
from preservation.requests.schemas import RequestPublic
from preservation.requests.view import load_identifiers, load_request, load_unit, to_public
from preservation.runtime.context import Context
from preservation.storage.db import Database
from preservation.storage.models import OutboxMessage, PreservationRequest, RequestIdentifier, Unit

#: Portal rows are not sent by the dispatcher: they are a task for the officer (open the
#: provider's portal, file the request there, record it as done). So are "phone" rows (an
#: emergency channel that is only a telephone line: call, then record the call).
HANDOFF = "handoff"
HANDOFF_CHANNELS = frozenset({"portal", "phone"})
PENDING = "pending"


def check_submittable(
    req: PreservationRequest, route: routing.Route, *, regimes: Mapping[str, Any] | None = None
) -> None:
    """422 naming every field the checklist still needs, or the country (provider) when the
    directory knows nobody to send the request to. Pure."""
    check = req.checklist or {}
    if not check.get("complete"):
        raise InvalidInput(errors=missing_errors(req, check))
    if not route.recipients:
        field = "country" if req.country or not req.provider else "provider"
        raise InvalidInput(field, f"nobody to send the request to: {route.why}")
    for r in route.recipients:
        regime = (regimes or {}).get(r.instrument.key) if r.instrument is not None else None
        if regime is not None and regime.template:
            raise InvalidInput(
                "regime",
                f"the letter to {r.name or r.to} would rest on {regime.key!r}, a template: the"
                " operator copies and adapts it in the regimes file first",
            )


def outbox_values(req: PreservationRequest, route: routing.Route, *, now: datetime) -> list[dict]:
    """Column values of one outbox row per recipient of `route` (`req` must have its id)."""
    return [
        {
            "request_id": req.id,
            "unit_id": req.unit_id,
            "role": r.role,
            "channel": r.channel,
            "to": r.to,
            "recipient_name": r.name,
            "instrument": r.instrument.public() if r.instrument else None,
            "status": HANDOFF if r.channel in HANDOFF_CHANNELS else PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_by": None,
            "lease_until": None,
            "last_error": "",
            "message_id": "",
            "created_at": now,
            "sent_at": None,
        }
        for r in route.recipients
    ]


def mark_submitted(req: PreservationRequest, *, now: datetime) -> None:
    """draft -> queued on the request row (409 unless it is a draft). Pure."""
    req.status = transition(req.status, Action.SUBMIT).value
    req.submitted_at = now
    req.updated_at = now
    req.version += 1


def submit_detail(route: routing.Route) -> dict[str, Any]:
    """The detail of the "submit" audit event."""
    return {
        "route": route.channel,
        "recipients": [{"role": r.role, "channel": r.channel} for r in route.recipients],
        "why": route.why,
    }


async def submit_in_session(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    req: PreservationRequest,
    unit: Unit | None = None,
    identifiers: Sequence[RequestIdentifier] | None = None,
    route: routing.Route | None = None,
) -> list[OutboxMessage]:
    """Queue the draft `req` for sending in the caller's transaction; returns the outbox rows.

    409 unless the request is a draft; 422 as `check_submittable`. `route` is given when the
    request was assessed in this same transaction."""
    now = ctx.clock.now()
    transition(req.status, Action.SUBMIT)
    assert req.id is not None
    unit = unit or await load_unit(session, req.unit_id)
    if identifiers is None:
        identifiers = await load_identifiers(session, req.id)
    provider = await check_provider(session, req.provider)
    if route is None:
        # The unit profile or the directory may have changed since the draft was saved: reassess.
        route = await assess(
            session,
            req,
            parsed_warnings=identifier_warnings(identifiers),
            identifiers=len(identifiers),
            unit=unit,
            ctx=ctx,
        )
    check_submittable(req, route, regimes=ctx.regimes)
    if req.regime == "eu-epoc-pr":
        # An EPOC-PR is issued or validated by a judge or prosecutor first; nothing is sent
        # (requests/epoc.py).
        from preservation.requests import epoc

        return await epoc.refer(session, ctx=ctx, principal=principal, req=req, route=route)
    rows = [OutboxMessage(**values) for values in outbox_values(req, route, now=now)]
    session.add_all(rows)
    mark_submitted(req, now=now)
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action="submit",
        now=now,
        detail=submit_detail(route),
    )
    await reminders.replan(session, req, ctx=ctx)
    await session.flush()
    del provider  # kept for routing and the reminder plan (see requests.check_provider)
    return rows


async def submit_request(
    db: Database, *, ctx: Context, principal: Principal, request_id: int | str
) -> RequestPublic:
    """POST /api/v1/requests/{id}/submit."""
    async with db.write() as session:
        req = await load_request(session, principal=principal, request_id=request_id)
        unit = await load_unit(session, req.unit_id)
        identifiers = await load_identifiers(session, req.id)  # type: ignore[arg-type]
        outbox = await submit_in_session(
            session, ctx=ctx, principal=principal, req=req, unit=unit, identifiers=identifiers
        )
        public = await to_public(
            session,
            req,
            unit_name=unit.name,
            identifiers=identifiers,
            outbox=outbox,
            regimes=ctx.regimes,
        )
    if any(m.status == PENDING for m in outbox):
        ctx.wake()
    return public
