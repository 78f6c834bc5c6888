"""Governance of the shared directory: every change is an event (who, from which unit, when, the
row before and after) in ONE hash chain, like a request's audit trail; a change to an address
that letters go to is mailed to every unit's supervisors.

The chain: event ``seq`` 1, 2, 3 ... each carrying the previous event's hash. Writers append in
the transaction of the change, after touching the directory version row (``bump_version``): on
PostgreSQL that row's lock orders concurrent writers, so two changes never claim one ``seq``;
SQLite has one writer. ``verify_chain`` names the first broken link (``preservation audit
verify``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.directory.snapshot import bump_version
from preservation.storage.models import DirectoryEvent, Reminder, User

__all__ = [
    "ALERT_KIND",
    "GENESIS",
    "OPERATOR",
    "SYSTEM",
    "Author",
    "BrokenLink",
    "contact_state",
    "event_hash",
    "list_changes",
    "provider_state",
    "public_event",
    "record_change",
    "verify_all",
    "verify_chain",
    "watched_changes",
]

GENESIS = "0" * 64
#: The reminder kind of the mail telling supervisors that an address letters go to changed.
ALERT_KIND = "alert_directory_change"
#: Fields holding an address a request or a letter goes to.
WATCHED = {
    "provider": (
        "portal_url",
        "le_email",
        "intake_page",
        "emergency_contact",
        "entities",
        "eu_representative",
    ),
    "contact": ("emails", "phones"),
}


@dataclass(frozen=True, kw_only=True)
class Author:
    """Who makes a directory change, and when."""

    actor: str
    unit: str
    at: datetime

    @classmethod
    def of(cls, principal: Any, at: datetime) -> Author:
        """From an ``access.auth.Principal``."""
        return cls(actor=principal.actor, unit=principal.unit_name, at=at)


#: The operator at the command line (``preservation directory import``).
OPERATOR = "operator (command line)"
#: The service itself (the demo load at start).
SYSTEM = "system"


def provider_state(row: Any) -> dict[str, Any]:
    """A provider row as the event records it (the fields of ``ProviderCreate``)."""
    from providers.models import ProviderCreate

    data = row.model_dump(mode="json")
    state = {k: data.get(k) for k in ProviderCreate.model_fields}
    if not state.get("source") and data.get("source_url"):
        # a row an older node wrote: its URL alone (a document of unknown kind)
        state["source"] = data["source_url"]
    return state


def contact_state(row: Any) -> dict[str, Any]:
    """A point of contact as the event records it."""
    return row.model_dump(mode="json")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    unit: str,
    entity: str,
    key: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "unit": unit,
            "entity": entity,
            "key": key,
            "action": action,
            "before": before,
            "after": after,
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def watched_changes(
    entity: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[str]:
    """The fields holding an address letters go to that differ between ``before`` and
    ``after`` (a created or deleted row: those it has)."""
    out = []
    for name in WATCHED.get(entity, ()):
        old = (before or {}).get(name) or None
        new = (after or {}).get(name) or None
        if old != new:
            out.append(name)
    return out


async def record_change(
    session: AsyncSession,
    *,
    by: Author,
    entity: str,
    key: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> DirectoryEvent:
    """Append one change to the chain (in the caller's transaction) and, when it changes an
    address letters go to, queue a mail to every unit's supervisors."""
    await bump_version(session)  # takes the version row's lock first: one appender at a time
    last = (
        await session.execute(
            select(DirectoryEvent.seq, DirectoryEvent.hash)
            .order_by(DirectoryEvent.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    before = json.loads(json.dumps(before, default=str)) if before is not None else None
    after = json.loads(json.dumps(after, default=str)) if after is not None else None
    event = DirectoryEvent(
        seq=seq,
        at=by.at,
        actor=by.actor[:200],
        unit=by.unit[:200],
        entity=entity,
        key=key[:200],
        action=action,
        before=before,
        after=after,
        prev_hash=prev,
        hash=event_hash(
            seq=seq,
            at=by.at,
            actor=by.actor[:200],
            unit=by.unit[:200],
            entity=entity,
            key=key[:200],
            action=action,
            before=before,
            after=after,
            prev_hash=prev,
        ),
    )
    session.add(event)
    await session.flush()
    fields = watched_changes(entity, before, after)
    if fields:
        await _mail_supervisors(session, event=event, fields=fields)
    return event


def _describe(value: Any) -> str:
    if value in (None, "", [], {}):
        return "(none)"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def alert_payload(event: Any, fields: Sequence[str]) -> dict[str, Any]:
    """The mail to supervisors about one change of an address letters go to (pure)."""
    what = "provider" if event.entity == "provider" else "point of contact"
    subject = f"Directory: the {what} {event.key} changed an address letters go to"
    lines = [
        f"{event.actor} ({event.unit or 'no unit'}) {event.action}d the {what} {event.key} "
        f"at {event.at.isoformat()} (directory change {event.seq}).",
        "",
        "Requests routed from now on use the new value. Check it before relying on it:",
        "",
    ]
    for name in fields:
        lines.append(f"{name}:")
        lines.append(f"  before: {_describe((event.before or {}).get(name))}")
        lines.append(f"  after:  {_describe((event.after or {}).get(name))}")
    lines += ["", "Every change: /directory/changes"]
    return {"subject": subject, "text": "\n".join(lines), "directory_change": event.seq}


async def _mail_supervisors(
    session: AsyncSession, *, event: DirectoryEvent, fields: Sequence[str]
) -> int:
    """One reminder row per unit that has a supervisor with an e-mail (the reminder sweep sends
    it to the unit's supervisors and alert addresses, like any alert)."""
    units = list(
        (
            await session.execute(
                select(User.unit_id)
                .where(User.role == "supervisor", User.email != "")
                .distinct()
                .order_by(User.unit_id)
            )
        ).scalars()
    )
    if not units:
        return 0
    payload = alert_payload(event, fields)
    for unit_id in units:
        session.add(
            Reminder(
                unit_id=unit_id,
                kind=ALERT_KIND,
                key=f"directory:{event.seq}",
                due_at=event.at,
                next_attempt_at=event.at,
                payload=payload,
                created_at=event.at,
            )
        )
    await session.flush()
    return len(units)


def public_event(e: DirectoryEvent) -> dict[str, Any]:
    assert e.at is not None
    return {
        "seq": e.seq,
        "at": e.at.isoformat().replace("+00:00", "Z"),
        "actor": e.actor,
        "unit": e.unit,
        "entity": e.entity,
        "key": e.key,
        "action": e.action,
        "before": e.before,
        "after": e.after,
        "hash": e.hash,
    }


async def list_changes(
    session: AsyncSession,
    *,
    entity: str | None = None,
    key: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> tuple[list[DirectoryEvent], int | None]:
    """The latest changes first (optionally of one entity and key), and the ``seq`` to pass as
    ``before_seq`` for the next page (None on the last page)."""
    stmt = select(DirectoryEvent).order_by(DirectoryEvent.seq.desc()).limit(limit + 1)
    if entity:
        stmt = stmt.where(DirectoryEvent.entity == entity)
    if key:
        stmt = stmt.where(DirectoryEvent.key == key)
    if before_seq is not None:
        stmt = stmt.where(DirectoryEvent.seq < before_seq)
    rows = list((await session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


@dataclass(frozen=True, kw_only=True)
class BrokenLink:
    seq: int
    reason: str


def verify_chain(
    events: Sequence[DirectoryEvent], *, start_seq: int = 1, prev: str = GENESIS
) -> BrokenLink | None:
    """Check events in ``seq`` order, from ``start_seq`` whose previous hash is ``prev``."""
    expected = start_seq
    for ev in events:
        if ev.seq != expected:
            return BrokenLink(seq=ev.seq, reason=f"expected directory change {expected}")
        if ev.prev_hash != prev:
            return BrokenLink(seq=ev.seq, reason="does not link to the previous change")
        assert ev.at is not None
        digest = event_hash(
            seq=ev.seq,
            at=ev.at,
            actor=ev.actor,
            unit=ev.unit,
            entity=ev.entity,
            key=ev.key,
            action=ev.action,
            before=ev.before,
            after=ev.after,
            prev_hash=ev.prev_hash,
        )
        if digest != ev.hash:
            return BrokenLink(seq=ev.seq, reason="content does not match its hash")
        prev = ev.hash
        expected += 1
    return None


async def verify_all(session: AsyncSession, *, batch: int = 1000) -> tuple[int, BrokenLink | None]:
    """Verify the whole chain in batches; (changes checked, the first broken link or None)."""
    total = (await session.execute(select(func.count()).select_from(DirectoryEvent))).scalar_one()
    seq, prev = 1, GENESIS
    while True:
        rows = list(
            (
                await session.execute(
                    select(DirectoryEvent)
                    .where(DirectoryEvent.seq >= seq)
                    .order_by(DirectoryEvent.seq)
                    .limit(batch)
                )
            ).scalars()
        )
        if not rows:
            return total, None
        link = verify_chain(rows, start_seq=seq, prev=prev)
        if link is not None:
            return total, link
        seq, prev = rows[-1].seq + 1, rows[-1].hash
