"""What the dashboard shows of a unit, bounded by what is open (never by its history):

- the preservations that expire soonest (and those held until the MLA decision, and those that
  lapsed in the last LAPSED_DAYS), at most TIMELINE_MAX of them;
- the oldest requests still waiting for an acknowledgement, the newest drafts;
- counts of the open requests by status.

Each is one query on an index of migration 0006_read_indexes (the partial index of open
preservations by expiry; `unit_id, status, id`) or 0013_lapsed_index (the recent lapses),
so the dashboard of a unit with 100,000 requests reads what one with 100 reads. Where a list is
cut, `more` says so and the page links to the full list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from preservation.storage.db import Database
from preservation.storage.models import PreservationRequest
from preservation.storage.partial import OPEN_REQUEST_STATUSES, is_lapsed, status_in

R = PreservationRequest
TIMELINE_MAX = 40
AWAITING_MAX = 25
DRAFTS_MAX = 10
LAPSED_DAYS = 30
#: Statuses that wait for the provider's acknowledgement.
AWAITING = ("queued", "sent", "extension_requested")
#: Statuses counted on the dashboard (all of them open: history is not counted).
COUNTED = ("draft", "queued", *OPEN_REQUEST_STATUSES)

_ROW = (
    R.id,
    R.reference,
    R.status,
    R.case_reference,
    R.provider,
    R.country,
    R.urgent,
    R.created_at,
    R.submitted_at,
    R.expires_at,
    R.held_until_decision,
)


@dataclass(frozen=True, kw_only=True)
class Cut:
    """A list cut at its bound: the rows shown, and whether more exist."""

    rows: list[Any]
    more: bool


@dataclass(frozen=True, kw_only=True)
class Overview:
    #: Soonest to expire first: expired but not yet lapsed, then by expiry; then held ones.
    timeline: Cut
    lapsed: list[Any]
    awaiting: Cut
    drafts: Cut
    #: Open requests by status (statuses in COUNTED).
    counts: dict[str, int]


def _cut(rows: list[Any], limit: int) -> Cut:
    return Cut(rows=rows[:limit], more=len(rows) > limit)


async def overview(db: Database, *, unit_id: int, now: datetime, window_days: int) -> Overview:
    """The dashboard's reads for `unit_id` (see the module's docstring)."""
    async with db.read() as session:
        return await overview_in(session, unit_id=unit_id, now=now, window_days=window_days)


async def overview_in(session: Any, *, unit_id: int, now: datetime, window_days: int) -> Overview:
    """`overview` in the caller's read transaction (the page adds its deadlines to the same one:
    on PostgreSQL each transaction costs round trips of its own)."""
    expiring = (
        await session.execute(
            select(*_ROW)
            .where(
                R.unit_id == unit_id,
                status_in(R.status, OPEN_REQUEST_STATUSES),
                R.expires_at <= now + timedelta(days=window_days),
            )
            .order_by(R.expires_at, R.id)
            .limit(TIMELINE_MAX + 1)
        )
    ).all()
    room = TIMELINE_MAX + 1 - len(expiring)
    held = (
        (
            await session.execute(
                select(*_ROW)
                .where(R.unit_id == unit_id, R.status == "mla_sent", R.expires_at.is_(None))
                .order_by(R.id.desc())
                .limit(room)
            )
        ).all()
        if room > 0
        else []
    )
    lapsed = (
        await session.execute(
            select(*_ROW)
            .where(
                # A lapse happens at expiry: the lapses of the last LAPSED_DAYS are the lapsed
                # requests that expired then (the partial index of lapses by unit and expiry;
                # a later change to an old lapsed request does not make it recent).
                R.unit_id == unit_id,
                is_lapsed(R.status),
                R.expires_at >= now - timedelta(days=LAPSED_DAYS),
            )
            .order_by(R.expires_at.desc(), R.id.desc())
            .limit(TIMELINE_MAX)
        )
    ).all()
    awaiting = (
        await session.execute(
            select(*_ROW)
            .where(R.unit_id == unit_id, R.status.in_(AWAITING))
            .order_by(R.submitted_at, R.id)
            .limit(AWAITING_MAX + 1)
        )
    ).all()
    drafts = (
        await session.execute(
            select(*_ROW)
            .where(R.unit_id == unit_id, R.status == "draft")
            .order_by(R.id.desc())
            .limit(DRAFTS_MAX + 1)
        )
    ).all()
    counts = {
        status: int(n)
        for status, n in await session.execute(
            select(R.status, func.count())
            .where(R.unit_id == unit_id, R.status.in_(COUNTED))
            .group_by(R.status)
        )
    }
    timeline = [*expiring, *held]
    return Overview(
        timeline=_cut(timeline, TIMELINE_MAX),
        lapsed=list(lapsed),
        awaiting=_cut(list(awaiting), AWAITING_MAX),
        drafts=_cut(list(drafts), DRAFTS_MAX),
        counts=counts,
    )
