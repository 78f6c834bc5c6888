"""Claims with leases, retries and release; the audit chain and its verification. Both engines."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from preservation.access.auth import ensure_user
from preservation.requests import audit
from preservation.storage import claims
from preservation.storage.models import AuditEvent, PreservationRequest, Reminder
from tests.conftest import T0


async def _request(db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db.write() as s:
        unit, user = await ensure_user(s, unit="alpha", user="u", role="officer", now=T0)
        req = PreservationRequest(
            reference="PR-2026-000001",
            unit_id=unit.id,
            created_by=user.id,
            status="draft",
            regime="budapest-art29",
            created_at=T0,
            updated_at=T0,
        )
        s.add(req)
        await s.flush()
        return unit.id, req.id


async def _reminders(db, unit_id: int, n: int, due=T0):  # type: ignore[no-untyped-def]
    async with db.write() as s:
        for i in range(n):
            s.add(
                Reminder(
                    unit_id=unit_id,
                    kind="test",
                    key=f"k{i}",
                    due_at=due,
                    next_attempt_at=due,
                    created_at=T0,
                )
            )


async def test_claim_is_once_only_and_lease_expiry_hands_over(db) -> None:  # type: ignore[no-untyped-def]
    unit_id, _ = await _request(db)
    await _reminders(db, unit_id, 10)
    await _reminders_future(db, unit_id)
    async with db.write() as s:
        a = await claims.claim(s, Reminder, node="a", now=T0, lease_seconds=60, limit=6)
    async with db.write() as s:
        b = await claims.claim(s, Reminder, node="b", now=T0, lease_seconds=60, limit=100)
    assert len(a) == 6 and len(b) == 4 and not set(a) & set(b)
    async with db.write() as s:
        assert (
            await claims.claim(
                s, Reminder, node="c", now=T0 + timedelta(seconds=59), lease_seconds=60, limit=100
            )
            == []
        )
    # Node a dies: after its lease runs out node c takes its rows, and only those.
    async with db.write() as s:
        for rid in b:
            await claims.complete(s, Reminder, rid, now=T0)
    async with db.write() as s:
        c = await claims.claim(
            s, Reminder, node="c", now=T0 + timedelta(seconds=61), lease_seconds=60, limit=100
        )
    assert sorted(c) == sorted(a)
    async with db.read() as s:
        rows = (await s.execute(select(Reminder).where(Reminder.id.in_(a)))).scalars().all()
    assert {r.attempts for r in rows} == {2} and {r.claimed_by for r in rows} == {"c"}


async def _reminders_future(db, unit_id: int) -> None:  # type: ignore[no-untyped-def]
    async with db.write() as s:
        s.add(
            Reminder(
                unit_id=unit_id,
                kind="test",
                key="future",
                due_at=T0 + timedelta(days=1),
                next_attempt_at=T0 + timedelta(days=1),
                created_at=T0,
            )
        )


async def test_concurrent_claims_never_overlap(db) -> None:  # type: ignore[no-untyped-def]
    unit_id, _ = await _request(db)
    await _reminders(db, unit_id, 60)

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while True:
            async with db.write() as s:
                ids = await claims.claim(s, Reminder, node=name, now=T0, lease_seconds=60, limit=7)
            if not ids:
                return got
            got += ids

    results = await asyncio.gather(*(worker(f"n{i}") for i in range(4)))
    flat = [i for r in results for i in r]
    assert len(flat) == 60 and len(set(flat)) == 60


async def test_retry_backoff_then_fail(db) -> None:  # type: ignore[no-untyped-def]
    unit_id, _ = await _request(db)
    await _reminders(db, unit_id, 1)
    policy = claims.RetryPolicy(max_attempts=3, base_seconds=10, max_seconds=100)
    now = T0
    for attempt in (1, 2):
        async with db.write() as s:
            (rid,) = await claims.claim(s, Reminder, node="a", now=now, lease_seconds=60, limit=5)
            failed = await claims.retry_or_fail(
                s,
                Reminder,
                rid,
                attempts=attempt,
                error="smtp refused",
                now=now,
                policy=policy,
                rand=1.0,
            )
        assert failed is False
        async with db.write() as s:
            assert (
                await claims.claim(s, Reminder, node="a", now=now, lease_seconds=60, limit=5) == []
            )
        now += timedelta(seconds=10 * 2 ** (attempt - 1))
    async with db.write() as s:
        (rid,) = await claims.claim(s, Reminder, node="a", now=now, lease_seconds=60, limit=5)
        assert await claims.retry_or_fail(
            s, Reminder, rid, attempts=3, error="x", now=now, policy=policy
        )
    async with db.read() as s:
        row = await s.get(Reminder, rid)
    assert row.status == "failed" and row.last_error == "x"


async def test_release_gives_rows_back(db) -> None:  # type: ignore[no-untyped-def]
    unit_id, _ = await _request(db)
    await _reminders(db, unit_id, 3)
    async with db.write() as s:
        await claims.claim(s, Reminder, node="a", now=T0, lease_seconds=600, limit=5)
    async with db.write() as s:
        assert await claims.release(s, Reminder, node="a", now=T0) == 3
    async with db.write() as s:
        assert (
            len(await claims.claim(s, Reminder, node="b", now=T0, lease_seconds=600, limit=5)) == 3
        )


def test_backoff_is_bounded_and_grows() -> None:
    policy = claims.RetryPolicy(max_attempts=10, base_seconds=30, max_seconds=3600)
    assert policy.delay(1, 1.0) == timedelta(seconds=30)
    assert policy.delay(1, 0.0) == timedelta(seconds=15)
    assert policy.delay(4, 1.0) == timedelta(seconds=240)
    assert policy.delay(20, 1.0) == timedelta(seconds=3600)


async def test_audit_chain_verifies_and_tampering_is_found(db) -> None:  # type: ignore[no-untyped-def]
    _, rid = await _request(db)
    async with db.write() as s:
        for i, action in enumerate(["created", "submitted", "sent"]):
            await audit.record(
                s,
                request_id=rid,
                actor="u@alpha",
                action=action,
                now=T0 + timedelta(minutes=i),
                detail={"n": i, "token": "never stored"},
            )
    async with db.read() as s:
        events = await audit.events_of(s, rid)
        assert audit.verify_chain(events) is None
        assert all("token" not in (e.detail or {}) for e in events)
        assert await audit.verify_all(s) == (1, [])
    async with db.write() as s:
        await s.execute(
            update(AuditEvent)
            .where(AuditEvent.request_id == rid, AuditEvent.seq == 2)
            .values(detail={"n": 99})
        )
    async with db.read() as s:
        checked, broken = await audit.verify_all(s)
    assert checked == 1 and [(b.seq, b.reason) for b in broken] == [
        (2, "content does not match its hash")
    ]
