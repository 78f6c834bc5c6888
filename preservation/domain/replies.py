"""Proposals read from a reply: the provider's reference and the date it preserved the data.

Pure: no I/O, no clock. The patterns are data (config/reply_patterns.toml, read by
settings.load_reply_patterns and validated here); `propose` applies them to a reply's subject and
text and returns what an officer may confirm with one click (the ordinary acknowledgement).
Nothing here changes a request: a proposal is only shown.

A preservation date is read on the safe side. The expiry runs from it, so an earlier start gives
an earlier expiry, never a later one:
- a date and a time with an offset (or UTC/GMT/Z) is that instant;
- a time without a zone is read at UTC+14, the earliest instant it can name anywhere;
- a date alone is its first instant at UTC+14 (the day before, 10:00 UTC);
- never before our request could have reached the provider (`not_before`: when it was sent), and
  never after the reply arrived (`not_after`): a date outside that window is not proposed.
Each adjustment is said in the proposal's notes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dateutil import parser as dateparser

#: The earliest offset in use (Kiribati, Line Islands): a local time means no earlier instant.
EARLIEST_OFFSET = timezone(timedelta(hours=14))
_OUR_REFERENCE = re.compile(r"\bPR-\d{4}-\d{6}\b", re.IGNORECASE)
#: Where the quoted original starts in a reply (the text below is ours, not the provider's).
_QUOTE_STARTS = re.compile(
    r"^(?:-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)"
    r"\s*-{2,}|on .{1,200} wrote:|am .{1,200} schrieb .{1,200}:|le .{1,200} a écrit\s*:|"
    r"from:\s.+|von:\s.+|de\s*:\s.+)\s*$",
    re.IGNORECASE,
)


class ReplyPatternError(ValueError):
    """The reply patterns file is malformed; the message names the pattern and the field."""


@dataclass(frozen=True, kw_only=True)
class ReplyPattern:
    key: str
    #: The directory slug of the provider whose mail this describes ("" for any sender).
    provider: str = ""
    #: Sender domains it applies to (the From domain or a domain above it); empty: any sender.
    senders: tuple[str, ...] = ()
    #: A regular expression with a group named "ref".
    reference: re.Pattern[str] | None = None
    #: A regular expression with a group named "date" (and optionally "time" and "tz").
    preserved: re.Pattern[str] | None = None
    #: How to read a numeric date such as 05/06/2026: True 5 June, False 6 May, None the earlier
    #: of both readings (the safe side).
    day_first: bool | None = None
    #: Where the wording comes from, and what is assumed.
    basis: str = ""

    def applies_to(self, sender_domain: str) -> bool:
        if not self.senders:
            return True
        domain = sender_domain.lower()
        return any(domain == s or domain.endswith("." + s) for s in self.senders)


@dataclass(frozen=True, kw_only=True)
class Proposal:
    provider_reference: str | None = None
    preserved_at: datetime | None = None
    #: How the values were read (the pattern, and any safe-side adjustment of the date).
    notes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return {
            "provider_reference": self.provider_reference,
            "preserved_at": self.preserved_at.isoformat() if self.preserved_at else None,
            "notes": list(self.notes),
            "patterns": list(self.patterns),
        }


# --- the patterns file ------------------------------------------------------------------------


def _compile(key: str, name: str, source: Any, group: str) -> re.Pattern[str] | None:
    if source in (None, ""):
        return None
    if not isinstance(source, str):
        raise ReplyPatternError(f"pattern {key!r}: {name} must be a string")
    try:
        compiled = re.compile(source, re.IGNORECASE | re.MULTILINE)
    except re.error as exc:
        raise ReplyPatternError(
            f"pattern {key!r}: {name} is not a regular expression: {exc}"
        ) from None
    if group not in compiled.groupindex:
        raise ReplyPatternError(f"pattern {key!r}: {name} needs a group named {group!r}")
    return compiled


def parse_patterns(
    data: Mapping[str, Any], *, source: str = "reply patterns"
) -> tuple[ReplyPattern, ...]:
    """Validate the [[pattern]] tables of the patterns file (ReplyPatternError naming the bad
    one). Order is kept: provider-specific patterns should come before the generic ones."""
    items = data.get("pattern", [])
    if not isinstance(items, list):
        raise ReplyPatternError(f"{source}: [[pattern]] tables expected")
    known = {"key", "provider", "senders", "reference", "preserved", "day_first", "basis"}
    out: list[ReplyPattern] = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ReplyPatternError(f"{source}: pattern {index} is not a table")
        key = str(item.get("key") or "")
        if not key:
            raise ReplyPatternError(f"{source}: pattern {index} has no key")
        if key in seen:
            raise ReplyPatternError(f"{source}: pattern {key!r} appears twice")
        seen.add(key)
        unknown = set(item) - known
        if unknown:
            raise ReplyPatternError(f"pattern {key!r}: unknown field(s) {sorted(unknown)}")
        senders = item.get("senders", [])
        if not isinstance(senders, list) or not all(isinstance(s, str) for s in senders):
            raise ReplyPatternError(f"pattern {key!r}: senders must be a list of domains")
        reference = _compile(key, "reference", item.get("reference"), "ref")
        preserved = _compile(key, "preserved", item.get("preserved"), "date")
        if reference is None and preserved is None:
            raise ReplyPatternError(f"pattern {key!r}: give reference, preserved, or both")
        if not str(item.get("basis") or "").strip():
            raise ReplyPatternError(
                f"pattern {key!r}: basis (where the wording comes from) is required"
            )
        out.append(
            ReplyPattern(
                key=key,
                provider=str(item.get("provider") or ""),
                senders=tuple(s.strip().lower().lstrip("@") for s in senders if s.strip()),
                reference=reference,
                preserved=preserved,
                day_first=_day_first(key, item.get("day_first")),
                basis=str(item["basis"]).strip(),
            )
        )
    return tuple(out)


def _day_first(key: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ReplyPatternError(f"pattern {key!r}: day_first must be true or false")


# --- reading a reply ---------------------------------------------------------------------------


def own_text(text: str) -> str:
    """The reply without the quoted original: lines starting with ">" and everything from a
    reply header ("On ... wrote:", "-----Original Message-----", "From: ...") on."""
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if _QUOTE_STARTS.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def _clean_reference(value: str) -> str:
    return value.strip().strip(".,;:)]}>\"'").strip()


def _excluded(value: str, exclude: Iterable[str]) -> bool:
    if _OUR_REFERENCE.fullmatch(value):
        return True
    folded = value.casefold()
    return any(folded == e.casefold() for e in exclude if e)


def _day(date_text: str, day_first: bool | None) -> tuple[datetime, str]:
    """The calendar day of `date_text` (midnight), and a note when it was ambiguous."""
    text = re.sub(r"\s+", " ", date_text.strip())
    if text[:4].isdigit():
        return dateparser.parse(text, yearfirst=True), ""
    if day_first is not None:
        return dateparser.parse(text, dayfirst=day_first), ""
    first = dateparser.parse(text, dayfirst=True)
    second = dateparser.parse(text, dayfirst=False)
    if first == second:
        return first, ""
    early, late = sorted((first, second))
    return early, (
        f"{date_text} can mean {early:%d %B %Y} or {late:%d %B %Y}: read as the earlier (safe side)"
    )


def _instant(
    match: re.Match[str],
    *,
    day_first: bool | None,
    not_before: datetime | None,
    not_after: datetime,
) -> tuple[datetime | None, list[str]]:
    notes: list[str] = []
    groups = match.groupdict()
    date_text = (groups.get("date") or "").strip()
    time_text = (groups.get("time") or "").strip()
    zone_text = (groups.get("tz") or "").strip()
    try:
        day, ambiguous = _day(date_text, day_first)
    except (ValueError, OverflowError):
        return None, [f"{date_text!r} is not a date this service can read"]
    if ambiguous:
        notes.append(ambiguous)
    day = day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if time_text:
        try:
            clock = dateparser.parse(re.sub(r"(?<=\d)[h.](?=\d)", ":", time_text))
        except (ValueError, OverflowError):
            clock = None
        if clock is not None:
            day = day.replace(hour=clock.hour, minute=clock.minute, second=clock.second)
        else:
            time_text = ""
    zone = None
    if zone_text:
        upper = zone_text.upper()
        if upper in ("UTC", "GMT", "Z"):
            zone = UTC
        else:
            m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone_text)
            if m:
                sign = 1 if m.group(1) == "+" else -1
                zone = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    if zone is not None and time_text:
        at = day.replace(tzinfo=zone).astimezone(UTC)
    else:
        at = day.replace(tzinfo=EARLIEST_OFFSET).astimezone(UTC)
        what = f"{date_text} {time_text}".strip()
        notes.append(
            f"{what} has no zone: read as its earliest instant (UTC+14), the safe side for the expiry"
        )
    if at > not_after:
        return None, [f"the date read ({date_text}) is after the reply arrived: not proposed"]
    if not_before is not None and at < not_before:
        if not_before - at > timedelta(days=2):
            return None, [
                f"the date read ({date_text}) is before the request was sent: not proposed"
            ]
        notes.append(
            "moved to when the request was sent: the data cannot have been preserved before"
        )
        at = not_before
    return at, notes


def propose(
    *,
    subject: str,
    text: str,
    sender_domain: str,
    patterns: Sequence[ReplyPattern],
    not_after: datetime,
    not_before: datetime | None = None,
    exclude: Iterable[str] = (),
) -> Proposal | None:
    """What the reply proposes, or None. `exclude`: references that are ours (the request's own
    reference and case reference), never proposed as the provider's. `not_before`: when the
    request was sent; `not_after`: when the reply arrived (aware instants)."""
    body = f"{subject}\n{own_text(text)}"
    exclude = list(exclude)
    reference: str | None = None
    preserved: datetime | None = None
    notes: list[str] = []
    used: list[str] = []
    for pattern in patterns:
        if not pattern.applies_to(sender_domain):
            continue
        if reference is None and pattern.reference is not None:
            for match in pattern.reference.finditer(body):
                value = _clean_reference(match.group("ref"))
                if value and not _excluded(value, exclude):
                    reference = value[:200]
                    notes.append(f"reference read by pattern {pattern.key}")
                    used.append(pattern.key)
                    break
        if preserved is None and pattern.preserved is not None:
            for match in pattern.preserved.finditer(body):
                at, why = _instant(
                    match, day_first=pattern.day_first, not_before=not_before, not_after=not_after
                )
                notes.extend(why)
                if at is not None:
                    preserved = at
                    notes.append(f"preservation date read by pattern {pattern.key}")
                    if pattern.key not in used:
                        used.append(pattern.key)
                    break
        if reference is not None and preserved is not None:
            break
    if reference is None and preserved is None:
        return None
    return Proposal(
        provider_reference=reference,
        preserved_at=preserved,
        notes=tuple(dict.fromkeys(notes)),
        patterns=tuple(used),
    )
