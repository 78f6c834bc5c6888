"""What falls due, for the caller's unit only: GET /api/v1/deadlines (JSON) and
GET /api/v1/deadlines.ics (an iCalendar feed a calendar client can subscribe to)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..models import Unit
from ..service.deadline_list import expiring_requests, ics_feed, parse_within, upcoming
from .endpoints import Api, Call
from .keys import CLOCK, DB, SETTINGS

api = Api()
TAG = "deadlines"
DEFAULT_WITHIN = timedelta(days=30)


class DeadlinesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ISO 8601 duration: reminders due between now (overdue ones included) and now + this.
    within: str | None = Field(None, max_length=40, examples=["P30D", "PT48H"])


class DeadlineOut(BaseModel):
    request_id: int
    reference: str
    kind: str
    due_at: str
    expires_at: str | None
    #: The same instants in the unit's zone, with their offset.
    due_at_local: str
    expires_at_local: str | None
    timezone: str
    request_status: str


class DeadlineList(BaseModel):
    items: list[DeadlineOut]


class IcsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ISO 8601 duration: only expiries up to now + this (default: every active expiry).
    within: str | None = Field(None, max_length=40, examples=["P90D"])


@api.route(
    "GET",
    "/api/v1/deadlines",
    summary="List the unit's upcoming deadlines",
    tag=TAG,
    query=DeadlinesQuery,
    response=DeadlineList,
    errors=(400, 401, 422),
)
async def list_deadlines(call: Call) -> DeadlineList:
    app = call.request.app
    within = (
        parse_within(call.query.within, field="query.within")
        if call.query.within is not None
        else DEFAULT_WITHIN
    )
    async with app[DB].read() as session:
        items = await upcoming(
            session, now=app[CLOCK].now(), within=within, unit_id=call.principal.unit_id
        )
    return DeadlineList(items=[DeadlineOut(**i.public()) for i in items])


@api.route(
    "GET",
    "/api/v1/deadlines.ics",
    summary="The unit's expiries as an iCalendar feed",
    tag=TAG,
    query=IcsQuery,
    media={"text/calendar": "string"},
    errors=(400, 401, 422),
)
async def deadlines_ics(call: Call) -> web.Response:
    app = call.request.app
    now = app[CLOCK].now()
    within = (
        parse_within(call.query.within, field="query.within")
        if call.query.within is not None
        else None
    )
    async with app[DB].read() as session:
        unit = await session.get(Unit, call.principal.unit_id)
        requests = await expiring_requests(
            session, unit_id=call.principal.unit_id, now=now, within=within
        )
        body = ics_feed(
            requests,
            unit_name=unit.name,
            unit_zone=unit.timezone or "UTC",
            offsets_days=app[SETTINGS].reminder_offsets_days,
            now=now,
        )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": 'inline; filename="deadlines.ics"',
            "Cache-Control": "no-store",
        },
    )
