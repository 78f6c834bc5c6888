"""The dashboard: what expires when (the soonest first, on a timeline of the next 90 days), the
deadlines, the requests that wait for an acknowledgement, the drafts, and counts of what is open.
Bounded by what is open, never by history (requests/overview.py); a cut list links to the rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from preservation.access import feeds
from preservation.requests.emergency import open_emergencies
from preservation.requests.overview import overview_in
from preservation.web.keys import CLOCK, DB
from preservation.web.pages import timeline
from preservation.web.pages.base import UNIT_ZONE, current, day, officer, posted, render
from preservation.web.sessions import absolute_url

WINDOW_DAYS = 90
DEADLINE_DAYS = 30
#: Deadlines listed on the dashboard (the deadline list has them all, a page at a time).
DEADLINES_MAX = 25


async def upcoming(request: web.Request, ws: Any) -> Any:
    """The unit's first deadlines of the next DEADLINE_DAYS days (overdue ones too), soonest
    first: the service behind GET /api/v1/deadlines."""
    from preservation.reminders.deadline_list import upcoming_page

    async with request.app[DB].read() as session:
        return await upcoming_page(
            session,
            now=request.app[CLOCK].now(),
            within=timedelta(days=DEADLINE_DAYS),
            unit_id=ws.principal.unit_id,
            limit=DEADLINES_MAX,
        )


async def dashboard(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    if ws.principal.role not in ("officer", "supervisor"):
        raise web.HTTPSeeOther(location="/directory")
    return await _dashboard(request, await officer(request))


async def calendar_feed(request: web.Request) -> web.StreamResponse:
    """POST /calendar-feed: a new calendar address (shown once, in this answer: never in a
    URL the browser keeps), or the user's address revoked (preservation/access/feeds.py)."""
    ws = await officer(request)
    form = await posted(request, ws)
    now = request.app[CLOCK].now()
    revoke = form.get("action") == "revoke"
    async with request.app[DB].write() as session:
        if revoke:
            revoked = await feeds.revoke_feeds(session, user_id=ws.principal.user_id, now=now)
        else:
            value = await feeds.create_feed(session, principal=ws.principal, now=now)
    # Rendered after the commit: the page's reads do not hold the writer.
    if revoke:
        return await _dashboard(request, ws, feed_revoked=revoked)
    return await _dashboard(request, ws, feed_url=absolute_url(request, feeds.feed_path(value)))


async def _dashboard(
    request: web.Request, ws: Any, *, feed_url: str | None = None, feed_revoked: int | None = None
) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    zone = request.get(UNIT_ZONE, "UTC")
    from preservation.reminders.deadline_list import upcoming_page

    # One read transaction for the page's lists (each one costs round trips on PostgreSQL).
    async with request.app[DB].read() as session:
        seen = await overview_in(
            session, unit_id=ws.principal.unit_id, now=now, window_days=WINDOW_DAYS
        )
        deadlines = await upcoming_page(
            session,
            now=now,
            within=timedelta(days=DEADLINE_DAYS),
            unit_id=ws.principal.unit_id,
            limit=DEADLINES_MAX,
        )
    chart = timeline.build(
        [*seen.lapsed, *seen.timeline.rows],
        now=now,
        days=WINDOW_DAYS,
        label_of=lambda r: f"{r.reference} {r.provider or r.country or ''}".strip(),
        day_label=lambda at: day(at, zone),
    )
    # Emergencies not answered yet come first, above everything else (requests/emergency.py).
    emergencies = await open_emergencies(request.app[DB], unit_id=ws.principal.unit_id)
    counts = seen.counts
    return render(
        request,
        "dashboard.html",
        {
            "chart": chart,
            "timeline_more": seen.timeline.more,
            "urgency_labels": timeline.URGENCY_LABELS,
            "awaiting": seen.awaiting.rows,
            "awaiting_more": seen.awaiting.more,
            "deadlines": deadlines.items,
            "deadlines_more": deadlines.next_key is not None,
            "drafts": seen.drafts.rows,
            "emergencies": emergencies,
            "drafts_more": seen.drafts.more,
            "counts": counts,
            "active_count": sum(counts.get(s, 0) for s in timeline.ACTIVE),
            "window_days": WINDOW_DAYS,
            "deadline_days": DEADLINE_DAYS,
            "feed_url": feed_url,
            "feed_revoked": feed_revoked,
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/", dashboard)
    app.router.add_post("/calendar-feed", calendar_feed)
