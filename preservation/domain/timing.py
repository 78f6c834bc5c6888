"""Local time + IANA zone -> UTC instant, refusing every guess (pure: no I/O, no clock).

Rules (DESIGN.md "Time"; domain-notes section 4: times and zones "from your source, not assumed"):

- ISO 8601 with an explicit offset or ``Z`` is taken as is. When a zone is given too, the offset
  must be the zone's real offset at that instant, else the text is refused (one of them is wrong).
  Without a zone, the zone kept for display is ``"UTC"`` for a zero offset and ``"UTC+02:00"``
  (the offset itself, not an IANA name) otherwise.
- A local time without an offset needs an IANA zone. It is localised with pytz ``is_dst=None``:
  a time that happens twice (clocks go back) or never (clocks go forward) raises
  ``AmbiguousLocalTime`` naming the field and both candidate instants in UTC.
  ``dst=True`` / ``dst=False`` resolves it:
    * happens twice: ``True`` is the first occurrence (summer time, before the clocks went back),
      ``False`` the second (standard time);
    * never happens: ``True`` reads the wall time with the summer-time offset (as if the clocks had
      already gone forward: the earlier instant), ``False`` with the standard offset (as if they had
      not yet: the later instant). Both readings are what a device with a late or early clock
      change would have logged; the investigator must say which.
  Where a zone changed its standard offset (no daylight saving involved), ``True`` is the earlier
  instant and ``False`` the later one.
- Log formats (Apache CLF ``20/Nov/2026:14:03:11 +0100``, syslog with a year
  ``Nov 20 14:03:11 2026``, ``20.11.2026 14:03``, ``11/20/2026 2:03 PM`` ...) are read with
  python-dateutil. A numeric date whose day and month could be swapped (``05/06/2026``) needs
  ``day_first``; a year, a date, hours and minutes are required (seconds default to 0, fractions
  are kept to the microsecond). Zone abbreviations other than UTC/GMT/Z are refused (CST alone
  names three offsets); ``GMT+3`` / ``UTC+02:00`` mean what people mean (east of Greenwich),
  not the inverted POSIX reading.
- An instant after ``now`` is refused, with no tolerance: the data to preserve exist already, and
  a time in the future is a typo or a wrong zone. So is one before 1900 (``EARLIEST``), or one
  that no calendar arithmetic can hold (year 1 with an offset, year 9999): 422, never a 500.
- What is easily misread is accepted with a warning (``LocalInstant.warnings``): a zone named by
  an abbreviation (``EST`` is UTC-05:00 in July too, when New York is on EDT), ``Etc/GMT+3``
  (which is UTC-03:00: POSIX inverts the sign), and an instant before 2000 (1970-01-01 is what a
  blank Unix timestamp shows).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytz
from dateutil import parser as dateutil_parser

from preservation.errors import AmbiguousLocalTime, FieldError, InvalidInput

__all__ = [
    "LocalInstant",
    "resolve_local",
    "resolve_range",
    "sibling_field",
    "validate_zone",
]

ISO_HINT = "write it as ISO 8601, e.g. 2026-11-20T14:03:11"
#: No instant before this is accepted (nothing a provider keeps is older).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
#: Instants before this are accepted with a warning: a wrong year, or a blank Unix timestamp.
PLAUSIBLE_FROM = datetime(2000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = "is out of the range of dates this service reads (1900 until now): check the year"
#: Zone names that are abbreviations or POSIX rules rather than places.
ABBREVIATION_ZONES = frozenset(
    {"CET", "CST6CDT", "EET", "EST", "EST5EDT", "HST", "MET", "MST", "MST7MDT", "PST8PDT", "WET"}
)
#: The place people usually mean by a fixed-offset abbreviation zone.
_MEANT_PLACE = {"EST": "America/New_York", "MST": "America/Denver"}
_ETC_GMT = re.compile(r"^Etc/GMT([+-])(\d{1,2})$")


@dataclass(frozen=True, kw_only=True)
class LocalInstant:
    """An instant as the investigator gave it: UTC for computing, the rest for the letter."""

    #: The instant, timezone-aware, in UTC.
    utc: datetime
    #: The original text as given ("2026-11-20T14:03:11", "20/Nov/2026:14:03:11 +0100").
    local: str
    #: IANA zone name; without a zone, "UTC" or the bare offset ("UTC+02:00").
    tz: str
    #: The offset from UTC in force for this reading: "+01:00", "+05:45", "-03:30".
    offset: str
    #: "CET"; where the zone has none, what pytz gives ("+0545"), or "UTC+02:00" without a zone.
    abbreviation: str
    #: What may have been misread (a zone abbreviation, Etc/GMT+N, an implausible year).
    warnings: tuple[str, ...] = ()

    def wall(self) -> datetime:
        """The wall-clock time of this reading, aware with its fixed offset."""
        return self.utc.astimezone(timezone(_parse_offset(self.offset)))

    def local_iso(self) -> str:
        """The wall-clock time with its offset, ISO 8601: "2026-11-20T14:03:11+01:00"."""
        return self.wall().isoformat()

    def utc_iso(self) -> str:
        """The instant in UTC, ISO 8601 with a "Z": "2026-11-20T13:03:11Z"."""
        return self.utc.replace(tzinfo=None).isoformat() + "Z"

    def describe(self) -> str:
        """ "2026-11-20 14:03:11 CET (UTC+01:00), 2026-11-20 13:03:11 UTC"."""
        wall = _clock_text(self.wall())
        utc = _clock_text(self.utc)
        if self.abbreviation.startswith("UTC"):
            # No zone: the abbreviation is the offset itself; say it once.
            return f"{wall} (UTC{self.offset}), {utc} UTC"
        return f"{wall} {self.abbreviation} (UTC{self.offset}), {utc} UTC"

    def as_public(self) -> dict[str, str]:
        """The LocalTimePublic shape of the API, plus the text as given."""
        return {
            "local": self.local_iso(),
            "given": self.local,
            "tz": self.tz,
            "offset": self.offset,
            "abbreviation": self.abbreviation,
            "text": self.describe(),
        }


def sibling_field(field: str, name: str) -> str:
    """ "identifiers[0].at" -> "identifiers[0].tz"; "at" -> "tz"."""
    head, dot, _ = field.rpartition(".")
    return f"{head}.{name}" if dot else name


def validate_zone(name: str, *, field: str) -> str:
    """Check an IANA zone name with pytz and return its canonical spelling
    ("europe/berlin" -> "Europe/Berlin"). Raises InvalidInput(field, ...) when unknown."""
    return _zone(name, field=field).zone


def resolve_local(
    text: str,
    tz: str | None,
    *,
    field: str,
    now: datetime,
    dst: bool | None = None,
    day_first: bool | None = None,
    tz_field: str | None = None,
) -> LocalInstant:
    """Read one instant given as text (ISO 8601 or a log format) in zone `tz`.

    `field` names the time in errors ("identifiers[0].at"); an unknown zone is reported on
    `tz_field`, by default the sibling "tz" ("identifiers[0].tz"). `dst` resolves a local time
    that happens twice or never; `day_first` says how to read a numeric date such as 05/06/2026.
    Raises InvalidInput, or AmbiguousLocalTime (a subclass) with the candidate instants.
    """
    _check_now(now)
    zone = _zone(tz, field=tz_field or sibling_field(field, "tz")) if tz is not None else None
    if not isinstance(text, str):
        raise InvalidInput(field, "must be a string (a date and time)")
    given = text.strip()
    if not given:
        raise InvalidInput(field, f"is empty: {ISO_HINT}")
    try:
        parsed = _parse(given, field=field, day_first=day_first)
        if parsed.tzinfo is not None:
            instant = _from_offset(parsed, given, zone, field=field)
        elif zone is None:
            raise InvalidInput(
                field,
                "is a local time without an offset: give its time zone (tz, an IANA name such "
                "as Europe/Berlin) or write the offset (2026-11-20T14:03:11+01:00)",
            )
        else:
            aware = _localize(zone, parsed, field=field, dst=dst)
            instant = LocalInstant(
                utc=aware.astimezone(UTC),
                local=given,
                tz=zone.zone,
                offset=_format_offset(aware.utcoffset()),
                abbreviation=aware.tzname() or _format_offset(aware.utcoffset()),
            )
        if instant.utc < EARLIEST:
            raise InvalidInput(field, OUT_OF_RANGE)
        if instant.utc > now:
            raise InvalidInput(
                field,
                f"is in the future ({instant.describe()}; now is "
                f"{_clock_text(now.astimezone(UTC))} UTC)",
            )
    except OverflowError:
        # Year 1 with an offset, year 9999 in a zone west of Greenwich: no datetime holds it.
        raise InvalidInput(field, OUT_OF_RANGE) from None
    warnings = [*zone_warnings(instant.tz, instant.utc), *year_warnings(instant.utc, field)]
    return dataclasses.replace(instant, warnings=tuple(warnings)) if warnings else instant


def zone_warnings(zone_name: str, utc: datetime) -> list[str]:
    """What is easily misread in the zone `zone_name` at the instant `utc` (pure)."""
    etc = _ETC_GMT.match(zone_name)
    if etc is not None and int(etc.group(2)):
        hours = int(etc.group(2))
        real = "-" if etc.group(1) == "+" else "+"
        east = "Etc/GMT-" if real == "-" else "Etc/GMT+"
        return [
            f"tz {zone_name} is UTC{real}{hours:02d}:00, not UTC{etc.group(1)}{hours:02d}:00: "
            f"Etc/GMT names invert the sign (POSIX); if {etc.group(1)}{hours:02d}:00 was meant, "
            f"the zone is {east}{hours} (or write the offset in the time)"
        ]
    if zone_name not in ABBREVIATION_ZONES:
        return []
    wall = utc.astimezone(pytz.timezone(zone_name))
    text = (
        f"tz {zone_name} is an abbreviation, not a place: at that time it meant "
        f"{wall.tzname()} (UTC{_format_offset(wall.utcoffset())})"
    )
    place = _MEANT_PLACE.get(zone_name)
    if place is not None:
        there = utc.astimezone(pytz.timezone(place))
        if there.utcoffset() != wall.utcoffset():
            text += (
                f", while {place} was on {there.tzname()} "
                f"(UTC{_format_offset(there.utcoffset())}): if the clock followed {place}, "
                "give that zone"
            )
    return [text + "; give the IANA zone of the place the clock was in"]


def year_warnings(utc: datetime, field: str) -> list[str]:
    """An instant before 2000 is more likely a wrong year, or a blank Unix timestamp (pure)."""
    if utc >= PLAUSIBLE_FROM:
        return []
    name = field.rpartition(".")[2] or field
    epoch = (
        " (1970-01-01 is the Unix epoch: what a blank or zero timestamp shows)"
        if utc.year == 1970
        else ""
    )
    return [f"{name} is in {utc.year}, an implausible year for data to preserve{epoch}: check it"]


def resolve_range(
    from_text: str,
    to_text: str,
    tz: str | None,
    *,
    field_prefix: str,
    now: datetime,
    dst_from: bool | None = None,
    dst_to: bool | None = None,
    day_first: bool | None = None,
) -> tuple[LocalInstant, LocalInstant]:
    """Read a period "<prefix>.from" .. "<prefix>.to"; `from` must be strictly before `to`.

    Errors of both ends are reported together; a single ambiguous end is raised as the
    AmbiguousLocalTime itself (its candidates stay available)."""
    prefix = f"{field_prefix}." if field_prefix else ""
    errors: list[InvalidInput] = []
    ends: list[LocalInstant] = []
    for name, text, dst in (("from", from_text, dst_from), ("to", to_text, dst_to)):
        try:
            ends.append(
                resolve_local(
                    text,
                    tz,
                    field=f"{prefix}{name}",
                    now=now,
                    dst=dst,
                    day_first=day_first,
                    tz_field=f"{prefix}tz",
                )
            )
        except InvalidInput as exc:
            errors.append(exc)
            if exc.field == f"{prefix}tz":
                break  # the zone is wrong: the other end would only repeat it
    if errors:
        raise merge_errors(errors)
    start, end = ends
    if start.utc >= end.utc:
        raise InvalidInput(
            f"{prefix}to",
            f"must be after from ({start.describe()} is not before {end.describe()})",
        )
    return start, end


def merge_errors(errors: list[InvalidInput]) -> InvalidInput:
    """One exception for several: a lone error is returned as is (it may carry candidates)."""
    if len(errors) == 1:
        return errors[0]
    fields: list[FieldError] = []
    for exc in errors:
        fields.extend(exc.errors)
    return InvalidInput(errors=fields)


# --- parsing -----------------------------------------------------------------------------------

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_ISO_BASIC = re.compile(
    r"^\d{8}T\d{4}(?:\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$", re.IGNORECASE
)
# Apache/nginx common log format: the colon between year and hour is not a date separator.
_CLF = re.compile(r"^(\d{1,2}/[A-Za-z]{3}/\d{4}):(?=\d{2}:\d{2})")
# "GMT+3", "UTC+02:00": dateutil reads these the POSIX way (inverted); people mean east.
_GMT_OFFSET = re.compile(r"\b(?:UTC|GMT)\s*([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)", re.IGNORECASE)
_FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_YEAR_FIRST = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<![\d/.-])(\d{1,2})[-/.](\d{1,2})[-/.]\d{4}(?!\d)")
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UT", "ZULU"})

# Two defaults that differ in every part dateutil could fill in: what differs was not in the text.
# January and March both have 31 days, so no given day is out of range for either default.
_DEFAULT_A = datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = datetime(2004, 3, 3, 1, 1, 0)


class _ZoneAbbreviation(Exception):
    def __init__(self, name: str):
        self.name = name


def _tzinfos(name: str | None, offset: int | None) -> tzinfo | None:
    if name is not None and name.upper() not in _UTC_NAMES:
        raise _ZoneAbbreviation(name)
    if name is None and offset is None:
        return None
    return timezone(timedelta(seconds=offset or 0))


def _parse(text: str, *, field: str, day_first: bool | None) -> datetime:
    if _ISO.match(text) or _ISO_BASIC.match(text):
        try:
            return datetime.fromisoformat(text.upper().replace(",", "."))
        except ValueError as exc:
            raise InvalidInput(field, f"is not a valid date and time ({exc})") from None
    return _parse_log(text, field=field, day_first=day_first)


def _parse_log(text: str, *, field: str, day_first: bool | None) -> datetime:
    t = text
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1].strip()
    t = _CLF.sub(r"\1 ", t)
    t = _GMT_OFFSET.sub(_gmt_offset, t)
    if not any(c.isdigit() for c in t):
        raise InvalidInput(field, f"is not a date and time this service can read; {ISO_HINT}")
    if not _FOUR_DIGIT_YEAR.search(t):
        raise InvalidInput(field, f"needs a four-digit year; {ISO_HINT}")

    if _YEAR_FIRST.match(t):
        return _dateutil(t, text, field=field, dayfirst=False, yearfirst=True)
    numeric = _NUMERIC_DATE.search(t)
    if numeric and day_first is not None:
        month = int(numeric.group(2) if day_first else numeric.group(1))
        if month > 12:
            # dateutil would quietly swap day and month; the caller said otherwise.
            raise InvalidInput(
                field,
                f"cannot be read {'day' if day_first else 'month'} first: the month would be "
                f"{month}",
            )
    month_first = _dateutil(t, text, field=field, dayfirst=False, yearfirst=False)
    if day_first is False:
        return month_first
    day_first_reading = _dateutil(t, text, field=field, dayfirst=True, yearfirst=False)
    if day_first is True or day_first_reading == month_first:
        return day_first_reading
    raise InvalidInput(
        field,
        f"has an ambiguous day and month: {text!r} may be {_date_words(day_first_reading)} "
        f"(day first) or {_date_words(month_first)} (month first); {ISO_HINT}, "
        "or say day_first",
    )


def _dateutil(t: str, original: str, *, field: str, dayfirst: bool, yearfirst: bool) -> datetime:
    readings = []
    for default in (_DEFAULT_A, _DEFAULT_B):
        try:
            readings.append(
                dateutil_parser.parse(
                    t, default=default, dayfirst=dayfirst, yearfirst=yearfirst, tzinfos=_tzinfos
                )
            )
        except _ZoneAbbreviation as exc:
            raise InvalidInput(
                field,
                f"names its zone by the abbreviation {exc.name!r}, which may mean several "
                "offsets: write the offset (+01:00) or give tz (an IANA zone)",
            ) from None
        except (ValueError, OverflowError):
            raise InvalidInput(
                field, f"is not a date and time this service can read; {ISO_HINT}"
            ) from None
    a, b = readings
    if a.year != b.year:
        raise InvalidInput(field, f"needs a year; {ISO_HINT}")
    if str(a.year) not in _FOUR_DIGIT_YEAR.findall(t):
        # dateutil reads "0001" as 2001: a year the text does not hold.
        raise InvalidInput(field, OUT_OF_RANGE)
    if (a.month, a.day) != (b.month, b.day):
        raise InvalidInput(field, f"needs a full date (day, month and year); {ISO_HINT}")
    if a.hour != b.hour:
        raise InvalidInput(field, f"needs a time of day; {ISO_HINT}")
    if a.minute != b.minute:
        raise InvalidInput(field, f"needs hours and minutes; {ISO_HINT}")
    return a


def _gmt_offset(m: re.Match[str]) -> str:
    return f" {m.group(1)}{int(m.group(2)):02d}{m.group(3) or '00'}"


def _date_words(value: datetime) -> str:
    return f"{value.day} {value.strftime('%B')} {value.year}"


# --- zones -------------------------------------------------------------------------------------


def _zone(name: object, *, field: str) -> pytz.BaseTzInfo:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(field, "must be an IANA time zone name such as Europe/Berlin")
    try:
        return pytz.timezone(name.strip())
    except (KeyError, ValueError, UnicodeError):  # UnknownTimeZoneError is a KeyError
        raise InvalidInput(
            field, f"unknown time zone {name.strip()!r}: give an IANA name such as Europe/Berlin"
        ) from None


def _localize(zone: pytz.BaseTzInfo, naive: datetime, *, field: str, dst: bool | None) -> datetime:
    try:
        return zone.localize(naive, is_dst=None)
    except (pytz.AmbiguousTimeError, pytz.NonExistentTimeError) as exc:
        if dst is not None:
            return zone.localize(naive, is_dst=dst)
        first = zone.localize(naive, is_dst=True)
        second = zone.localize(naive, is_dst=False)
        candidates = sorted({first.astimezone(UTC), second.astimezone(UTC)})
        wall = _clock_text(naive)
        readings = (
            f"dst true: {_reading(first)}; dst false: {_reading(second)}; "
            "or write the offset in the time"
        )
        if isinstance(exc, pytz.AmbiguousTimeError):
            reason = f"{wall} happens twice in {zone.zone} (the clocks go back): {readings}"
        else:
            reason = f"{wall} does not exist in {zone.zone} (the clocks go forward): {readings}"
        raise AmbiguousLocalTime(field, reason, candidates) from None


def _reading(aware: datetime) -> str:
    return (
        f"{aware.tzname()} (UTC{_format_offset(aware.utcoffset())}) = "
        f"{_clock_text(aware.astimezone(UTC))} UTC"
    )


def _from_offset(
    parsed: datetime, given: str, zone: pytz.BaseTzInfo | None, *, field: str
) -> LocalInstant:
    offset = parsed.utcoffset()
    assert offset is not None
    utc = parsed.astimezone(UTC)
    offset_text = _format_offset(offset)
    if zone is None:
        name = "UTC" if not offset else f"UTC{offset_text}"
        return LocalInstant(utc=utc, local=given, tz=name, offset=offset_text, abbreviation=name)
    real = utc.astimezone(zone)
    real_offset = real.utcoffset()
    if real_offset != offset:
        raise InvalidInput(
            field,
            f"offset {offset_text} does not match {zone.zone} at that time "
            f"({_format_offset(real_offset)})",
        )
    return LocalInstant(
        utc=utc,
        local=given,
        tz=zone.zone,
        offset=offset_text,
        abbreviation=real.tzname() or offset_text,
    )


# --- formatting --------------------------------------------------------------------------------


def _format_offset(offset: timedelta | None) -> str:
    seconds = int((offset or timedelta(0)).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{secs:02d}" if secs else text  # local mean time before 1900 has seconds


def _parse_offset(text: str) -> timedelta:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text[1:].split(":")]
    hours, minutes, secs = (parts + [0, 0])[:3]
    return sign * timedelta(hours=hours, minutes=minutes, seconds=secs)


def _clock_text(value: datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
