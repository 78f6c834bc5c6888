"""Three `preservation serve` processes on one PostgreSQL database deliver 1,000 reminders that
fall due over a few seconds to an SMTP sink; one process is killed with SIGKILL halfway. Every
reminder arrives, none twice except those in flight on the killed node (counted and reported),
all within 30 s of their due time."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from preservation.storage.db import Database
from preservation.storage.models import PreservationRequest, Reminder, Unit, User
from tests.e2e.helpers import Server, clean_env
from tests.reminder_support import SmtpSink

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
PG_URL = os.environ.get("PRESERVATION_TEST_POSTGRES", "")
N = 1000
SPREAD_SECONDS = 4.0
WITHIN_SECONDS = 30.0


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_database():  # type: ignore[no-untyped-def]
    if not PG_URL:
        pytest.skip("needs PRESERVATION_TEST_POSTGRES")
    name = f"pd_multinode_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _insert(db: Database, start: datetime) -> dict[str, datetime]:
    """N requests, each with one reminder falling due between start and start + SPREAD."""
    now = datetime.now(UTC)
    due: dict[str, datetime] = {}
    async with db.write() as s:
        unit = Unit(name="multinode", timezone="Europe/Berlin", created_at=now)
        unit.alert_emails = ["duty@multinode.example"]
        s.add(unit)
        await s.flush()
        user = User(unit_id=unit.id, name="officer", role="officer", created_at=now)
        s.add(user)
        await s.flush()
        requests = [
            PreservationRequest(
                reference=f"PR-2026-{i + 1:06d}",
                unit_id=unit.id,
                created_by=user.id,
                status="preserved",
                regime="us-2703f",
                created_at=now,
                updated_at=now,
                sent_at=now - timedelta(days=89),
                preserved_at=now - timedelta(days=89),
                expires_at=now + timedelta(days=1),
            )
            for i in range(N)
        ]
        s.add_all(requests)
        await s.flush()
        for i, req in enumerate(requests):
            at = start + timedelta(seconds=SPREAD_SECONDS * i / N)
            key = f"{req.id}:expiry_minus_1d:{at:%Y%m%dT%H%M%S%fZ}"
            s.add(
                Reminder(
                    unit_id=unit.id,
                    request_id=req.id,
                    kind="expiry_minus_1d",
                    key=key,
                    due_at=at,
                    next_attempt_at=at,
                    created_at=now,
                )
            )
            due[f"reminder:{unit.id}:{key}"] = at
    return due


async def test_three_nodes_one_killed_every_reminder_arrives(pg_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    arrivals: dict[str, list[float]] = {}
    with SmtpSink() as sink:
        env = clean_env(
            PRESERVATION_DATABASE_URL=pg_database,
            PRESERVATION_SMTP_HOST="127.0.0.1",
            PRESERVATION_SMTP_PORT=str(sink.port),
            PRESERVATION_LEASE_SECONDS="5",
            PRESERVATION_CLAIM_INTERVAL_SECONDS="0.5",
            PRESERVATION_LOAD_DEMO="false",
            PRESERVATION_LOG_LEVEL="WARNING",
        )
        servers = []
        try:
            # The first node migrates the fresh database; the others start on it.
            for i in range(3):
                server = Server(env={**env, "PRESERVATION_NODE_NAME": f"node-{i}"}, cwd=tmp_path)
                await asyncio.to_thread(server.start)
                servers.append(server)
            db = Database(pg_database)
            try:
                start = datetime.now(UTC) + timedelta(seconds=2)
                due = await _insert(db, start)
                # Halfway: kill the node that holds rows in flight at that moment.
                assert await asyncio.to_thread(sink.wait_for, N // 2, 60), "no delivery"
                async with db.read() as s:
                    holders = Counter(
                        (
                            await s.execute(
                                select(Reminder.claimed_by).where(Reminder.status == "sending")
                            )
                        ).scalars()
                    )
                victim_name = holders.most_common(1)[0][0] if holders else "node-0"
                victim = servers[int(victim_name.rsplit("-", 1)[1])]
                victim.kill()
                killed_at = time.time()
                async with db.read() as s:
                    in_flight = set(
                        (
                            await s.execute(
                                select(Reminder.key).where(
                                    Reminder.status == "sending",
                                    Reminder.claimed_by == victim_name,
                                )
                            )
                        ).scalars()
                    )
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    async with db.read() as s:
                        delivered = (
                            await s.execute(
                                select(func.count()).where(Reminder.status == "delivered")
                            )
                        ).scalar_one()
                    if delivered == N:
                        break
                    await asyncio.sleep(0.2)
                async with db.read() as s:
                    statuses = Counter((await s.execute(select(Reminder.status))).scalars())
                    by_node = Counter(
                        (
                            await s.execute(
                                select(Reminder.claimed_by).where(Reminder.status == "delivered")
                            )
                        ).scalars()
                    )
            finally:
                await db.dispose()
        finally:
            for server in servers:
                if server.proc is not None and server.proc.poll() is None:
                    await asyncio.to_thread(server.stop)
        for msg in sink.received:
            arrivals.setdefault(msg.key, []).append(msg.arrived)

    assert statuses == Counter({"delivered": N}), statuses
    assert set(arrivals) == set(due), "every reminder reached the sink"
    repeats = {k: len(v) - 1 for k, v in arrivals.items() if len(v) > 1}
    unit_prefix = next(iter(due)).rsplit(":", 3)[0]
    in_flight_keys = {f"{unit_prefix}:{k}" for k in in_flight}
    assert set(repeats) <= in_flight_keys, "only rows in flight on the killed node came twice"
    late = {
        k: min(v) - due[k].timestamp()
        for k, v in arrivals.items()
        if min(v) - due[k].timestamp() > WITHIN_SECONDS
    }
    assert not late, f"{len(late)} reminders arrived more than {WITHIN_SECONDS}s after due"
    early = [k for k, v in arrivals.items() if min(v) < due[k].timestamp() - 0.5]
    assert not early, f"{len(early)} reminders arrived before they were due"
    worst = max(max(v) - due[k].timestamp() for k, v in arrivals.items())
    report = (
        f"\nmultinode: {N} reminders, 3 nodes, {victim_name} killed with SIGKILL after"
        f" {N // 2} arrivals ({killed_at - start.timestamp():.1f}s after the first was due);"
        f" in flight on it: {len(in_flight)};"
        f" delivered twice: {len(repeats)} (all among those in flight);"
        f" worst delay after due: {worst:.1f}s; delivered by node: {dict(by_node)}"
    )
    print(report)
