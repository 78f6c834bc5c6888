"""The request list page: the unit's requests a page at a time (keyset: `?cursor=` is the
`next` of the page before), filtered by status, by open preservations expiring within a period,
or by a search for a whole reference, case reference, identifier or provider slug. The same use
case as GET /api/v1/requests (requests/listing.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from preservation.errors import InvalidInput
from preservation.requests import listing
from preservation.requests.schemas import ListQuery
from preservation.web.api.requests import context_of
from preservation.web.endpoints import parse_model
from preservation.web.keys import DB
from preservation.web.pages.base import officer, render

PAGE_SIZE = 50
STATUSES = (
    "draft",
    "awaiting_validation",
    "queued",
    "sent",
    "preserved",
    "extension_requested",
    "mla_sent",
    "closed",
    "lapsed",
)
#: Periods offered for "expiring within" (ISO 8601 durations, as the API takes them).
PERIODS = (("P7D", "7 days"), ("P14D", "14 days"), ("P30D", "30 days"), ("P90D", "90 days"))


def _filters(request: web.Request) -> dict[str, str]:
    q = request.query
    return {
        "q": q.get("q", "").strip()[:200],
        "status": q.get("status", "") if q.get("status", "") in STATUSES else "",
        "expiring_within": q.get("expiring_within", "")
        if q.get("expiring_within", "") in dict(PERIODS)
        else "",
    }


async def list_page(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    filters = _filters(request)
    given = {k: v for k, v in filters.items() if v}
    cursor = request.query.get("cursor") or None
    error = ""
    try:
        query = parse_model(
            ListQuery, {**given, "limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
        )
        found: Any = await listing.list_requests(
            request.app[DB],
            ctx=context_of(request),
            principal=ws.principal,
            status=query.status,
            expiring_within=query.expiring_within,
            q=query.q,
            limit=query.limit,
            cursor=query.cursor,
        )
    except InvalidInput as exc:
        # A stale or edited cursor: say so and show the first page of the same filters.
        error = "; ".join(e.message for e in exc.errors) or exc.detail
        found = await listing.list_requests(
            request.app[DB],
            ctx=context_of(request),
            principal=ws.principal,
            status=given.get("status"),
            expiring_within=given.get("expiring_within"),
            q=given.get("q"),
            limit=PAGE_SIZE,
        )
        cursor = None
    next_url = "/requests?" + urlencode({**given, "cursor": found.next}) if found.next else ""
    first_url = "/requests" + ("?" + urlencode(given) if given else "")
    return render(
        request,
        "request_list.html",
        {
            "items": found.items,
            "status": filters["status"],
            "q": filters["q"],
            "expiring_within": filters["expiring_within"],
            "statuses": STATUSES,
            "periods": PERIODS,
            "next_url": next_url,
            "first_url": first_url if cursor else "",
            "filtered": bool(given),
            "error": error,
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/requests", list_page)
