"""A recorded date given without a time of day ("preserved on 2026-12-01"), read on the safe side.

Providers and points of contact confirm with a date. The deadline must never come later than the
real one, so a date is read as the earliest instant it can name for the custodian: the start of
that day in the custodian's State's easternmost zone (the earliest midnight); with no State known,
in the easternmost zone of all (UTC+14). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytz

_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")

#: The easternmost zone there is (UTC+14 all year): the earliest midnight of any date.
EARLIEST_ZONE = "Pacific/Kiritimati"


@dataclass(frozen=True, kw_only=True)
class SafeDate:
    utc: datetime
    zone: str
    #: What the expiry rule says of the reading.
    note: str


def is_date_only(text: str | None) -> bool:
    return bool(text) and _DATE.match(text or "") is not None


def safe_start_of_day(text: str, *, country: str | None, field: str) -> SafeDate:
    """The earliest instant of the date `text` (YYYY-MM-DD) for a custodian in `country`."""
    m = _DATE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
    day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    zones = list(pytz.country_timezones.get(country.upper(), [])) if country else []
    if not zones:
        zones = [EARLIEST_ZONE]
    best_zone, best = zones[0], None
    for name in zones:
        tz = pytz.timezone(name)
        # Midnight exists everywhere on the day it starts except where a DST change skips it;
        # is_dst=False picks the standard reading then (the later one: this zone is then not
        # the earliest anyway unless it is the only one, and the difference is an hour).
        try:
            local = tz.localize(datetime.combine(day, time(0, 0)), is_dst=None)
        except (pytz.NonExistentTimeError, pytz.AmbiguousTimeError):
            local = tz.localize(datetime.combine(day, time(0, 0)), is_dst=True)
        at = local.astimezone(UTC)
        if best is None or at < best:
            best_zone, best = name, at
    assert best is not None
    where = f"in {best_zone}" + (
        f", the easternmost zone of {country}" if country and len(zones) > 1 else ""
    )
    note = (
        f"{field} {day.isoformat()} was given as a date: read as the start of that day {where}"
        f" ({best.strftime('%Y-%m-%d %H:%M')} UTC), the safe side"
    )
    return SafeDate(utc=best, zone=best_zone, note=note)
