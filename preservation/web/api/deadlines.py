"""What falls due, for the caller's unit only: GET /api/v1/deadlines (JSON, a page at a time),
GET /api/v1/deadlines.ics (iCalendar, with the bearer token), and the same feed at a URL of its
own for calendar clients, which cannot send a bearer token (preservation/access/feeds.py).
The feed answers 304 to a client whose copy is current, and HEAD (reminders/feed.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from preservation.access import feeds
from preservation.access.auth import REQUEST_ROLES
from preservation.domain import paging
from preservation.errors import NotFound
from preservation.reminders import feed
from preservation.reminders.deadline_list import MAX_PAGE, parse_within, upcoming_page
from preservation.runtime.offload import offload
from preservation.web.auth import LIMITER, client_address, credential_key
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
    limit: int = Field(200, ge=1, le=MAX_PAGE)
    #: The `next` of the previous page (keyset pagination); absent: the first page.
    cursor: str | None = Field(None, max_length=500)


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
    #: The cursor of the next page (`?cursor=`); null on the last page.
    next: str | None


class IcsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ISO 8601 duration: only deadlines up to now + this (default: every open deadline).
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
    q: DeadlinesQuery = call.query
    within = (
        parse_within(q.within, field="query.within") if q.within is not None else DEFAULT_WITHIN
    )
    unit_id = call.principal.unit_id
    # The period is part of the filters; `now` is not: the next page continues after the key.
    filters = paging.fingerprint(unit_id, within.total_seconds())
    after = paging.decode(q.cursor, name="deadlines", filters=filters, types=(datetime, int))
    async with app[DB].read() as session:
        page = await upcoming_page(
            session,
            now=app[CLOCK].now(),
            within=within,
            unit_id=unit_id,
            limit=q.limit,
            after=after,  # type: ignore[arg-type]
        )
    return DeadlineList(
        items=[DeadlineOut(**i.public()) for i in page.items],
        next=paging.encode("deadlines", filters, page.next_key) if page.next_key else None,
    )


@api.route(
    "GET",
    "/api/v1/deadlines.ics",
    summary="The unit's deadlines as an iCalendar feed",
    tag=TAG,
    query=IcsQuery,
    media={"text/calendar": "string"},
    roles=REQUEST_DATA_ROLES,
    errors=(400, 401, 403, 422),
)
async def deadlines_ics(call: Call) -> web.Response:
    return await _ics(call.request, unit_id=call.principal.unit_id, within=call.query.within)


FEEDS = web.AppKey("deadline_feeds", feed.FeedCache)


def feed_base_url(request: web.Request) -> str:
    """Where the feed's links point: the configured public URL, else the service as the
    calendar client reached it."""
    configured = request.app[SETTINGS].public_url
    return configured or absolute_url(request, "")


async def _ics(request: web.Request, *, unit_id: int, within: str | None) -> web.StreamResponse:
    """The feed, or 304 when the client's copy is current (If-None-Match, If-Modified-Since).
    HEAD answers the same headers without the body."""
    app = request.app
    now = app[CLOCK].now()
    period = parse_within(within, field="query.within") if within is not None else None
    settings = app[SETTINGS]
    base_url = feed_base_url(request)
    variant = (
        f"{period.total_seconds() if period else ''}|{base_url}|{settings.reminder_offsets_days}"
    )
    async with app[DB].read() as session:
        check = await feed.validator(session, unit_id=unit_id, now=now, variant=variant)
    if check is None:
        raise NotFound("no such feed")
    headers = {
        "ETag": check.etag,
        "Last-Modified": feed.http_date(check.last_modified),
        # Cached, but asked again each time: the validator makes that cheap.
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
    }
    if check.matches(request.headers.get("If-None-Match"), request.if_modified_since):
        return web.Response(status=304, headers=headers)
    cache = app[FEEDS]
    built = cache.get(unit_id, variant, check.etag)
    if built is None:
        until = None
        if period is not None:
            # To the end of that day: the body stays the same all day, as the validator says.
            end = now + period
            until = end.replace(hour=23, minute=59, second=59, microsecond=999999)
        async with app[DB].read() as session:
            items, left_out = await feed.events(session, unit_id=unit_id, now=now, until=until)
        built = await offload(
            feed.build,
            items,
            left_out=left_out,
            unit_name=check.unit_name,
            unit_zone=check.unit_zone,
            offsets_days=settings.reminder_offsets_days,
            base_url=base_url,
            now=now,
        )
        cache.put(unit_id, variant, check.etag, built)
    gzip_ok = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    # A client without gzip (rare among calendar clients) gets the text decompressed for it,
    # off the loop: the node keeps each feed gzipped only.
    body = built.gzipped if gzip_ok else await offload(built.body)
    headers["Content-Disposition"] = 'inline; filename="deadlines.ics"'
    if gzip_ok:
        headers["Content-Encoding"] = "gzip"
    if built.left_out:
        headers["X-Feed-Left-Out"] = str(built.left_out)
    response = web.Response(
        body=body, content_type="text/calendar", charset="utf-8", headers=headers
    )
    return response


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
    # Counted per address and feed prefix: guesses from an address are slowed, and a valid
    # feed is still served to others behind the same address (web/auth.py).
    key = credential_key(call.params["token"])
    limiter.check(address, key)
    async with request.app[DB].read() as session:
        principal = await feeds.principal_for_feed(session, call.params["token"])
    if principal is None:
        limiter.check(address)
        limiter.fail(address, key)
        raise NotFound("no such feed")
    if principal.role not in REQUEST_DATA_ROLES:
        # Its owner is now an admin: request data is not theirs to read.
        raise NotFound("no such feed")
    return await _ics(request, unit_id=principal.unit_id, within=call.query.within)


def setup_feeds(app: web.Application) -> None:
    """The node's cache of built feeds (at most a few bodies: see reminders/feed.FeedCache)."""
    app[FEEDS] = feed.FeedCache()
