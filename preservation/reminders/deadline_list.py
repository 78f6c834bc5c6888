"""What falls due: the unit's upcoming reminders (GET /api/v1/deadlines, `preservation deadlines`),
a page at a time. (The iCalendar feed is reminders/feed.py.)

Reads only. Instants are UTC; each item also carries the instant in the unit's zone, so a
deadline across a daylight-saving change shows the wall-clock time the unit will see then."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal, select, tuple_

from preservation.errors import InvalidInput
from preservation.reminders.text import iso, zone
from preservation.requests.reminder_plan import ALERT_LAPSED, WITH_DEADLINES, is_plan_kind
from preservation.storage.models import PreservationRequest, Reminder, Unit
from preservation.storage.partial import OPEN_REMINDER_STATUSES, status_in

MAX_WITHIN = timedelta(days=3660)
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_SHORT = re.compile(r"^(?P<n>\d+)\s*(?P<unit>w|d|h|m)$")
_SHORT_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_within(text: str, *, field: str = "within", short: bool = False) -> timedelta:
    """An ISO 8601 duration in weeks, days, hours, minutes, seconds ("P14D", "PT48H", "P2W");
    with `short`, also "14d", "48h", "2w", "30m" (the CLI). Years and months are refused:
    their length depends on the start. Zero, negative or over ten years: InvalidInput(field)."""
    raw = (text or "").strip()
    upper = raw.upper()
    parts: dict[str, int] | None = None
    m = _ISO.match(upper)
    if m and upper not in ("P", "PT") and not upper.endswith("T"):
        parts = {k: int(v) for k, v in m.groupdict().items() if v}
    elif short and (s := _SHORT.match(raw.lower())):
        parts = {_SHORT_UNITS[s["unit"]]: int(s["n"])}
    example = "P14D, PT48H" + (", 14d or 48h" if short else "")
    if parts is None:
        raise InvalidInput(field, f"{raw!r} is not a duration (e.g. {example})")
    try:
        delta = timedelta(**parts)
    except OverflowError:
        raise InvalidInput(field, "is too long (at most ten years)") from None
    if delta <= timedelta(0):
        raise InvalidInput(field, "must be longer than zero")
    if delta > MAX_WITHIN:
        raise InvalidInput(field, "is too long (at most ten years)")
    return delta


@dataclass(frozen=True, kw_only=True)
class DeadlineItem:
    request_id: int
    reference: str
    kind: str
    due_at: datetime
    expires_at: datetime | None
    unit: str
    unit_zone: str
    request_status: str

    def public(self) -> dict[str, Any]:
        tz = zone(self.unit_zone)
        return {
            "request_id": self.request_id,
            "reference": self.reference,
            "kind": self.kind,
            "due_at": iso(self.due_at),
            "expires_at": iso(self.expires_at),
            "due_at_local": self.due_at.astimezone(tz).isoformat(),
            "expires_at_local": self.expires_at.astimezone(tz).isoformat()
            if self.expires_at
            else None,
            "timezone": self.unit_zone,
            "request_status": self.request_status,
        }


#: Most items of one page of the deadline list.
MAX_PAGE = 1000


@dataclass(frozen=True, kw_only=True)
class DeadlinePage:
    items: list[DeadlineItem]
    #: The (due_at, reminder id) of the last row read, when more rows follow.
    next_key: tuple[datetime, int] | None


async def upcoming_page(
    session: Any,
    *,
    now: datetime,
    within: timedelta,
    unit_id: int | None = None,
    limit: int = MAX_PAGE,
    after: tuple[datetime, int] | None = None,
) -> DeadlinePage:
    """Undelivered planned reminders of active requests due by now + within (overdue ones too),
    soonest first, a page of `limit` after the (due_at, id) `after`; one unit's (the partial
    index of open reminders per unit serves the order), or every unit's when unit_id is None
    (the operator's CLI)."""
    # Two statements, so that the page is read from the reminders' own index whatever the
    # planner thinks of the requests: the page of open reminders first (the partial index of
    # open reminders per unit serves it: (unit_id, due_at, id)), then their requests by id.
    q = (
        select(Reminder.id, Reminder.request_id, Reminder.kind, Reminder.due_at)
        .where(
            status_in(Reminder.status, OPEN_REMINDER_STATUSES),
            Reminder.due_at <= now + within,
            Reminder.request_id.is_not(None),
            Reminder.kind != ALERT_LAPSED,
        )
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit + 1)
    )
    if unit_id is not None:
        q = q.where(Reminder.unit_id == unit_id)
    if after is not None:
        q = q.where(
            tuple_(Reminder.due_at, Reminder.id)
            > tuple_(literal(after[0], Reminder.due_at.type), literal(after[1], Reminder.id.type))
        )
    rows = (await session.execute(q)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    R = PreservationRequest
    requests: dict[int, Any] = {}
    wanted = sorted({r.request_id for r in rows if is_plan_kind(r.kind)})
    if wanted:
        found = await session.execute(
            select(R.id, R.reference, R.expires_at, R.status, Unit.name, Unit.timezone)
            .join(Unit, Unit.id == R.unit_id)
            .where(R.id.in_(wanted), status_in(R.status, WITH_DEADLINES))
        )
        requests = {r.id: r for r in found}
    items = []
    for r in rows:
        req = requests.get(r.request_id)
        if req is None or not is_plan_kind(r.kind):
            continue  # an alert or report, or a request no longer active
        items.append(
            DeadlineItem(
                request_id=r.request_id,
                reference=req.reference,
                kind=r.kind,
                due_at=r.due_at,
                expires_at=req.expires_at,
                unit=req.name,
                unit_zone=req.timezone or "UTC",
                request_status=req.status,
            )
        )
    return DeadlinePage(items=items, next_key=(rows[-1].due_at, rows[-1].id) if more else None)


async def upcoming(
    session: Any, *, now: datetime, within: timedelta, unit_id: int | None = None
) -> list[DeadlineItem]:
    """The first page of `upcoming_page` (MAX_PAGE items)."""
    return (await upcoming_page(session, now=now, within=within, unit_id=unit_id)).items
