"""The audit trail: every change to a request is an event whose hash chains to the previous
event of that request. `verify` names the first broken link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.storage.models import AuditEvent

GENESIS = "0" * 64
# Keys never written into an event's detail, whatever a caller passes.
SECRET_KEYS = frozenset(
    {"token", "password", "secret", "webhook_secret", "authorization", "smtp_password"}
)


def event_hash(
    *,
    request_id: int,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    detail: dict[str, Any] | None,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "request_id": request_id,
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "detail": detail or {},
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def scrub(detail: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (detail or {}).items() if k.lower() not in SECRET_KEYS}


def chain(
    request_id: int,
    events: Sequence[tuple[str, str, datetime, dict[str, Any] | None]],
    *,
    last_seq: int = 0,
    last_hash: str = GENESIS,
) -> list[dict[str, Any]]:
    """The rows (column values) of `events` -- (actor, action, at, detail) in order -- appended
    to a chain whose last event is (`last_seq`, `last_hash`); a new request's chain starts at
    (0, GENESIS), so its first events need no read."""
    rows = []
    seq, prev = last_seq, last_hash
    for actor, action, at, detail in events:
        seq += 1
        clean = json.loads(json.dumps(scrub(detail), default=str))
        digest = event_hash(
            request_id=request_id,
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            detail=clean,
            prev_hash=prev,
        )
        rows.append(
            {
                "request_id": request_id,
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action,
                "detail": clean,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


async def record(
    session: AsyncSession,
    *,
    request_id: int,
    actor: str,
    action: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the request's chain (in the caller's transaction)."""
    last = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.request_id == request_id)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    (row,) = chain(request_id, [(actor, action, now, detail)], last_seq=seq, last_hash=prev)
    event = AuditEvent(**row)
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True, kw_only=True)
class BrokenLink:
    request_id: int
    seq: int
    reason: str


def verify_chain(events: Sequence[AuditEvent]) -> BrokenLink | None:
    """Check one request's events (ordered by seq); the first broken link, or None."""
    prev = GENESIS
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            return BrokenLink(
                request_id=ev.request_id, seq=ev.seq, reason=f"expected event {expected_seq}"
            )
        if ev.prev_hash != prev:
            return BrokenLink(
                request_id=ev.request_id, seq=ev.seq, reason="does not link to the previous event"
            )
        digest = event_hash(
            request_id=ev.request_id,
            seq=ev.seq,
            at=ev.at,
            actor=ev.actor,
            action=ev.action,
            detail=ev.detail,
            prev_hash=ev.prev_hash,
        )
        if digest != ev.hash:
            return BrokenLink(
                request_id=ev.request_id, seq=ev.seq, reason="content does not match its hash"
            )
        prev = ev.hash
    return None


async def events_of(session: AsyncSession, request_id: int) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.seq)
    )
    return list(rows.scalars())


async def verify_all(session: AsyncSession, *, batch: int = 1000) -> tuple[int, list[BrokenLink]]:
    """Verify every chain; returns (requests checked, broken links)."""
    ids = list(
        (
            await session.execute(
                select(AuditEvent.request_id).distinct().order_by(AuditEvent.request_id)
            )
        ).scalars()
    )
    broken: list[BrokenLink] = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        rows = await session.execute(
            select(AuditEvent)
            .where(AuditEvent.request_id.in_(chunk))
            .order_by(AuditEvent.request_id, AuditEvent.seq)
        )
        by_request: dict[int, list[AuditEvent]] = {}
        for ev in rows.scalars():
            by_request.setdefault(ev.request_id, []).append(ev)
        for events in by_request.values():
            link = verify_chain(events)
            if link is not None:
                broken.append(link)
    return len(ids), broken


def public_events(events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "seq": e.seq,
            "at": e.at.isoformat().replace("+00:00", "Z"),
            "actor": e.actor,
            "action": e.action,
            "detail": e.detail or {},
            "hash": e.hash,
            "prev_hash": e.prev_hash,
        }
        for e in events
    ]
