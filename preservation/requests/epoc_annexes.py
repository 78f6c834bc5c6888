"""EPOC-PR after validation: its transmission through the national IT system, and the issuing
authority's annexes (Annex VI extension, Annex V confirmation), each a transition with its
audit event (Regulation (EU) 2023/1543, Art. 11)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal, Role
from preservation.directory import routing
from preservation.domain import deadlines as dl
from preservation.domain import epoc_clock
from preservation.domain.lifecycle import Action, Status, transition
from preservation.errors import Conflict
from preservation.requests import delivery
from preservation.requests import reminder_plan as reminders
from preservation.requests.actions import parse_instant
from preservation.requests.epoc import (
    AnnexViIn,
    AnnexVIn,
    TransmittedIn,
    _finish,
    _order,
    check_issuing_authority,
    clock_events,
    locked,
    order_of,
)
from preservation.requests.schemas import RequestPublic
from preservation.requests.view import to_public
from preservation.runtime.context import Context
from preservation.storage.models import OutboxMessage

EPOC_PR = "eu-epoc-pr"
HANDOFF = "handoff"
PROSECUTOR = str(Role.prosecutor)


async def transmitted(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: TransmittedIn,
) -> RequestPublic:
    """POST .../epoc-pr/transmitted: the national IT system sent the certificate (queued ->
    sent; the hand-off row is done). The 60 days run from the receipt once it is recorded."""
    from preservation.requests import outbox as handoff

    now = ctx.clock.now()
    req = await locked(session, principal=principal, request_id=request_id)
    if req.status != Status.QUEUED:
        raise Conflict(
            f"request {req.reference} is {req.status}: only an issued EPOC-PR waiting for its"
            " transmission (queued) can be recorded as transmitted"
        )
    row = (
        await session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.request_id == req.id,
                OutboxMessage.channel == routing.EU_SYSTEM,
                OutboxMessage.status == HANDOFF,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise Conflict(f"request {req.reference} has no hand-off to the national IT system")
    at = parse_instant(
        data.transmitted_at,
        field="transmitted_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=req.submitted_at or req.created_at,
    )
    received = None
    if data.received_at is not None:
        received = parse_instant(
            data.received_at, field="received_at", tz=data.tz, dst=data.dst, now=now, not_before=at
        )
        req.received_at = received
    order = await _order(session, req, now=now)
    order.transmitted_at = at
    order.national_reference = data.reference.strip()
    order.updated_at = now
    if received is not None:
        order.notices = [
            *order.notices,
            {
                "type": "Received",
                "at": received.isoformat(),
                "recorded_at": now.isoformat(),
                "by": principal.actor,
            },
        ]
    handoff.mark_submitted(row, now=at, portal_reference=data.reference.strip())
    await delivery.record_sent(
        session,
        ctx=ctx,
        req=req,
        row=row,
        actor=principal.actor,
        now=now,
        sent_at=at,
        detail={
            "transmitted_at": at.isoformat(),
            "national_reference": order.national_reference,
            **({"received_at": received.isoformat()} if received else {}),
        },
    )
    await session.flush()
    return await to_public(session, req, regimes=ctx.regimes)


async def annex_vi(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: AnnexViIn,
) -> RequestPublic:
    """POST .../annex-vi: the issuing authority extends the preservation by 30 days, during the
    60 days only (Art. 11(1), third sentence); 409 otherwise, saying why."""
    now = ctx.clock.now()
    req = await locked(session, principal=principal, request_id=request_id)
    order = await order_of(session, req)
    check_issuing_authority(order, principal)
    old = req.status
    new = transition(old, Action.ANNEX_VI)
    at = parse_instant(
        data.issued_at,
        field="issued_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=req.sent_at or req.created_at,
    )
    epoc_clock.check_annex_vi(clock_events(req, ctx), at)
    req.extensions = [
        *(dict(e) for e in req.extensions or []),
        {"requested_at": at.isoformat(), "granted_at": at.isoformat(), "form": "annex-vi"},
    ]
    req.status = new.value
    order = await _order(session, req, now=now)
    plan = dl.plan_deadlines(await reminders.deadline_input(session, req, ctx=ctx))
    order.annex_vi = {
        "issued_at": at.isoformat(),
        "reason": data.reason.strip(),
        "by": principal.actor,
        "new_expiry": plan.expires_at.isoformat() if plan.expires_at else None,
    }
    order.updated_at = now
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="annex-vi",
        old=old,
        now=now,
        detail={
            "issued_at": at.isoformat(),
            "expires_at": order.annex_vi["new_expiry"],
            "citation": epoc_clock.CITE_EXTENSION,
        },
    )


async def annex_v(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: AnnexVIn,
) -> RequestPublic:
    """POST .../annex-v: the issuing authority confirms that the subsequent request for
    production was issued, during the period of preservation: the data are kept as long as
    necessary (Art. 11(2)); 409 after the preservation ended."""
    now = ctx.clock.now()
    req = await locked(session, principal=principal, request_id=request_id)
    order = await order_of(session, req)
    check_issuing_authority(order, principal)
    old = req.status
    new = transition(old, Action.ANNEX_V)
    at = parse_instant(
        data.issued_at,
        field="issued_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=req.sent_at or req.created_at,
    )
    epoc_clock.check_annex_v(clock_events(req, ctx), at)
    req.mla_sent_at = at
    req.mla_reference = data.production_reference.strip()
    req.status = new.value
    order = await _order(session, req, now=now)
    order.annex_v = {
        "issued_at": at.isoformat(),
        "production_reference": req.mla_reference,
        "production_kind": data.production_kind.strip(),
        "production_issued_on": data.production_issued_on.strip(),
        "by": principal.actor,
    }
    order.updated_at = now
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="annex-v",
        old=old,
        now=now,
        detail={
            "issued_at": at.isoformat(),
            "production_reference": req.mla_reference,
            "citation": epoc_clock.CITE_HOLD,
        },
    )
