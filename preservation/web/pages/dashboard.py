"""The dashboard: what expires when (a timeline of the next 90 days), the deadlines, and the
requests that wait for an acknowledgement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from preservation.access import feeds
from preservation.requests import listing
from preservation.web.api.requests import context_of
from preservation.web.keys import CLOCK, DB
from preservation.web.pages import timeline
from preservation.web.pages.base import UNIT_ZONE, current, day, officer, posted, render
from preservation.web.sessions import absolute_url

AWAITING = ("queued", "sent", "extension_requested")
WINDOW_DAYS = 90
DEADLINE_DAYS = 30


async def _by_status(request: web.Request, ws: Any, status: str) -> list[Any]:
    found = await listing.list_requests(
        request.app[DB],
        ctx=context_of(request),
        principal=ws.principal,
        status=status,
        limit=500,
    )
    return list(found.items)


async def upcoming(request: web.Request, ws: Any) -> list[Any]:
    """The unit's deadlines of the next DEADLINE_DAYS days (overdue ones too), soonest first:
    the service behind GET /api/v1/deadlines."""
    from preservation.reminders.deadline_list import upcoming as upcoming_deadlines

    async with request.app[DB].read() as session:
        return await upcoming_deadlines(
            session,
            now=request.app[CLOCK].now(),
            within=timedelta(days=DEADLINE_DAYS),
            unit_id=ws.principal.unit_id,
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
    shown: list[Any] = []
    for status in timeline.SHOWN:
        shown.extend(await _by_status(request, ws, status))
    queued = await _by_status(request, ws, "queued")
    drafts = await _by_status(request, ws, "draft")
    recent_lapsed_cutoff = now.timestamp() - 30 * 86400
    shown = [
        r
        for r in shown
        if r.status != "lapsed"
        or (r.expires_at is not None and r.expires_at.timestamp() >= recent_lapsed_cutoff)
    ]
    chart = timeline.build(
        shown,
        now=now,
        days=WINDOW_DAYS,
        label_of=lambda r: f"{r.reference} {r.provider or r.country or ''}".strip(),
        day_label=lambda at: day(at, zone),
    )
    awaiting = sorted(
        [r for r in (*queued, *shown) if r.status in AWAITING],
        key=lambda r: r.submitted_at or r.created_at,
    )
    deadlines = await upcoming(request, ws)
    return render(
        request,
        "dashboard.html",
        {
            "chart": chart,
            "urgency_labels": timeline.URGENCY_LABELS,
            "awaiting": awaiting,
            "deadlines": deadlines,
            "drafts": drafts,
            "active_count": sum(1 for r in shown if r.status in timeline.ACTIVE),
            "window_days": WINDOW_DAYS,
            "deadline_days": DEADLINE_DAYS,
            "feed_url": feed_url,
            "feed_revoked": feed_revoked,
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/", dashboard)
    app.router.add_post("/calendar-feed", calendar_feed)
