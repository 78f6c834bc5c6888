"""The unit's calendar feed (GET /api/v1/deadlines.ics and the feed URL of access/feeds.py).

What is in it is bounded by what is open, never by history: every planned deadline of the open
preservations (the expiry, with alarms at the reminder offsets; the acknowledgement follow-up;
the last day to ask for an extension; the MLA follow-ups of data held until the decision), and,
for a RECENT_DAYS window, the deadlines just passed (so a calendar does not drop an expiry the
moment it falls). Both are read through partial or per-unit indexes (migration
0006_read_indexes). At most MAX_EVENTS events: past that, one more event says how many were
left out and where to see them (no silent cap).

Calendar clients poll unattended, so the feed has a validator: `validator()` reads, in one
cheap statement, what the feed depends on (the unit's latest request change and newest request,
its name and zone) and makes a weak ETag of it with the day (the recent window slides daily);
an unchanged feed is answered 304 without being built. The body is built in a worker thread
(runtime/offload.py) by `render()`, a plain iCalendar writer (the icalendar package spent about
a millisecond per event), and kept per validator (FeedCache) so a burst of clients builds it once.

A transaction's instants are taken before it commits, so a change can commit with an
updated_at older than one already seen; for MAX_TRANSACTION_SECONDS after the unit's latest
change the ETag also changes every RECHECK_SECONDS, so such a change is picked up within that
time."""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from sqlalchemy import and_, func, select

from preservation.reminders.text import zone
from preservation.requests.reminder_plan import ALERT_LAPSED, WITH_DEADLINES, is_plan_kind
from preservation.storage.models import PreservationRequest, Reminder, Unit
from preservation.storage.partial import OPEN_REMINDER_STATUSES, status_in

UID_DOMAIN = "preservation-dispatcher"
#: Days of deadlines already passed that stay in the feed.
RECENT_DAYS = 14
#: Most events in one feed (the open preservations of a very busy unit fit well within it).
MAX_EVENTS = 20_000
MAX_TRANSACTION_SECONDS = 60
RECHECK_SECONDS = 10
#: Rows read per round trip (the loop processes one slice, then serves others).
PARTITION = 500

R = PreservationRequest
TITLES = {
    "expiry": "Preservation expires",
    "ack_missing": "No acknowledgement yet",
    "extension_lead": "Last day to ask for an extension",
    "mla_followup": "Follow up the MLA request",
    "emergency_followup": "EMERGENCY: no answer yet, call",
}
ADVICE = {
    "expiry": "Send the formal MLA request or an extension before then, and record it.",
    "ack_missing": "The provider has not confirmed the preservation: chase it, and record"
    " the acknowledgement when it comes.",
    "extension_lead": "Ask the provider for an extension by then (its own lead time).",
    "mla_followup": "The data are held until the decision on the MLA request: ask the"
    " requested State how it stands.",
    "emergency_followup": "An emergency disclosure request has no answer yet: call the number"
    " on its record now, and record the answer when it comes.",
}


def in_feed(kind: str) -> bool:
    """Planned deadlines are events; the reminders before the expiry are its alarms."""
    return is_plan_kind(kind) and not kind.startswith("expiry_minus_")


@dataclass(frozen=True, kw_only=True)
class Validator:
    etag: str
    last_modified: datetime
    #: True while a late commit may still change the feed (If-Modified-Since is not trusted).
    settling: bool
    unit_name: str
    unit_zone: str

    def matches(self, if_none_match: str | None, if_modified_since: datetime | None) -> bool:
        """True when the client's copy is current (RFC 9110: If-None-Match first)."""
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or self.etag.removeprefix("W/") in tags
        if if_modified_since is not None and not self.settling:
            return self.last_modified.replace(microsecond=0) <= if_modified_since
        return False


async def validator(session: Any, *, unit_id: int, now: datetime, variant: str) -> Validator | None:
    """What the feed of `unit_id` depends on, read in one statement (each part an index look-up);
    None for an unknown unit. `variant` is whatever else shapes the body (the period asked,
    the links' base URL, the reminder offsets)."""
    latest = select(func.max(R.updated_at)).where(R.unit_id == unit_id).scalar_subquery()
    newest = select(func.max(R.id)).where(R.unit_id == unit_id).scalar_subquery()
    row = (
        await session.execute(
            select(Unit.name, Unit.timezone, latest.label("latest"), newest.label("newest")).where(
                Unit.id == unit_id
            )
        )
    ).first()
    if row is None:
        return None
    latest_at = row.latest
    if isinstance(latest_at, str):  # should a driver hand back SQLite's stored text
        latest_at = datetime.fromisoformat(latest_at)
    if latest_at is not None and latest_at.tzinfo is None:
        latest_at = latest_at.replace(tzinfo=UTC)
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last_modified = max(day, latest_at) if latest_at else day
    settling = latest_at is not None and now - latest_at < timedelta(
        seconds=MAX_TRANSACTION_SECONDS
    )
    parts = [
        unit_id,
        row.name,
        row.timezone,
        latest_at.isoformat() if latest_at else "",
        row.newest or 0,
        day.date().isoformat(),
        variant,
    ]
    if settling:
        parts.append(int(now.timestamp()) // RECHECK_SECONDS)
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return Validator(
        etag=f'W/"{digest}"',
        last_modified=last_modified,
        settling=settling,
        unit_name=row.name,
        unit_zone=row.timezone or "UTC",
    )


@dataclass(frozen=True, kw_only=True)
class FeedEvent:
    request_id: int
    reference: str
    case_reference: str
    request_status: str
    regime: str
    expiry_rule: str
    version: int
    changed: datetime
    created: datetime
    kind: str
    due_at: datetime
    expires_at: datetime | None


#: Labelled as FeedEvent's fields: the rows are handed to `render` as they come (no object of
#: ours made per event on the loop).
_COLUMNS = (
    Reminder.request_id,
    R.reference,
    func.coalesce(R.case_reference, "").label("case_reference"),
    R.status.label("request_status"),
    R.regime,
    func.coalesce(R.expiry_rule, "").label("expiry_rule"),
    R.version,
    R.updated_at.label("changed"),
    R.created_at.label("created"),
    Reminder.kind,
    Reminder.due_at,
    R.expires_at,
    Reminder.id,
)


async def events(
    session: Any, *, unit_id: int, now: datetime, until: datetime | None
) -> tuple[list[Any], int]:
    """The feed's events in due order, at most MAX_EVENTS (rows with FeedEvent's fields); and
    how many more there were.

    Open reminders of open preservations (the partial index of open reminders, per unit), then
    the recent window's delivered ones (per unit, status and due time)."""
    since = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=RECENT_DAYS
    )
    kinds = and_(Reminder.request_id.is_not(None), Reminder.kind != ALERT_LAPSED)
    open_rows = (
        select(*_COLUMNS)
        .join(R, R.id == Reminder.request_id)
        .where(
            Reminder.unit_id == unit_id,
            status_in(Reminder.status, OPEN_REMINDER_STATUSES),
            Reminder.due_at >= since,
            status_in(R.status, WITH_DEADLINES),
            kinds,
            ~Reminder.kind.startswith("expiry_minus_"),
        )
    )
    recent_rows = (
        select(*_COLUMNS)
        .join(R, R.id == Reminder.request_id)
        .where(
            Reminder.unit_id == unit_id,
            Reminder.status == "delivered",
            Reminder.due_at >= since,
            Reminder.due_at <= now,
            R.status.in_((*WITH_DEADLINES, "lapsed")),
            kinds,
            ~Reminder.kind.startswith("expiry_minus_"),
        )
    )
    if until is not None:
        open_rows = open_rows.where(Reminder.due_at <= until)
    out: list[Any] = []
    left_out = 0
    for query in (recent_rows, open_rows):
        ordered = query.order_by(Reminder.due_at, Reminder.id).limit(MAX_EVENTS + 1 - len(out))
        result = await session.stream(ordered)
        async for part in result.partitions(PARTITION):
            out.extend(r for r in part if in_feed(r.kind))
    if len(out) > MAX_EVENTS:
        out = out[:MAX_EVENTS]
        left_out = await _count_left(session, unit_id=unit_id, since=since, until=until)
    return out, left_out


async def _count_left(
    session: Any, *, unit_id: int, since: datetime, until: datetime | None
) -> int:
    """How many open deadlines a truncated feed leaves out (only counted when it is truncated)."""
    q = (
        select(func.count())
        .select_from(Reminder)
        .join(R, R.id == Reminder.request_id)
        .where(
            Reminder.unit_id == unit_id,
            status_in(Reminder.status, OPEN_REMINDER_STATUSES),
            Reminder.due_at >= since,
            status_in(R.status, WITH_DEADLINES),
            ~Reminder.kind.startswith("expiry_minus_"),
            Reminder.kind != ALERT_LAPSED,
        )
    )
    if until is not None:
        q = q.where(Reminder.due_at <= until)
    total = int((await session.execute(q)).scalar_one())
    return max(total - MAX_EVENTS, 1)


# --- the iCalendar text (RFC 5545), built in a worker thread -----------------------------------


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    if line.isascii():  # one octet a character: cut by characters
        if len(line) <= 75:
            return line + "\r\n"
        return (
            "\r\n ".join([line[:75], *(line[i : i + 74] for i in range(75, len(line), 74))])
            + "\r\n"
        )
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line + "\r\n"
    parts = []
    start = 0
    limit = 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # not inside a UTF-8 sequence
            end -= 1
        parts.append(raw[start:end].decode("utf-8"))
        start = end
        limit = 74
    return "\r\n ".join(parts) + "\r\n"


def _utc(at: datetime) -> str:
    a = at.astimezone(UTC)
    return f"{a.year:04d}{a.month:02d}{a.day:02d}T{a.hour:02d}{a.minute:02d}{a.second:02d}Z"


class _When:
    """`reminders.text.when` for many instants in one zone (the zone looked up once; an f-string
    instead of strftime: a feed formats thousands of them)."""

    def __init__(self, zone_name: str) -> None:
        self.tz = zone(zone_name)

    def __call__(self, at: datetime | None) -> str:
        if at is None:
            return "(no fixed date)"
        local = at.astimezone(self.tz)
        off = local.utcoffset() or timedelta(0)
        minutes = int(off.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        u = at.astimezone(UTC)
        return (
            f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:"
            f"{local.minute:02d} {local.tzname()} (UTC{offset}), {u.year:04d}-{u.month:02d}-"
            f"{u.day:02d} {u.hour:02d}:{u.minute:02d} UTC"
        )


def _uid(kind: str, reference: str, due_at: datetime) -> str:
    # The expiry keeps the request's UID (an extension moves the event, it does not add one).
    if kind == "expiry":
        return f"{reference}@{UID_DOMAIN}"
    if kind == "mla_followup":
        return f"{reference}-{kind}-{due_at:%Y%m%d}@{UID_DOMAIN}"
    if kind == "emergency_followup":  # hours apart: one event each
        return f"{reference}-{kind}-{due_at:%Y%m%dT%H%M}@{UID_DOMAIN}"
    return f"{reference}-{kind}@{UID_DOMAIN}"


def _duration(days: int) -> str:
    return f"-P{days}D" if days else "PT0S"


def render(
    items: Sequence[FeedEvent],
    *,
    unit_name: str,
    unit_zone: str,
    offsets_days: Sequence[int],
    base_url: str,
    left_out: int,
    now: datetime,
) -> bytes:
    """The feed as iCalendar bytes (pure: no I/O, no clock; run it in a worker thread)."""
    out: list[str] = [
        "BEGIN:VCALENDAR\r\n",
        "VERSION:2.0\r\n",
        "PRODID:-//preservation-dispatcher//deadlines//EN\r\n",
        "CALSCALE:GREGORIAN\r\n",
        "METHOD:PUBLISH\r\n",
        _fold(f"X-WR-CALNAME:{_escape(f'Preservation deadlines: {unit_name}')}"),
        _fold(f"X-WR-TIMEZONE:{_escape(unit_zone)}"),
    ]
    alarms = sorted(set(offsets_days), reverse=True)
    expiry_alarms = "".join(
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\n"
        + f"TRIGGER:{_duration(d)}\r\n"
        + "DESCRIPTION:{ref}: "
        + (f"preservation expires in {d} day(s)" if d else "preservation expires now")
        + "\r\nEND:VALARM\r\n"
        for d in [*alarms, 0]
    )
    when = _When(unit_zone)
    half_hour = timedelta(minutes=30)
    for ev in items:
        # Each field read once: the rows are the query's (attribute access by name on a
        # database row costs as much as the formatting of a line).
        kind, reference, due_at = ev.kind, ev.reference, ev.due_at
        expires_at, case_reference = ev.expires_at, ev.case_reference
        title = TITLES.get(kind) or kind.replace("_", " ").capitalize()
        link = f"{base_url}/requests/{ev.request_id}"
        lines = [
            f"Preservation request {reference}"
            + (f" (case {case_reference})" if case_reference else "")
            + f", status {ev.request_status}.",
            f"{title}: {when(due_at)}.",
        ]
        if kind != "expiry" and expires_at is not None:
            lines.append(f"Preservation expires {when(expires_at)}.")
        lines.append(ADVICE.get(kind, ""))
        if kind == "expiry" and (rule := ev.expiry_rule):
            lines.append(f"Rule: {rule}")
        lines.append(f"Open: {link}")
        changed = _utc(ev.changed)
        out.append(
            "BEGIN:VEVENT\r\n"
            + _fold(f"UID:{_escape(_uid(kind, reference, due_at))}")
            + f"DTSTAMP:{changed}\r\nLAST-MODIFIED:{changed}\r\n"
            + f"CREATED:{_utc(ev.created)}\r\nSEQUENCE:{ev.version}\r\n"
            + f"DTSTART:{_utc(due_at)}\r\nDTEND:{_utc(due_at + half_hour)}\r\n"
            + _fold(f"SUMMARY:{_escape(f'{title}: {reference}')}")
            + _fold(f"DESCRIPTION:{_escape(chr(10).join(x for x in lines if x))}")
            + _fold(f"URL:{link}")
            + "STATUS:CONFIRMED\r\nTRANSP:TRANSPARENT\r\n"
            + _fold(f"CATEGORIES:preservation,{_escape(ev.regime)},{kind}")
        )
        if kind == "expiry":
            out.append(expiry_alarms.replace("{ref}", reference))
        else:
            out.append(
                "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:PT0S\r\n"
                + _fold(f"DESCRIPTION:{_escape(f'{reference}: {title.lower()}')}")
                + "END:VALARM\r\n"
            )
        out.append("END:VEVENT\r\n")
    if left_out:
        stamp = _utc(now)
        out.append("BEGIN:VEVENT\r\n")
        out.append(_fold(f"UID:truncated-{stamp[:8]}@{UID_DOMAIN}"))
        out.append(f"DTSTAMP:{stamp}\r\nDTSTART:{stamp}\r\n")
        out.append(_fold(f"SUMMARY:{left_out} more deadlines are not in this feed"))
        out.append(
            _fold(
                "DESCRIPTION:"
                + _escape(
                    f"This feed holds the first {len(items)} deadlines in due order; {left_out}"
                    f" later ones are left out. The full list: {base_url}/api/v1/deadlines"
                    " (a page at a time), or ask the feed for a shorter period (?within=P30D)."
                )
            )
        )
        out.append("END:VEVENT\r\n")
    out.append("END:VCALENDAR\r\n")
    return "".join(out).encode("utf-8")


@dataclass(frozen=True, kw_only=True)
class Built:
    """A built feed, kept gzipped only: calendar clients take gzip (15 MB become about 1 MB),
    and a node caching the plain text too held 16 MB of feeds; `body()` gives the text back."""

    gzipped: bytes
    events: int
    left_out: int

    def body(self) -> bytes:
        """The iCalendar text (decompressed on each call: for the rare client without gzip;
        tens of milliseconds for a feed of megabytes, so call it off the event loop)."""
        return gzip.decompress(self.gzipped)


def build(items: Sequence[FeedEvent], *, left_out: int, **kwargs: Any) -> Built:
    """render(), gzipped."""
    body = render(items, left_out=left_out, **kwargs)
    return Built(
        gzipped=gzip.compress(body, compresslevel=4, mtime=0),
        events=len(items),
        left_out=left_out,
    )


class FeedCache:
    """The latest built feed per unit and variant (the period asked, the links' base), least
    recently used first out, within `max_bytes`."""

    def __init__(self, *, max_bytes: int = 4 * 1024 * 1024, max_items: int = 16) -> None:
        self._items: OrderedDict[tuple[int, str], tuple[str, Built]] = OrderedDict()
        self._max_bytes = max_bytes
        self._max_items = max_items
        #: How many feeds were built (tests and the benchmark read it).
        self.builds = 0

    def get(self, unit_id: int, variant: str, etag: str) -> Built | None:
        entry = self._items.get((unit_id, variant))
        if entry is None or entry[0] != etag:
            return None
        self._items.move_to_end((unit_id, variant))
        return entry[1]

    def put(self, unit_id: int, variant: str, etag: str, built: Built) -> None:
        self._items[(unit_id, variant)] = (etag, built)
        self._items.move_to_end((unit_id, variant))
        self.builds += 1
        while len(self._items) > self._max_items or (
            len(self._items) > 1
            and sum(len(b.gzipped) for _, b in self._items.values()) > self._max_bytes
        ):
            self._items.popitem(last=False)


def http_date(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC).replace(microsecond=0), usegmt=True)
