"""What falls due: the unit's upcoming reminders (GET /api/v1/deadlines, `preservation deadlines`)
and its expiries as an iCalendar feed (GET /api/v1/deadlines.ics).

Reads only. Instants are UTC; each item also carries the instant in the unit's zone, so a
deadline across a daylight-saving change shows the wall-clock time the unit will see then."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from preservation.errors import InvalidInput
from preservation.reminders.text import iso, when, zone
from preservation.requests.reminder_plan import LAPSABLE, is_plan_kind
from preservation.storage.models import PreservationRequest, Reminder, Unit

UID_DOMAIN = "preservation-dispatcher"
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


async def upcoming(
    session: Any, *, now: datetime, within: timedelta, unit_id: int | None = None
) -> list[DeadlineItem]:
    """Undelivered planned reminders of active requests due by now + within (overdue ones too),
    soonest first; one unit's, or every unit's when unit_id is None (the operator's CLI)."""
    R = PreservationRequest
    q = (
        select(
            Reminder.request_id,
            R.reference,
            Reminder.kind,
            Reminder.due_at,
            R.expires_at,
            Unit.name,
            Unit.timezone,
            R.status,
        )
        .join(R, R.id == Reminder.request_id)
        .join(Unit, Unit.id == Reminder.unit_id)
        .where(
            Reminder.status.in_(("pending", "sending")),
            Reminder.due_at <= now + within,
            R.status.in_(LAPSABLE),
        )
        .order_by(Reminder.due_at, Reminder.id)
        .limit(10000)
    )
    if unit_id is not None:
        q = q.where(Reminder.unit_id == unit_id, R.unit_id == unit_id)
    rows = await session.execute(q)
    return [
        DeadlineItem(
            request_id=r[0],
            reference=r[1],
            kind=r[2],
            due_at=r[3],
            expires_at=r[4],
            unit=r[5],
            unit_zone=r[6] or "UTC",
            request_status=r[7],
        )
        for r in rows
        if is_plan_kind(r[2])
    ]


async def expiring_requests(
    session: Any, *, unit_id: int, now: datetime, within: timedelta | None
) -> list[PreservationRequest]:
    """The unit's active requests with an expiry (by now + within, when given), soonest first."""
    R = PreservationRequest
    q = (
        select(R)
        .where(R.unit_id == unit_id, R.status.in_(LAPSABLE), R.expires_at.is_not(None))
        .order_by(R.expires_at, R.id)
        .limit(10000)
    )
    if within is not None:
        q = q.where(R.expires_at <= now + within)
    return list((await session.execute(q)).scalars())


def ics_feed(
    requests: Sequence[PreservationRequest],
    *,
    unit_name: str,
    unit_zone: str,
    offsets_days: Sequence[int],
    now: datetime,
) -> bytes:
    """An iCalendar feed: one event per expiry, with alarms at the reminder offsets and at the
    expiry. The UID is the request's reference, so a calendar that re-reads the feed updates the
    event (SEQUENCE = the request's version, LAST-MODIFIED and DTSTAMP = its last change) instead
    of adding a second one."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//preservation-dispatcher//deadlines//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Preservation deadlines: {unit_name}")
    cal.add("x-wr-timezone", unit_zone)
    for req in requests:
        assert req.expires_at is not None
        changed = req.updated_at or req.created_at or now
        ev = Event()
        ev.add("uid", f"{req.reference}@{UID_DOMAIN}")
        ev.add("dtstamp", changed)
        ev.add("last-modified", changed)
        ev.add("created", req.created_at or changed)
        ev.add("sequence", int(req.version or 1))
        ev.add("dtstart", req.expires_at)
        ev.add("dtend", req.expires_at + timedelta(minutes=30))
        ev.add("summary", f"Preservation expires: {req.reference}")
        ev.add("status", "CONFIRMED")
        ev.add("transp", "TRANSPARENT")
        ev.add("categories", ["preservation", req.regime])
        lines = [
            f"Preservation request {req.reference}"
            + (f" (case {req.case_reference})" if req.case_reference else "")
            + f", status {req.status}.",
            f"Expires {when(req.expires_at, unit_zone)}.",
            "Send the formal MLA request or an extension before then, and record it.",
            f"Rule: {req.expiry_rule}",
            f"Open: /requests/{req.id}",
        ]
        ev.add("description", "\n".join(lines))
        for days in sorted(set(offsets_days), reverse=True):
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{req.reference}: preservation expires in {days} day(s)")
            alarm.add("trigger", timedelta(days=-days))
            ev.add_component(alarm)
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{req.reference}: preservation expires now")
        alarm.add("trigger", timedelta(0))
        ev.add_component(alarm)
        cal.add_component(ev)
    return cal.to_ical()
