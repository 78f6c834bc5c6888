"""What falls due, for the caller's unit only: GET /api/v1/deadlines (JSON),
GET /api/v1/deadlines.ics (iCalendar, with the bearer token), and the same feed at a URL of its
own for calendar clients, which cannot send a bearer token (preservation/access/feeds.py)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from preservation.access import feeds
from preservation.access.auth import REQUEST_ROLES
from preservation.errors import NotFound
from preservation.reminders.deadline_list import expiring_requests, ics_feed, parse_within, upcoming
from preservation.storage.models import Unit
from preservation.web.auth import LIMITER, client_address
from preservation.web.endpoints import Api, Call
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.sessions import absolute_url

api = Api()
TAG = "deadlines"
DEFAULT_WITHIN = timedelta(days=30)
#: Deadlines and feeds are request data: for the roles that work on requests, never the admin
#: (who keeps the unit's users and settings and is refused every request endpoint).
REQUEST_DATA_ROLES = frozenset(str(r) for r in REQUEST_ROLES)


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
    roles=REQUEST_DATA_ROLES,
    errors=(400, 401, 403, 422),
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
    roles=REQUEST_DATA_ROLES,
    errors=(400, 401, 403, 422),
)
async def deadlines_ics(call: Call) -> web.Response:
    return await _ics(call.request, unit_id=call.principal.unit_id, within=call.query.within)


async def _ics(request: web.Request, *, unit_id: int, within: str | None) -> web.Response:
    app = request.app
    now = app[CLOCK].now()
    period = parse_within(within, field="query.within") if within is not None else None
    async with app[DB].read() as session:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            raise NotFound("no such feed")
        requests = await expiring_requests(session, unit_id=unit_id, now=now, within=period)
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


# --- the feed a calendar client subscribes to (no bearer token: a credential in the URL) -------


class FeedCreated(BaseModel):
    #: Subscribe to this URL (shown once: it is the credential). Behind a proxy, the scheme and
    #: host are those the client used (X-Forwarded-Proto, Host).
    url: str
    #: The same, relative to the service.
    path: str
    created_at: str


#: Who works on requests (the admin keeps the directory), as on the dashboard.
FEED_ROLES = {str(r) for r in REQUEST_ROLES}


class FeedsRevoked(BaseModel):
    revoked: int


@api.route(
    "POST",
    "/api/v1/feeds/deadlines",
    summary="Make the caller's calendar feed URL (revokes the previous one)",
    tag=TAG,
    response=FeedCreated,
    status=201,
    roles=FEED_ROLES,
    errors=(401, 403),
)
async def create_deadlines_feed(call: Call) -> FeedCreated:
    request = call.request
    now = request.app[CLOCK].now()
    async with request.app[DB].write() as session:
        value = await feeds.create_feed(session, principal=call.principal, now=now)
    path = feeds.feed_path(value)
    return FeedCreated(
        url=absolute_url(request, path),
        path=path,
        created_at=now.isoformat().replace("+00:00", "Z"),
    )


@api.route(
    "DELETE",
    "/api/v1/feeds/deadlines",
    summary="Revoke the caller's calendar feed URL",
    tag=TAG,
    response=FeedsRevoked,
    errors=(401,),
)
async def revoke_deadlines_feed(call: Call) -> FeedsRevoked:
    app = call.request.app
    async with app[DB].write() as session:
        revoked = await feeds.revoke_feeds(
            session, user_id=call.principal.user_id, now=app[CLOCK].now()
        )
    return FeedsRevoked(revoked=revoked)


@api.route(
    "GET",
    "/api/v1/feeds/{token}/deadlines.ics",
    summary="The unit's expiries as an iCalendar feed, for a calendar client (URL credential)",
    tag=TAG,
    query=IcsQuery,
    media={"text/calendar": "string"},
    auth=False,
    errors=(400, 404, 422, 429),
)
async def feed_deadlines_ics(call: Call) -> web.Response:
    """404 for an unknown or revoked feed (never 401: nothing tells a guess from a revoked
    feed); failed attempts count towards the same per-address limit as bad bearer tokens."""
    request = call.request
    address = client_address(request)
    limiter = request.app[LIMITER]
    limiter.check(address)
    async with request.app[DB].read() as session:
        principal = await feeds.principal_for_feed(session, call.params["token"])
    if principal is None:
        limiter.fail(address)
        raise NotFound("no such feed")
    if principal.role not in REQUEST_DATA_ROLES:
        # Its owner is now an admin: request data is not theirs to read.
        raise NotFound("no such feed")
    return await _ics(request, unit_id=principal.unit_id, within=call.query.within)
