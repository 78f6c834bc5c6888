"""The reads that must not grow with history are served by the indexes of 0006_read_indexes (and
0012_emergency_index), as
the code sends them (the statements are captured and EXPLAINed): the request list per unit (and
a deep page), open preservations by expiry, the lapse sweep and the next lapse, the deadline
list, the feed's open reminders and its validator. On PostgreSQL the planner is told to avoid
sequential scans (tiny test tables would tempt it): what is checked is that the index CAN serve
the statement (a partial index is only usable when the planner proves the statement's
condition implies the index's). Both engines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, select, text

from preservation.access.auth import Principal, ensure_user
from preservation.domain import paging
from preservation.reminders import feed
from preservation.reminders.deadline_list import upcoming_page
from preservation.requests import listing
from preservation.requests.emergency import open_emergencies
from preservation.requests.overview import overview
from preservation.requests.reminder_plan import lapse_due, next_lapse_at
from preservation.storage.models import PreservationRequest, Reminder
from tests.conftest import T0
from tests.reminder_support import context


async def _fill(db: Any, now: Any) -> Principal:
    # Another unit with ten times the history, older (lower ids): alpha's reads must not walk it.
    async with db.write() as s:
        other, other_user = await ensure_user(s, unit="beta", user="b", role="officer", now=now)
        other_id, other_user_id = other.id, other_user.id
    async with db.write() as s:
        await s.execute(
            insert(PreservationRequest),
            [
                {
                    "reference": f"PR-2025-{k:06d}",
                    "unit_id": other_id,
                    "created_by": other_user_id,
                    "status": "closed",
                    "regime": "us-2703f",
                    "created_at": now,
                    "updated_at": now - timedelta(days=k),
                    "expires_at": now - timedelta(days=k),
                    "data_categories": [],
                    "extensions": [],
                    "warnings": [],
                }
                for k in range(600)
            ],
        )
        # ... and its reminders, all delivered long ago.
        ids = (
            await s.execute(
                select(PreservationRequest.id).where(PreservationRequest.unit_id == other_id)
            )
        ).scalars()
        await s.execute(
            insert(Reminder),
            [
                {
                    "unit_id": other_id,
                    "request_id": rid,
                    "kind": "expiry",
                    "key": f"{rid}:{n}",
                    "due_at": now - timedelta(days=n + 1),
                    "next_attempt_at": now - timedelta(days=n + 1),
                    "status": "delivered",
                    "created_at": now,
                }
                for rid in list(ids)
                for n in range(4)
            ],
        )
    async with db.write() as s:
        unit, user = await ensure_user(s, unit="alpha", user="o", role="officer", now=now)
        unit_id, user_id = unit.id, user.id
    async with db.write() as s:
        for k in range(60):
            status = ("preserved", "closed", "lapsed", "draft")[k % 4]
            rid = (
                await s.execute(
                    insert(PreservationRequest)
                    .values(
                        reference=f"PR-2026-{k:06d}",
                        unit_id=unit_id,
                        created_by=user_id,
                        status=status,
                        regime="us-2703f",
                        created_at=now,
                        updated_at=now,
                        expires_at=now + timedelta(days=k - 30),
                        data_categories=[],
                        extensions=[],
                        warnings=[],
                    )
                    .returning(PreservationRequest.id)
                )
            ).scalar_one()
            for n, st in enumerate(("pending", "delivered", "cancelled")):
                await s.execute(
                    insert(Reminder).values(
                        unit_id=unit_id,
                        request_id=rid,
                        kind="expiry" if n == 0 else f"expiry_minus_{n}d",
                        key=f"{rid}:{n}",
                        due_at=now + timedelta(days=k - 30 - n),
                        next_attempt_at=now + timedelta(days=k - 30 - n),
                        status=st,
                        created_at=now,
                    )
                )
    async with db.write() as s:
        await s.execute(text("ANALYZE"))
    return Principal(
        user_id=user_id, user_name="o", unit_id=unit_id, unit_name="alpha", role="officer"
    )


class Captured:
    def __init__(self, db: Any) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.engines = {db.engine.sync_engine, db.read_engine.sync_engine}
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._add)

    def _add(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            self.statements.append((statement, parameters))

    def close(self) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._add)

    def matching(self, needle: str) -> list[tuple[str, Any]]:
        return [(s, p) for s, p in self.statements if needle in s]


async def _plan(db: Any, statement: str, parameters: Any) -> str:
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
            return "\n".join(str(r[-1]) for r in rows)
        await conn.exec_driver_sql("SET enable_seqscan = off")
        # As asyncpg's prepared statements are run after their first five: one plan for any
        # parameters (which cannot use a partial index the condition does not name inline).
        await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        rows = (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).all()
        return "\n".join(str(r[0]) for r in rows)


async def _uses(db: Any, captured: Captured, needle: str, *indexes: str) -> None:
    """The last statement containing `needle` is served by one of `indexes`."""
    found = captured.matching(needle)
    assert found, f"no statement with {needle!r}"
    plan = await _plan(db, *found[-1])
    assert any(i in plan for i in indexes), f"{indexes} not in the plan of\n{found[-1][0]}\n{plan}"


async def test_the_growing_reads_are_served_by_their_indexes(db, settings, clock) -> None:  # type: ignore[no-untyped-def]
    principal = await _fill(db, T0)
    ctx = context(settings, clock)
    captured = Captured(db)
    try:
        page = await listing.list_requests(db, ctx=ctx, principal=principal, limit=5)
        await listing.list_requests(db, ctx=ctx, principal=principal, limit=5, cursor=page.next)
        await _uses(db, captured, "ORDER BY preservation_request.id DESC", "ix_request_unit_id")
        captured.statements.clear()

        await listing.list_requests(db, ctx=ctx, principal=principal, status="draft", limit=5)
        await _uses(
            db, captured, "ORDER BY preservation_request.id DESC", "ix_request_unit_status_id"
        )
        captured.statements.clear()

        first = await listing.list_requests(
            db, ctx=ctx, principal=principal, expiring_within="P60D", limit=3
        )
        await listing.list_requests(
            db, ctx=ctx, principal=principal, expiring_within="P60D", limit=3, cursor=first.next
        )
        # Either partial index of open preservations: neither holds closed or lapsed history.
        await _uses(
            db,
            captured,
            "ORDER BY preservation_request.expires_at",
            "ix_request_unit_open_expiry",
            "ix_request_open_expiry",
        )
        captured.statements.clear()

        async with db.read() as s:
            await next_lapse_at(s, now=T0)
        await _uses(db, captured, "min(preservation_request.expires_at)", "ix_request_open_expiry")
        captured.statements.clear()

        await lapse_due(db, ctx=ctx, limit=1)
        await _uses(db, captured, "preservation_request.expires_at <=", "ix_request_open_expiry")
        captured.statements.clear()

        async with db.read() as s:
            got = await upcoming_page(
                s, now=T0, within=timedelta(days=60), unit_id=principal.unit_id, limit=2
            )
            await upcoming_page(
                s,
                now=T0,
                within=timedelta(days=60),
                unit_id=principal.unit_id,
                limit=2,
                after=got.next_key,
            )
        # By the unit's open reminders, or (PostgreSQL's choice on small tables) from the unit's
        # open preservations: either way bounded by what is open.
        open_ones = ("ix_reminder_unit_open_due", "ix_request_unit_open_expiry")
        await _uses(
            db, captured, "ORDER BY reminder.due_at, reminder.id", "ix_reminder_unit_open_due"
        )
        captured.statements.clear()

        async with db.read() as s:
            await feed.events(s, unit_id=principal.unit_id, now=T0, until=None)
            await feed.validator(s, unit_id=principal.unit_id, now=T0, variant="")
        await _uses(db, captured, "reminder.status IN ('pending', 'sending')", *open_ones)
        await _uses(db, captured, "max(preservation_request.updated_at)", "ix_request_unit_updated")
        await overview(db, unit_id=principal.unit_id, now=T0, window_days=90)
        # Recent lapses by the unit's lapses by expiry, not by every lapse in its history.
        await _uses(db, captured, "status = 'lapsed'", "ix_request_unit_lapsed")
        captured.statements.clear()

        # The dashboard's emergencies: the unit's few, not its drafts and sent requests.
        await open_emergencies(db, unit_id=principal.unit_id)
        await _uses(db, captured, "kind = 'emergency'", "ix_request_unit_emergency")
    finally:
        captured.close()
    assert paging  # (the cursor module is what the list pages with)


async def test_the_list_model_and_the_lapsable_statuses_agree() -> None:
    from preservation.requests.reminder_plan import LAPSABLE
    from preservation.storage.partial import OPEN_REQUEST_STATUSES

    assert tuple(LAPSABLE) == OPEN_REQUEST_STATUSES
    assert select  # imported for the statements above
