"""GET /metrics: access by setting, the HTTP series, row gauges from the database, database errors,
the claim loop, deliveries; and the release of held rows at shutdown."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from preservation.domain.clock import FrozenClock
from preservation.errors import SettingsError, Unavailable
from preservation.settings import load_settings
from preservation.storage import claims
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder, Unit, User
from preservation.web.app import create_app
from preservation.web.keys import DB, SCHEDULER
from preservation.web.metrics import METRICS, count_delivery, parse_access
from tests.conftest import assert_problem


def metrics_app(database_url: str, clock: FrozenClock, metrics: str = "on"):  # type: ignore[no-untyped-def]
    settings = load_settings(
        environ={},
        database_url=database_url,
        load_demo=False,
        node_name="test-node",
        metrics=metrics,
    )
    return create_app(settings, clock=clock, migrate=False, scheduler=False)


@pytest.fixture
async def mclient(database_url: str, clock: FrozenClock) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(metrics_app(database_url, clock))) as client:
        yield client


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` of a scrape (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def scrape(client: TestClient) -> str:
    resp = await client.get("/metrics")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return await resp.text()


async def test_http_requests_series_moves_after_a_request(mclient: TestClient) -> None:
    before = await scrape(mclient)
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(before, "http_requests_total", **labels) == 0
    resp = await mclient.get("/healthz")
    # The scheduler is not started in these tests, so health says 503: that is the status counted.
    labels["status"] = str(resp.status)
    after = await scrape(mclient)
    assert value(after, "http_requests_total", **labels) == 1
    assert value(after, "http_request_duration_seconds_count", method="GET", route="/healthz") == 1
    # Unknown paths are one bounded label, not one series per path.
    await mclient.get("/no/such/path/123")
    after = await scrape(mclient)
    assert value(after, "http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert "/no/such/path/123" not in after


async def test_metrics_off_is_a_404_problem(database_url: str, clock: FrozenClock) -> None:
    async with TestClient(TestServer(metrics_app(database_url, clock, "off"))) as client:
        await assert_problem(await client.get("/metrics"), 404)


@pytest.mark.parametrize(
    ("allowed", "status"),
    [
        ("10.1.2.3", 403),
        ("10.1.2.3, 127.0.0.1", 200),
        ("127.0.0.0/8", 200),
        ("::1,10.0.0.0/8", 403),
    ],
)
async def test_metrics_for_listed_addresses_only(
    database_url: str, clock: FrozenClock, allowed: str, status: int
) -> None:
    async with TestClient(TestServer(metrics_app(database_url, clock, allowed))) as client:
        resp = await client.get("/metrics")
        if status == 200:
            assert resp.status == 200
        else:
            await assert_problem(resp, 403)


def test_malformed_metrics_setting_stops_start_up() -> None:
    with pytest.raises(SettingsError, match="PRESERVATION_METRICS"):
        parse_access("127.0.0.1,localhost")
    assert parse_access("off").enabled is False
    assert parse_access("on").allowed is None


async def _unit_and_request(session: Any, clock: FrozenClock) -> tuple[int, int]:
    now = clock.now()
    unit = Unit(name="alpha", created_at=now)
    session.add(unit)
    await session.flush()
    user = User(unit_id=unit.id, name="o", role="officer", created_at=now)
    session.add(user)
    await session.flush()
    req = PreservationRequest(
        reference="PR-2026-000001",
        unit_id=unit.id,
        created_by=user.id,
        status="sent",
        regime="budapest-art29",
        created_at=now,
        updated_at=now,
    )
    session.add(req)
    await session.flush()
    return unit.id, req.id  # type: ignore[return-value]


def _reminder(unit_id: int, request_id: int, key: str, due: Any, now: Any, **kw: Any) -> Reminder:
    return Reminder(
        unit_id=unit_id,
        request_id=request_id,
        kind="expiry",
        key=key,
        due_at=due,
        next_attempt_at=kw.pop("next_attempt_at", due),
        created_at=now,
        **kw,
    )


def _outbox(unit_id: int, request_id: int, created: Any, **kw: Any) -> OutboxMessage:
    return OutboxMessage(
        request_id=request_id,
        unit_id=unit_id,
        role="provider",
        channel="email",
        to="le@example.com",
        created_at=created,
        next_attempt_at=kw.pop("next_attempt_at", created),
        **kw,
    )


async def test_row_gauges_and_oldest_undelivered_age(
    mclient: TestClient, clock: FrozenClock
) -> None:
    db = mclient.server.app[DB]
    now = clock.now()
    h = timedelta(hours=1)
    async with db.write() as session:
        unit_id, req_id = await _unit_and_request(session, clock)
        session.add_all(
            [
                _reminder(unit_id, req_id, "future", now + h, now),
                _reminder(unit_id, req_id, "due", now - 2 * h, now),
                # Retrying: pending with a later next attempt, but due three hours ago.
                _reminder(unit_id, req_id, "retry", now - 3 * h, now, next_attempt_at=now + h),
                _reminder(unit_id, req_id, "gone", now - 9 * h, now, status="delivered", late=True),
                _reminder(unit_id, req_id, "bad", now - 9 * h, now, status="failed"),
                _outbox(unit_id, req_id, now - 10 * timedelta(minutes=1)),
                _outbox(unit_id, req_id, now - 5 * h, status="sent"),
                _outbox(unit_id, req_id, now - 2 * h, status="sending", lease_until=now + h),
            ]
        )
    text = await scrape(mclient)
    assert value(text, "reminder_rows", status="pending") == 2  # the future one and the retry
    assert value(text, "reminder_rows", status="due") == 1
    assert value(text, "reminder_rows", status="delivered") == 1
    assert value(text, "reminder_rows", status="failed") == 1
    assert value(text, "reminder_rows", status="sending") == 0
    assert value(text, "reminder_late_rows") == 1
    assert value(text, "oldest_undelivered_age_seconds", queue="reminder") == 3 * 3600
    assert value(text, "outbox_rows", status="due") == 1
    assert value(text, "outbox_rows", status="sending") == 1
    assert value(text, "outbox_rows", status="sent") == 1
    assert value(text, "outbox_rows", status="failed") == 0
    assert value(text, "oldest_undelivered_age_seconds", queue="outbox") == 2 * 3600
    assert value(text, "requests", status="sent") == 1
    assert value(text, "requests", status="lapsed") == 0
    assert 'requests{status="lapsed"} 0.0' in text
    # Time passes: the same rows, older.
    clock.advance(minutes=30)
    text = await scrape(mclient)
    assert value(text, "oldest_undelivered_age_seconds", queue="reminder") == 3.5 * 3600


async def test_empty_queues_report_zero(mclient: TestClient) -> None:
    text = await scrape(mclient)
    for queue in ("outbox", "reminder"):
        assert f'oldest_undelivered_age_seconds{{queue="{queue}"}} 0.0' in text
    assert 'outbox_rows{status="failed"} 0.0' in text
    assert 'reminder_rows{status="failed"} 0.0' in text


async def test_database_errors_and_claim_loop_are_counted(mclient: TestClient) -> None:
    app = mclient.server.app
    driver_error = sqlite3.OperationalError("database is locked")
    with pytest.raises(Unavailable):
        async with app[DB].write():
            raise OperationalError("SELECT 1", {}, driver_error)
    app[SCHEDULER].on_claim_duration(0.2)  # type: ignore[misc]
    text = await scrape(mclient)
    assert value(text, "database_errors_total") == 1
    assert value(text, "claim_loop_duration_seconds_count") == 1
    assert value(text, "claim_loop_duration_seconds_sum") == pytest.approx(0.2)


async def test_reminder_delivered_series_move(mclient: TestClient, clock: FrozenClock) -> None:
    """A due reminder delivered: the delivered row gauge and the deliveries counter move.

    Whoever delivers: here the claim and completion directly, and count_delivery, the function
    every sweep calls (the sweep itself: the next test)."""
    app = mclient.server.app
    db = app[DB]
    now = clock.now()
    async with db.write() as session:
        unit_id, req_id = await _unit_and_request(session, clock)
        session.add(_reminder(unit_id, req_id, "r1", now - timedelta(minutes=1), now))
    before = await scrape(mclient)
    assert value(before, "reminder_rows", status="due") == 1
    assert value(before, "reminder_rows", status="delivered") == 0
    async with db.write() as session:
        ids = await claims.claim(
            session, Reminder, node="test-node", now=now, lease_seconds=60, limit=10
        )
        assert len(ids) == 1
        await claims.complete(session, Reminder, ids[0], now=now)
    count_delivery(app, "reminder", "delivered")
    after = await scrape(mclient)
    assert value(after, "reminder_rows", status="due") == 0
    assert value(after, "reminder_rows", status="delivered") == 1
    assert value(after, "deliveries_total", kind="reminder", outcome="delivered") == 1
    assert value(after, "oldest_undelivered_age_seconds", queue="reminder") == 0


async def test_registries_are_per_app(database_url: str, clock: FrozenClock) -> None:
    first = metrics_app(database_url, clock)
    second = metrics_app(database_url, clock)
    assert first[METRICS].registry is not second[METRICS].registry
    count_delivery(first, "outbox", "sent")
    assert first[METRICS].deliveries.labels(kind="outbox", outcome="sent")._value.get() == 1
    assert second[METRICS].deliveries.labels(kind="outbox", outcome="sent")._value.get() == 0
    # Off: nothing to count, and no error.
    count_delivery(metrics_app(database_url, clock, "off"), "outbox", "sent")


async def test_shutdown_releases_rows_this_node_holds(
    database_url: str, clock: FrozenClock
) -> None:
    app = metrics_app(database_url, clock)
    now = clock.now()
    async with TestClient(TestServer(app)) as client:
        db = client.server.app[DB]
        async with db.write() as session:
            unit_id, req_id = await _unit_and_request(session, clock)
            session.add_all(
                [_reminder(unit_id, req_id, f"k{i}", now, now) for i in range(3)]
                + [_outbox(unit_id, req_id, now) for _ in range(2)]
            )
        async with db.write() as session:
            mine = await claims.claim(
                session, Reminder, node="test-node", now=now, lease_seconds=600, limit=2
            )
            theirs = await claims.claim(
                session, Reminder, node="other-node", now=now, lease_seconds=600, limit=5
            )
            outbox = await claims.claim(
                session, OutboxMessage, node="test-node", now=now, lease_seconds=600, limit=5
            )
        assert (len(mine), len(theirs), len(outbox)) == (2, 1, 2)
        clock.advance(seconds=5)
    # The app has stopped (cleanup ran): this node's rows are pending and due again at once, the
    # other node's claim is untouched.
    from preservation.storage.db import Database

    check = Database(database_url)
    try:
        async with check.read() as session:
            reminders = {r.id: r for r in (await session.execute(select(Reminder))).scalars()}
            outboxes = list((await session.execute(select(OutboxMessage))).scalars())
    finally:
        await check.dispose()
    for rid in mine:
        row = reminders[rid]
        assert (row.status, row.claimed_by, row.lease_until) == ("pending", None, None)
        assert row.next_attempt_at == clock.now()
        assert row.attempts == 0
    assert reminders[theirs[0]].status == "sending"
    assert reminders[theirs[0]].claimed_by == "other-node"
    assert all(o.status == "pending" and o.claimed_by is None for o in outboxes)


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


async def test_reminder_delivered_by_the_sweep_moves_the_series(
    database_url: str, clock: FrozenClock
) -> None:
    """The reminder sweep (issue 6) delivers a due reminder to an SMTP sink: the delivered rows
    and the deliveries counter move, and the oldest undelivered age drops to 0."""
    sweep = pytest.importorskip(
        "preservation.reminders.delivery",
        reason="the reminder delivery sweep (issue 6) is not in the tree yet",
    )
    from aiosmtpd.controller import Controller

    from preservation.runtime.context import Context
    from tests.e2e.helpers import free_port

    sink = _Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        settings = load_settings(
            environ={},
            database_url=database_url,
            load_demo=False,
            node_name="test-node",
            metrics="on",
            smtp_port=smtp.port,
        )
        app = create_app(settings, clock=clock, migrate=False, scheduler=False)
        async with TestClient(TestServer(app)) as client:
            db = app[DB]
            now = clock.now()
            async with db.write() as session:
                unit_id, req_id = await _unit_and_request(session, clock)
                unit = await session.get(Unit, unit_id)
                unit.alert_emails = ["duty@unit.example"]  # type: ignore[union-attr]
                session.add(
                    Reminder(
                        unit_id=unit_id,
                        kind="metrics_check",
                        key="metrics:1",
                        due_at=now - timedelta(minutes=2),
                        next_attempt_at=now - timedelta(minutes=2),
                        payload={"note": "check"},
                        created_at=now,
                    )
                )
            before = await scrape(client)
            assert value(before, "reminder_rows", status="due") == 1
            assert value(before, "oldest_undelivered_age_seconds", queue="reminder") == 120
            ctx = Context(settings=settings, clock=clock)
            handled = await sweep.deliver_due(
                db, ctx=ctx, metrics=lambda kind, outcome: count_delivery(app, kind, outcome)
            )
            assert handled == 1
            after = await scrape(client)
    finally:
        smtp.stop()
    assert sink.count == 1
    assert value(after, "reminder_rows", status="delivered") == 1
    assert value(after, "reminder_rows", status="due") == 0
    assert value(after, "deliveries_total", kind="reminder", outcome="delivered") == 1
    assert value(after, "oldest_undelivered_age_seconds", queue="reminder") == 0
