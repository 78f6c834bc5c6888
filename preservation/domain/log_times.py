"""Timestamps in log lines, provider returns and chat exports, and what each lets be known
(pure: no I/O, no clock). Part of domain/extract.py: found by the patterns below, read by
domain/timing (python-dateutil underneath); a zone the text does not state is never assumed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from preservation.domain.timing import resolve_local
from preservation.errors import AmbiguousLocalTime, InvalidInput

__all__ = ["Reading", "Stamp", "day_first_of", "read_stamp", "stamps_in"]


@dataclass(frozen=True, kw_only=True)
class Stamp:
    text: str
    start: int
    end: int
    #: The text states its offset (or a header does: UTC).
    offset: bool
    #: The offset a CSV header states (" UTC") to read the text with.
    suffix: str = ""
    numeric: tuple[int, int] | None = None  # the first two numbers of a d/m/y or m/d/y date


_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\.?"
_OFF = r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})(?![\w:]))"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?(?:\s?[AaPp]\.?[Mm]\.?)?"
_STAMPS = [
    # ISO 8601 and its log variants: 2026-11-20T14:03:11.123+01:00, 2026-11-20 13:03:11 UTC.
    re.compile(
        r"(?<!\d)\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?\d*"
        rf"(?P<off>{_OFF})?"
    ),
    # Apache/nginx: 20/Nov/2026:14:03:11 +0100.
    re.compile(rf"(?<!\d)\d{{1,2}}/{_MON}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}}(?P<off>{_OFF})?"),
    # Year first with slashes: 2026/11/20 14:03:11.
    re.compile(rf"(?<!\d)\d{{4}}/\d{{1,2}}/\d{{1,2}},?[ T]{_CLOCK}(?P<off>{_OFF})?"),
    # Numeric day/month or month/day: 20.11.2026 14:03, 11/20/2026 2:03:11 PM, [20/11/26, 14:03].
    re.compile(
        r"(?<![\d/.])(?P<a>\d{1,2})[./-](?P<b>\d{1,2})[./-](?P<y>\d{4}|\d{2}),?\s{1,2}"
        rf"{_CLOCK}(?P<off>{_OFF})?"
    ),
    # Mail and RFC 2822 dates: Fri, 20 Nov 2026 14:03:11 +0100; 20 November 2026 14:03.
    re.compile(
        rf"(?<!\d)(?:[A-Z][a-z]{{2}},\s)?\d{{1,2}}\s{_MON}\s\d{{4}},?\s{_CLOCK}(?P<off>{_OFF})?"
    ),
    # Month name first: Nov 20, 2026 2:03:11 PM; and syslog without a year: Nov 20 14:03:11.
    re.compile(
        rf"(?<![\w/]){_MON}\s{{1,2}}\d{{1,2}}(?:,?\s\d{{4}})?,?\s{_CLOCK}"
        rf"(?:\s(?P<year>\d{{4}}))?(?P<off>{_OFF})?"
    ),
]
_TWO_DIGIT_YEAR = re.compile(r"(?<![\d/.])(\d{1,2}[./-]\d{1,2}[./-])(\d{2})(?=,?\s)")


def stamps_in(line: str, *, header_utc: bool = False) -> list[Stamp]:
    found: list[Stamp] = []
    for pattern in _STAMPS:
        for m in pattern.finditer(line):
            if any(m.start() < s.end and s.start < m.end() for s in found):
                continue
            text = m.group(0).strip()
            numeric = None
            if "a" in pattern.groupindex:
                numeric = (int(m.group("a")), int(m.group("b")))
            offset = bool(m.group("off"))
            found.append(
                Stamp(
                    text=text,
                    start=m.start(),
                    end=m.end(),
                    offset=offset or header_utc,
                    suffix=" UTC" if header_utc and not offset else "",
                    numeric=numeric,
                )
            )
    return sorted(found, key=lambda s: s.start)


def day_first_of(stamps: Iterable[Stamp]) -> bool | None:
    """The day order that the text itself proves: True when a date reads only day first
    (20/11/2026), False when one reads only month first (11/20/2026), None otherwise."""
    day = month = False
    for s in stamps:
        if s.numeric is None:
            continue
        a, b = s.numeric
        day |= a > 12 >= b
        month |= b > 12 >= a
    return day if day != month else None


@dataclass(frozen=True, kw_only=True)
class Reading:
    at_local: str | None = None
    tz: str | None = None
    at_utc: str | None = None
    needs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def read_stamp(stamp: Stamp, *, tz: str | None, now: datetime, day_first: bool | None) -> Reading:
    text = stamp.text + stamp.suffix
    warnings: list[str] = []
    m = _TWO_DIGIT_YEAR.search(text)
    if m:
        # "20/11/26, 14:03" (chat exports): no message of this century's apps is from 19xx.
        text = f"{text[: m.start()]}{m.group(1)}20{m.group(2)}{text[m.end() :]}"
        warnings.append(f"the year is written with two digits: read as 20{m.group(2)}")
    needs: list[str] = []
    if stamp.numeric is not None and day_first is None and len(set(stamp.numeric)) == 2:
        if max(stamp.numeric) <= 12:
            needs.append("day_first")
    if not re.search(r"(?<!\d)\d{4}(?!\d)", text):
        needs.append("year")
    if not stamp.offset and tz is None:
        needs.append("tz")
    if needs:
        return Reading(needs=tuple(needs), warnings=tuple(warnings))
    try:
        instant = resolve_local(
            text, None if stamp.offset else tz, field="at", now=now, day_first=day_first
        )
    except AmbiguousLocalTime as exc:
        return Reading(needs=("dst",), warnings=(*warnings, exc.errors[0].message))
    except InvalidInput as exc:
        return Reading(warnings=(*warnings, f"time: {exc.errors[0].message}"))
    return Reading(
        at_local=instant.local_iso(),
        tz=instant.tz,
        at_utc=instant.utc_iso(),
        warnings=tuple(warnings),
    )
