"""Many directory changes at once (an import of thousands of rows) without freezing the node.

The same result as one `changes.record_change` per row: one event per row in the one hash chain,
and the supervisors' mail for each change of an address letters go to. But the events' JSON and
hashes are made in a worker thread (runtime/offload.py), and the rows (directory rows, events,
mails) are written in chunks of CHUNK with a pause for the loop between chunks: SQLite's writer
runs on the event loop, and one statement of 10,000 rows would hold it for seconds."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.directory.changes import (
    ALERT_KIND,
    GENESIS,
    Author,
    alert_payload,
    event_hash,
    watched_changes,
)
from preservation.directory.snapshot import bump_version
from preservation.runtime.offload import offload
from preservation.storage.models import DirectoryEvent, Reminder, User

#: Rows per statement (and between two pauses of the writer).
CHUNK = 50
#: Longest pause between two chunks (seconds), and the pause as a share of the chunk's time.
MAX_PAUSE = 0.05
#: A quarter: measured with bench/bench_history.py (an import of 10,000 providers on SQLite, a
#: /healthz poll every 20 ms, reminders falling due meanwhile), a pause as long as the chunk
#: held the writer 2.1 s and kept reminders waiting up to 2.3 s; a quarter, 1.35 s and 1.5 s,
#: the slowest poll still under 75 ms; none (a bare sleep(0)), polls up to 86 ms.
PAUSE_SHARE = 0.25


@dataclass(frozen=True, kw_only=True)
class Change:
    entity: str
    key: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def write_chunks(
    session: AsyncSession,
    statement: Any,
    rows: Sequence[dict[str, Any]],
    *,
    returning: bool = False,
) -> list[Any]:
    """`statement` executed for `rows`, CHUNK at a time, letting the loop run in between;
    with `returning`, the rows it returned, in the order of `rows`."""
    out: list[Any] = []
    for start in range(0, len(rows), CHUNK):
        part = list(rows[start : start + CHUNK])
        began = time.perf_counter()
        if returning:
            out += list((await session.execute(statement, part)).all())
        else:
            await session.execute(statement, part)
        # A pause of a share of what the chunk took lets every other request take its several
        # steps (a bare sleep(0) gives each only one per chunk); a short one: on SQLite every
        # other write (a request filed, a reminder claimed) waits for this transaction.
        await asyncio.sleep(min((time.perf_counter() - began) * PAUSE_SHARE, MAX_PAUSE))
    return out


def _events(changes: Sequence[Change], *, by: Author, seq: int, prev: str) -> list[dict[str, Any]]:
    """The events' rows, chained from (seq, prev) (pure: run in a worker thread)."""
    rows = []
    actor, unit = by.actor[:200], by.unit[:200]
    for change in changes:
        seq += 1
        before = (
            json.loads(json.dumps(change.before, default=str))
            if change.before is not None
            else None
        )
        after = (
            json.loads(json.dumps(change.after, default=str)) if change.after is not None else None
        )
        key = change.key[:200]
        digest = event_hash(
            seq=seq,
            at=by.at,
            actor=actor,
            unit=unit,
            entity=change.entity,
            key=key,
            action=change.action,
            before=before,
            after=after,
            prev_hash=prev,
        )
        rows.append(
            {
                "seq": seq,
                "at": by.at,
                "actor": actor,
                "unit": unit,
                "entity": change.entity,
                "key": key,
                "action": change.action,
                "before": before,
                "after": after,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


def _mails(events: Sequence[dict[str, Any]], units: Sequence[int]) -> list[dict[str, Any]]:
    """The supervisors' mail rows of the events that change an address (pure)."""
    rows = []
    for ev in events:
        fields = watched_changes(ev["entity"], ev["before"], ev["after"])
        if not fields:
            continue
        payload = alert_payload(SimpleNamespace(**ev), fields)
        for unit_id in units:
            rows.append(
                {
                    "unit_id": unit_id,
                    "kind": ALERT_KIND,
                    "key": f"directory:{ev['seq']}",
                    "due_at": ev["at"],
                    "next_attempt_at": ev["at"],
                    "payload": payload,
                    "created_at": ev["at"],
                    "status": "pending",
                    "attempts": 0,
                    "late": False,
                    "last_error": "",
                }
            )
    return rows


async def record_changes(session: AsyncSession, changes: Sequence[Change], *, by: Author) -> int:
    """Append every change to the chain, in order, in the caller's transaction (see the module's
    docstring); returns how many events were written."""
    if not changes:
        return 0
    await bump_version(session)  # the version row's lock orders appenders (changes.py)
    last = (
        await session.execute(
            select(DirectoryEvent.seq, DirectoryEvent.hash)
            .order_by(DirectoryEvent.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
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
    events = await offload(_events, changes, by=by, seq=seq, prev=prev, bulk=True)
    mails = await offload(_mails, events, units) if units else []
    await write_chunks(session, insert(DirectoryEvent), events)
    if mails:
        await write_chunks(session, insert(Reminder), mails)
    return len(events)
