"""Lists of requests and of a request's audit events."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from preservation.access.auth import Principal
from preservation.domain.lifecycle import Status
from preservation.errors import InvalidInput
from preservation.requests import audit
from preservation.requests.schemas import (
    EventList,
    EventPublic,
    RequestList,
    RequestSummary,
)
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.storage.db import Database
from preservation.storage.models import (
    PreservationRequest,
)

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
