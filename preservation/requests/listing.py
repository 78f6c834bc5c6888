"""Lists of requests and of a request's audit events, a page at a time.

Keyset pagination (domain/paging.py): every order ends in the request id, and an index of
migration 0006_read_indexes serves it per unit, so the 500th page costs what the first does and
nothing is counted. The orders:

- newest first (`unit_id, id`; with a status, `unit_id, status, id`);
- with `expiring_within`: open preservations (the statuses a request can lapse from) expiring
  between now and now + that duration, soonest first (the partial `unit_id, expires_at, id`);
- with `q`: the requests whose reference, case reference (any case), provider slug or one of whose
  identifiers (as given, or normalised as the service stores it) is exactly `q`, newest first.
  Whole values, not fragments: each is an index look-up, so a search stays as fast at 100,000
  requests as at 100."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_, union
from sqlalchemy.sql.elements import ColumnElement

from preservation.access.auth import Principal
from preservation.domain import paging
from preservation.domain.lifecycle import Status
from preservation.errors import InvalidInput
from preservation.requests import audit
from preservation.requests.schemas import (
    EventList,
    EventPublic,
    RequestList,
    RequestSummary,
)
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.storage.db import Database
from preservation.storage.models import AuditEvent, PreservationRequest, RequestIdentifier
from preservation.storage.partial import OPEN_REQUEST_STATUSES, status_in

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
R = PreservationRequest
#: The columns of a summary (the list reads no more than it shows).
_SUMMARY = (
    R.id,
    R.reference,
    R.status,
    R.case_reference,
    R.regime,
    R.country,
    R.provider,
    R.urgent,
    R.created_at,
    R.submitted_at,
    R.expires_at,
    R.next_reminder_at,
)


def parse_duration(text: str, *, field: str) -> timedelta:
    """ISO 8601 duration in weeks, days, hours, minutes, seconds ("P14D", "P2W", "PT36H").
    Years and months are refused: their length depends on the start."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise InvalidInput(
            field,
            f"{text!r} is not an ISO 8601 duration in weeks, days or hours (e.g. P14D, PT36H)",
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    try:
        delta = timedelta(**parts)
    except OverflowError:
        raise InvalidInput(field, "is too long") from None
    if delta > timedelta(days=36600):
        raise InvalidInput(field, "is too long (at most 100 years)")
    return delta


def identifier_candidates(q: str) -> set[str]:
    """The stored forms `q` may have as an identifier: as typed, in lower case, and normalised
    the way the service stores it when its type can be told (an e-mail address in any case, an
    IPv6 address written long, a phone number with spaces)."""
    from preservation.domain.identifiers import detect_type, normalize

    text = q.strip()
    out = {text, text.lower()}
    kind = detect_type(text)
    if kind is not None:
        try:
            out.add(normalize(kind, text, field="query.q"))
        except InvalidInput:
            pass
    return out


def search_condition(unit_id: int, q: str) -> ColumnElement[bool]:
    """Requests of the unit matching `q` as a whole value (see the module's docstring): a union
    of index look-ups, one per kind of value."""
    text = q.strip()
    low = text.lower()
    matches = union(
        select(R.id).where(R.reference == text.upper()),
        select(R.id).where(R.unit_id == unit_id, func.lower(R.case_reference) == low),
        select(R.id).where(R.unit_id == unit_id, R.provider == low),
        select(RequestIdentifier.request_id).where(
            RequestIdentifier.normalized.in_(sorted(identifier_candidates(text)))
        ),
    )
    return R.id.in_(matches)


def _summary(row: Any) -> RequestSummary:
    return RequestSummary(
        id=row.id,
        reference=row.reference,
        status=row.status,
        case_reference=row.case_reference,
        regime=row.regime,
        country=row.country,
        provider=row.provider,
        urgent=row.urgent,
        created_at=row.created_at,
        submitted_at=row.submitted_at,
        expires_at=row.expires_at,
        next_reminder_at=row.next_reminder_at,
    )


async def list_requests(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    status: str | None = None,
    expiring_within: str | None = None,
    q: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> RequestList:
    """A page of the unit's requests, newest first; with `expiring_within`, the open ones whose
    preservation expires between now and now + that duration, soonest first; with `q`, those
    matching it. `next` continues the list (null on the last page)."""
    q = q.strip() if q else None
    status_value = Status(status).value if status is not None else None
    filters = paging.fingerprint(principal.unit_id, status_value, expiring_within, q)
    conditions: list[ColumnElement[bool]] = [R.unit_id == principal.unit_id]
    if status_value is not None:
        conditions.append(R.status == status_value)
    if q:
        conditions.append(search_condition(principal.unit_id, q))
    if expiring_within is not None:
        now = ctx.clock.now()
        until = now + parse_duration(expiring_within, field="query.expiring_within")
        key = paging.decode(
            cursor, name="requests.expiring", filters=filters, types=(datetime, int)
        )
        conditions += [
            status_in(R.status, OPEN_REQUEST_STATUSES),
            R.expires_at >= now,
            R.expires_at <= until,
        ]
        if key is not None:
            conditions.append(tuple_(R.expires_at, R.id) > tuple_(*_bind_key(key)))
        order = (R.expires_at, R.id)
        name = "requests.expiring"
    else:
        key = paging.decode(cursor, name="requests", filters=filters, types=(int,))
        if key is not None:
            conditions.append(R.id < key[0])
        order = (R.id.desc(),)
        name = "requests"
    async with db.read() as session:
        rows = (
            await session.execute(
                select(*_SUMMARY).where(*conditions).order_by(*order).limit(limit + 1)
            )
        ).all()
    page = paging.PageOf.cut(rows, limit)
    next_cursor = None
    if page.more:
        last = page.rows[-1]
        last_key = (last.expires_at, last.id) if name == "requests.expiring" else (last.id,)
        next_cursor = paging.encode(name, filters, last_key)
    return RequestList(items=[_summary(r) for r in page.rows], next=next_cursor, limit=limit)


def _bind_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The cursor's (expires_at, id) as typed bound values (the instant through the column's
    type, so SQLite compares it in the stored form)."""
    from sqlalchemy import literal

    return (literal(key[0], R.expires_at.type), literal(key[1], R.id.type))


async def list_events(
    db: Database,
    *,
    principal: Principal,
    request_id: int | str,
    limit: int = 1000,
    cursor: str | None = None,
) -> EventList:
    """A page of the request's audit trail, oldest first (`request_id, seq`: the unique key)."""
    async with db.read() as session:
        req = await load_request(session, principal=principal, request_id=request_id)
        assert req.id is not None
        filters = paging.fingerprint(req.id)
        key = paging.decode(cursor, name="events", filters=filters, types=(int,))
        q = select(AuditEvent).where(AuditEvent.request_id == req.id)
        if key is not None:
            q = q.where(AuditEvent.seq > key[0])
        events = list(
            (await session.execute(q.order_by(AuditEvent.seq).limit(limit + 1))).scalars()
        )
    page = paging.PageOf.cut(events, limit)
    items = [EventPublic(**e) for e in audit.public_events(page.rows)]
    next_cursor = paging.encode("events", filters, (page.rows[-1].seq,)) if page.more else None
    return EventList(items=items, next=next_cursor)
