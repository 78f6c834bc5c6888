"""Reminder rows written and recomputed with the plan, delivered once by the sweep to a real SMTP
server, late ones flagged, lapses alerted; digests and the staleness report made once. Both
engines."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, update

from preservation.dispatch.webhook import verify
from preservation.reminders import delivery as rd
from preservation.reminders import mail as reminder_mail
from preservation.reminders import periodic
from preservation.requests import reminder_plan as reminders
from preservation.storage.db import Database
from preservation.storage.models import AuditEvent, PreservationRequest, Reminder, Unit
from tests.conftest import T0
from tests.reminder_support import (
    SmtpSink,
    context,
    make_request,
    make_unit,
    reminder_rows,
)

DAY = timedelta(days=1)


@pytest.fixture
def sink(clock):  # type: ignore[no-untyped-def]
    with SmtpSink(clock=clock) as s:
        yield s


@pytest.fixture
def ctx(settings, clock, sink):  # type: ignore[no-untyped-def]
    return context(settings, clock, smtp_port=sink.port, smtp_host="127.0.0.1")


async def drain(db, ctx) -> int:  # type: ignore[no-untyped-def]
    """What the claim loop does at one instant: deliver, lapse, deliver what the lapse made due."""
    total = 0
    while (n := await rd.deliver_due(db, ctx=ctx)) > 0:
        total += n
    if await reminders.lapse_due(db, ctx=ctx):
        while (n := await rd.deliver_due(db, ctx=ctx)) > 0:
            total += n
    return total


def by_kind(rows: list[Reminder]) -> dict[str, list[Reminder]]:
    out: dict[str, list[Reminder]] = {}
    for r in rows:
        out.setdefault(r.kind, []).append(r)
    return out


# --- replan ---------------------------------------------------------------------------------


async def test_replan_writes_the_plan_and_its_rows(db, ctx) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
    # 18 U.S.C. 2703(f): 90 days, counted from sending while unconfirmed.
    assert req.expires_at == T0 + 90 * DAY
    assert "us-2703f" in req.expiry_rule and req.held_until_decision is False
    rows = await reminder_rows(db, rid)
    kinds = [r.kind for r in rows]
    assert kinds == [
        "ack_missing",
        "expiry_minus_30d",
        "expiry_minus_14d",
        "expiry_minus_7d",
        "expiry_minus_3d",
        "expiry_minus_1d",
        "expiry",
    ]
    assert rows[0].due_at == T0 + timedelta(hours=48)
    for r in rows:
        assert r.status == "pending" and r.next_attempt_at == r.due_at and r.unit_id == unit_id
        assert r.key.startswith(f"{rid}:{r.kind}:") and r.key.endswith("Z")
    assert req.next_reminder_at == T0 + timedelta(hours=48)

    # Replanning with nothing changed writes nothing new.
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        await reminders.replan(s, req, ctx=ctx)
    assert [(r.key, r.status) for r in await reminder_rows(db, rid)] == [
        (r.key, r.status) for r in rows
    ]


async def test_draft_and_queued_have_no_rows(db, ctx) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(db, ctx, unit_id=unit_id, user_id=user_id, status="queued")
    assert await reminder_rows(db, rid) == []
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
    assert req.expires_at is None and req.next_reminder_at is None
    assert "not sent yet" in req.expiry_rule


async def test_ack_extension_mla_recompute_in_the_same_transaction(db, ctx, clock) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    first = {r.key: r for r in await reminder_rows(db, rid)}

    # Acknowledged a day later, preserved on the day of sending: ack_missing goes, expiry stays.
    clock.advance(days=1)
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        req.status, req.preserved_at = "preserved", T0
        await reminders.replan(s, req, ctx=ctx)
    rows = by_kind(await reminder_rows(db, rid))
    assert rows["ack_missing"][0].status == "cancelled"
    assert all(r.status == "pending" for k, v in rows.items() if k != "ack_missing" for r in v)

    # The 30-day reminder goes out; then an extension is asked and granted at day 70.
    clock.set(T0 + 60 * DAY)
    assert await drain(db, ctx) == 1
    clock.set(T0 + 70 * DAY)
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        req.status = "preserved"
        req.extensions = [
            {"requested_at": (T0 + 65 * DAY).isoformat(), "granted_at": (T0 + 70 * DAY).isoformat()}
        ]
        await reminders.replan(s, req, ctx=ctx)
        # Same transaction: the new rows are visible before commit.
        inside = (
            await s.execute(
                select(Reminder.kind, Reminder.status, Reminder.due_at).where(
                    Reminder.request_id == rid
                )
            )
        ).all()
    assert req.expires_at == T0 + 180 * DAY
    new_expiry = [r for r in inside if r.kind == "expiry" and r.status == "pending"]
    assert [r.due_at for r in new_expiry] == [T0 + 180 * DAY]
    rows = await reminder_rows(db, rid)
    delivered = [r for r in rows if r.status == "delivered"]
    assert [r.key for r in delivered] == [
        k for k in first if k.split(":")[1] == "expiry_minus_30d"
    ], "a delivered row is history: never touched"
    old_open = [
        r for r in rows if r.key in first and r.kind != "ack_missing" and r.status != "delivered"
    ]
    assert old_open and {r.status for r in old_open} == {"cancelled"}
    pending = [r for r in rows if r.status == "pending"]
    assert {r.kind for r in pending} == {
        "expiry_minus_30d",
        "expiry_minus_14d",
        "expiry_minus_7d",
        "expiry_minus_3d",
        "expiry_minus_1d",
        "expiry",
    }
    assert min(r.due_at for r in pending) == T0 + 150 * DAY

    # A rolled-back change leaves the rows as they were.
    before = [(r.key, r.status) for r in await reminder_rows(db, rid)]
    with pytest.raises(RuntimeError):
        async with db.write() as s:
            req = await s.get(PreservationRequest, rid)
            req.status, req.closed_at = "closed", clock.now()
            await reminders.replan(s, req, ctx=ctx)
            raise RuntimeError("abort")
    assert [(r.key, r.status) for r in await reminder_rows(db, rid)] == before


async def test_mla_under_a_holding_regime_replaces_expiry_with_followups(db, ctx, clock) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="budapest-art29",
        status="preserved",
        sent_at=T0,
        preserved_at=T0,
    )
    clock.set(T0 + 20 * DAY)
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        req.status, req.mla_sent_at = "mla_sent", clock.now()
        await reminders.replan(s, req, ctx=ctx)
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
    # Art. 29(7): sending the MLA request changes nothing until its receipt is confirmed.
    assert req.expires_at == T0 + 60 * DAY and req.held_until_decision is False
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        req.mla_received_at = clock.now()
        await reminders.replan(s, req, ctx=ctx)
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
    assert req.expires_at is None and req.held_until_decision is True
    rows = by_kind(await reminder_rows(db, rid))
    assert {r.status for r in rows["expiry"]} == {"cancelled"}
    follow = rows["mla_followup"]
    assert len(follow) == 12 and follow[0].due_at == T0 + 50 * DAY
    assert all(r.status == "pending" for r in follow)
    assert req.next_reminder_at == T0 + 50 * DAY

    # Closed: every open row is cancelled; nothing is due any more.
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        req.status, req.closed_at = "closed", clock.now()
        await reminders.replan(s, req, ctx=ctx)
    rows = await reminder_rows(db, rid)
    assert {r.status for r in rows} == {"cancelled"}
    clock.set(T0 + 400 * DAY)
    assert await drain(db, ctx) == 0


async def test_plan_rebuilt_late_sends_only_the_latest_past_reminder(db, ctx, clock) -> None:  # type: ignore[no-untyped-def]
    """An acknowledgement recorded late with an old preservation date does not replay the past."""
    unit_id, user_id = await make_unit(db, now=T0)
    clock.set(T0 + 75 * DAY)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="preserved",
        sent_at=T0,
        preserved_at=T0,
    )
    rows = await reminder_rows(db, rid)
    # At day 75 only the 30-day reminder (day 60) is past: kept, as the latest past one.
    assert [r.kind for r in rows] == [
        "expiry_minus_30d",
        "expiry_minus_14d",
        "expiry_minus_7d",
        "expiry_minus_3d",
        "expiry_minus_1d",
        "expiry",
    ]
    assert rows[0].due_at == T0 + 60 * DAY
    clock.set(T0 + 90 * DAY - timedelta(hours=1))
    async with db.write() as s:  # a later replan does not bring back what was skipped
        req = await s.get(PreservationRequest, rid)
        await reminders.replan(s, req, ctx=ctx)
    assert len(await reminder_rows(db, rid)) == 6


async def test_provider_policy_shortens_the_expiry(db, ctx) -> None:  # type: ignore[no-untyped-def]
    from providers.models import Provider

    async with db.write() as s:
        await s.run_sync(lambda sync: Provider.__table__.create(sync.connection(), checkfirst=True))
        s.add(Provider(slug="shortco", name="Short Co", preservation_days=30))
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="preserved",
        sent_at=T0,
        preserved_at=T0,
        provider="shortco",
    )
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
    assert req.expires_at == T0 + 30 * DAY
    assert "the earlier applies: provider shortco" in req.expiry_rule


# --- delivery ---------------------------------------------------------------------------------


async def test_day_by_day_each_reminder_arrives_once_never_early(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    """A Budapest Art. 29 request over its life: sent, no acknowledgement for two days,
    acknowledged (preserved a day after sending), no MLA request, lapses. The clock moves day by
    day; within a day the loop wakes at each due instant, as the claim loop's poll does."""
    unit_id, user_id = await make_unit(db, now=T0, supervisor_email="boss@alpha.example")
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="budapest-art29", sent_at=T0
    )

    async def next_instant() -> datetime | None:
        async with db.read() as s:
            a = (
                await s.execute(
                    select(func.min(Reminder.next_attempt_at)).where(Reminder.status == "pending")
                )
            ).scalar()
            b = (
                await s.execute(
                    select(func.min(PreservationRequest.expires_at)).where(
                        PreservationRequest.status.in_(reminders.LAPSABLE)
                    )
                )
            ).scalar()
        found = [x.replace(tzinfo=UTC) if x.tzinfo is None else x for x in (a, b) if x]
        return min(found) if found else None

    end = T0 + 70 * DAY
    day = 0
    while clock.now() < end:
        day_end = T0 + (day + 1) * DAY
        while (at := await next_instant()) is not None and at <= day_end:
            clock.set(max(at, clock.now()))
            await drain(db, ctx)
        clock.set(day_end)
        await drain(db, ctx)
        day += 1
        if day == 3:  # acknowledged on day 3: the provider preserved on day 1
            async with db.write() as s:
                req = await s.get(PreservationRequest, rid)
                req.status, req.preserved_at = "preserved", T0 + DAY
                await reminders.replan(s, req, ctx=ctx)

    rows = {r.key: r for r in await reminder_rows(db)}
    delivered = [r for r in rows.values() if r.status == "delivered"]
    assert [(r.kind, r.due_at) for r in delivered] == [
        ("ack_missing", T0 + 2 * DAY),
        ("expiry_minus_30d", T0 + 31 * DAY),
        ("expiry_minus_14d", T0 + 47 * DAY),
        ("expiry_minus_7d", T0 + 54 * DAY),
        ("expiry_minus_3d", T0 + 58 * DAY),
        ("expiry_minus_1d", T0 + 60 * DAY),
        ("expiry", T0 + 61 * DAY),
        ("alert_lapsed", T0 + 61 * DAY),
    ]
    counts = sink.keys()
    assert set(counts.values()) == {1}, counts
    assert len(counts) == len(delivered)
    for msg in sink.received:
        row = rows[msg.key.split(":", 2)[2]]
        assert msg.at >= row.due_at, f"{row.kind} arrived early"
        assert row.delivered_at == msg.at and row.late is False
        assert sorted(msg.rcpt) == ["boss@alpha.example", "duty@alpha.example"]
        assert msg.message["Message-ID"].startswith(f"<reminder-{unit_id}.{rid}.")
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
        events = (
            await s.execute(select(AuditEvent.action).where(AuditEvent.request_id == rid))
        ).scalars()
        assert list(events) == ["lapse"]
    assert req.status == "lapsed" and req.next_reminder_at is None
    # The texts: zone and UTC, what to do, reference and link.
    one_day = sink.of_kind("expiry_minus_1d")[0]
    assert "2027-01-20 13:00 CET (UTC+01:00), 2027-01-20 12:00 UTC" in one_day.body
    assert "send the formal MLA request" in one_day.body
    assert f"/requests/{rid}" in one_day.body and req.reference in one_day.message["Subject"]
    lapsed = sink.of_kind("alert_lapsed")[0]
    assert "LAPSED" in lapsed.message["Subject"] and lapsed.message["Importance"] == "high"


async def test_overdue_at_start_are_delivered_at_once_and_flagged_late(
    db, ctx, clock, sink
) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    # The service was down from day 59 to day 84: three reminders fell due meanwhile.
    clock.set(T0 + 84 * DAY)
    assert await drain(db, ctx) == 4  # ack_missing, 30d, 14d (days 2, 60, 76) ... and 7d (83)
    rows = by_kind(await reminder_rows(db, rid))
    done = [r for v in rows.values() for r in v if r.status == "delivered"]
    assert {r.kind for r in done} == {
        "ack_missing",
        "expiry_minus_30d",
        "expiry_minus_14d",
        "expiry_minus_7d",
    }
    assert all(r.late and r.delivered_at == clock.now() for r in done)
    assert all("LATE:" in m.body for m in sink.received)
    # Delivered within five minutes of its due time: not late.
    clock.set(T0 + 87 * DAY + timedelta(minutes=4))
    assert await drain(db, ctx) == 1
    three = by_kind(await reminder_rows(db, rid))["expiry_minus_3d"][0]
    assert three.status == "delivered" and three.late is False
    assert "LATE:" not in sink.of_kind("expiry_minus_3d")[0].body


async def test_lapse_alerts_the_unit_and_supervisors_once(db, ctx, clock, sink, settings) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0, supervisor_email="boss@alpha.example")
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="mla_sent",
        sent_at=T0,
        preserved_at=T0,
    )
    async with db.write() as s:  # 2703(f): the MLA request does not stop the clock
        req = await s.get(PreservationRequest, rid)
        req.mla_sent_at = T0 + 10 * DAY
        await reminders.replan(s, req, ctx=ctx)
        assert req.expires_at == T0 + 90 * DAY
    clock.set(T0 + 90 * DAY - timedelta(seconds=1))
    assert await reminders.lapse_due(db, ctx=ctx) == 0
    clock.set(T0 + 90 * DAY)
    # Two nodes at once: one of them lapses it.
    other = Database(settings.database_url)
    try:
        results = await asyncio.gather(
            reminders.lapse_due(db, ctx=ctx), reminders.lapse_due(other, ctx=ctx)
        )
    finally:
        await other.dispose()
    assert sorted(results) == [0, 1]
    assert await reminders.lapse_due(db, ctx=ctx) == 0
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
        events = list(
            (await s.execute(select(AuditEvent).where(AuditEvent.request_id == rid))).scalars()
        )
    assert req.status == "lapsed" and req.version == 2
    assert [e.action for e in events] == ["lapse"] and events[0].detail["from"] == "mla_sent"
    rows = by_kind(await reminder_rows(db, rid))
    assert {r.status for r in rows["expiry"]} == {"cancelled"}
    assert [r.key for r in rows["alert_lapsed"]] == [f"{rid}:alert_lapsed"]
    while await rd.deliver_due(db, ctx=ctx):
        pass
    alerts = sink.of_kind("alert_lapsed")
    assert len(alerts) == 1
    assert sorted(alerts[0].rcpt) == ["boss@alpha.example", "duty@alpha.example"]
    assert "without an MLA request or an extension" in alerts[0].body


async def test_retry_with_backoff_then_delivered(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    clock.set(T0 + 2 * DAY)
    sink.refuse = True
    assert await rd.deliver_due(db, ctx=ctx) == 1
    row = by_kind(await reminder_rows(db, rid))["ack_missing"][0]
    assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at > clock.now() and row.claimed_by is None
    assert await rd.deliver_due(db, ctx=ctx) == 0  # backing off
    sink.refuse = False
    clock.set(row.next_attempt_at)
    assert await rd.deliver_due(db, ctx=ctx) == 1
    row = by_kind(await reminder_rows(db, rid))["ack_missing"][0]
    assert row.status == "delivered" and row.attempts == 2 and row.last_error == ""
    assert len(sink.received) == 1


async def test_smtp_down_fails_for_good_after_max_attempts(db, settings, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.reminder_support import free_port

    ctx = context(settings, clock, smtp_port=free_port(), max_attempts=2)
    unit_id, user_id = await make_unit(db, now=T0)
    await make_request(db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0)
    clock.set(T0 + 2 * DAY)
    assert await rd.deliver_due(db, ctx=ctx) == 1
    clock.advance(hours=2)
    assert await rd.deliver_due(db, ctx=ctx) == 1
    rows = [r for r in await reminder_rows(db) if r.kind == "ack_missing"]
    assert rows[0].status == "failed" and rows[0].attempts == 2 and "SMTP" in rows[0].last_error


async def test_lost_lease_is_delivered_by_another_node_with_the_same_message_id(
    db, ctx, clock, sink
) -> None:  # type: ignore[no-untyped-def]
    from preservation.storage import claims

    unit_id, user_id = await make_unit(db, now=T0)
    await make_request(db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0)
    clock.set(T0 + 2 * DAY)
    async with db.write() as s:  # a node claims, then dies
        ids = await claims.claim(
            s, Reminder, node="dead", now=clock.now(), lease_seconds=60, limit=10
        )
    assert len(ids) == 1
    assert await rd.deliver_due(db, ctx=ctx) == 0
    clock.advance(seconds=61)
    assert await rd.deliver_due(db, ctx=ctx) == 1
    assert len(sink.received) == 1 and sink.received[0].key.endswith("Z")
    row = (await reminder_rows(db))[0]
    assert row.status == "delivered" and row.claimed_by == "test-node" and row.attempts == 2


async def test_cancelled_while_in_flight_is_not_revived(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    from preservation.storage import claims

    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    clock.set(T0 + 2 * DAY)
    async with db.write() as s:
        ids = await claims.claim(
            s, Reminder, node="test-node", now=clock.now(), lease_seconds=60, limit=10
        )
    async with db.write() as s:  # acknowledged meanwhile
        req = await s.get(PreservationRequest, rid)
        req.status, req.preserved_at = "preserved", T0
        await reminders.replan(s, req, ctx=ctx)
    jobs_done = 0
    async with db.write() as s:
        jobs_done = await rd._finish(
            s,
            [
                rd.Job(
                    row=(await s.get(Reminder, ids[0])), unit=await s.get(Unit, unit_id), emails=[]
                )
            ],
            ctx=ctx,
            node="test-node",
        )
    assert jobs_done == 1
    row = (await reminder_rows(db, rid))[0]
    assert row.kind == "ack_missing" and row.status == "cancelled"


async def test_webhook_is_signed_and_carries_the_idempotency_key(db, settings, clock, sink) -> None:  # type: ignore[no-untyped-def]
    got: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)

    hook_app = web.Application()
    hook_app.router.add_post("/hook", hook)
    async with TestServer(hook_app, host="127.0.0.1") as server:
        # The receiver is on loopback: the operator allows it (domain/urls.py).
        ctx = context(settings, clock, smtp_port=sink.port, outbound_allowed_hosts="127.0.0.1")
        unit_id, user_id = await make_unit(
            db,
            now=T0,
            webhook_url=str(server.make_url("/hook")),
            webhook_secret="s3cret",
        )
        rid = await make_request(
            db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
        )
        clock.set(T0 + 2 * DAY)
        assert await rd.deliver_due(db, ctx=ctx) == 1
    assert len(got) == 1 and len(sink.received) == 1
    body, headers = got[0]
    assert verify(body, "s3cret", headers["X-Preservation-Signature"])
    data = json.loads(body)
    key = f"reminder:{unit_id}:{rid}:ack_missing:20261122T120000Z"
    assert headers["X-Preservation-Idempotency-Key"] == key == data["idempotency_key"]
    assert headers["Idempotency-Key"] == key
    assert sink.received[0].key == key
    assert data["kind"] == "ack_missing" and data["request"]["id"] == rid
    assert "s3cret" not in body.decode()


async def test_webhook_failure_retries_only_the_webhook(db, settings, clock, sink) -> None:  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    async def hook(request: web.Request) -> web.Response:
        calls["n"] += 1
        return web.Response(status=503 if calls["n"] == 1 else 200)

    hook_app = web.Application()
    hook_app.router.add_post("/hook", hook)
    async with TestServer(hook_app, host="127.0.0.1") as server:
        # The receiver is on loopback: the operator allows it (domain/urls.py).
        ctx = context(settings, clock, smtp_port=sink.port, outbound_allowed_hosts="127.0.0.1")
        unit_id, user_id = await make_unit(
            db, now=T0, webhook_url=str(server.make_url("/hook")), webhook_secret="k"
        )
        await make_request(db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0)
        clock.set(T0 + 2 * DAY)
        assert await rd.deliver_due(db, ctx=ctx) == 1
        row = [r for r in await reminder_rows(db) if r.kind == "ack_missing"][0]
        assert row.status == "pending" and "503" in row.last_error
        clock.set(row.next_attempt_at)
        assert await rd.deliver_due(db, ctx=ctx) == 1
    row = [r for r in await reminder_rows(db) if r.kind == "ack_missing"][0]
    assert row.status == "delivered" and calls["n"] == 2
    assert len(sink.received) == 1, "the e-mail that went through is not sent again"


async def test_unit_without_any_recipient_is_retried_then_failed(db, settings, clock, sink) -> None:  # type: ignore[no-untyped-def]
    ctx = context(settings, clock, smtp_port=sink.port, max_attempts=1)
    unit_id, user_id = await make_unit(db, now=T0, alert_emails=[])
    await make_request(db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0)
    clock.set(T0 + 2 * DAY)
    assert await rd.deliver_due(db, ctx=ctx) == 1
    row = [r for r in await reminder_rows(db) if r.kind == "ack_missing"][0]
    assert row.status == "failed" and "no recipient" in row.last_error


async def test_foreign_alert_rows_are_delivered_from_their_payload(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    unit_id, _ = await make_unit(db, now=T0)
    async with db.write() as s:
        await reminders.insert_reminders(
            s,
            [
                {
                    "unit_id": unit_id,
                    "kind": "alert_delivery_failed",
                    "key": "alert:outbox:7",
                    "due_at": T0,
                    "created_at": T0,
                    "payload": {
                        "subject": "Delivery failed: PR-X",
                        "text": "The provider bounced.",
                    },
                }
            ],
        )
    assert await rd.deliver_due(db, ctx=ctx) == 1
    assert sink.received[0].message["Subject"] == "Delivery failed: PR-X"
    assert "The provider bounced." in sink.received[0].body


# --- periodic ------------------------------------------------------------------------------


async def test_digest_once_per_local_day_at_the_units_hour(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    # Tokyo is UTC+9: 08:00 local is 23:00 UTC the day before.
    unit_id, user_id = await make_unit(db, now=T0, tz="Asia/Tokyo")
    quiet_id, _ = await make_unit(db, name="quiet", now=T0, tz="Asia/Tokyo")
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="preserved",
        sent_at=T0 - 80 * DAY,
        preserved_at=T0 - 80 * DAY,
    )
    unack = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    clock.set(datetime(2026, 11, 20, 22, 59, tzinfo=UTC))  # 07:59 in Tokyo
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 0
    clock.set(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 2
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 0  # once-only, however many ticks
    async with db.read() as s:
        digests = list(
            (await s.execute(select(Reminder).where(Reminder.kind == "digest"))).scalars()
        )
    assert {d.key for d in digests} == {"digest:2026-11-21"}
    assert {d.due_at for d in digests} == {clock.now()}
    # Only the digests (the request reminders are not due yet).
    await rd.deliver_due(db, ctx=ctx)
    got = sink.of_kind("digest")
    assert len(got) == 1, "the unit with nothing to report gets no digest"
    body = got[0].body
    async with db.read() as s:
        ref = (await s.get(PreservationRequest, rid)).reference
        ref_unack = (await s.get(PreservationRequest, unack)).reference
        quiet = [r for r in digests if r.unit_id == quiet_id][0]
        quiet = await s.get(Reminder, quiet.id)
    assert ref in body and ref_unack in body and "Expiring within 14 days (1)" in body
    assert "JST (UTC+09:00)" in body
    assert quiet.status == "cancelled" and quiet.last_error == "nothing to report"
    # The next day's digest is a new key.
    clock.advance(days=1)
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 2


async def test_weekly_staleness_report_to_admins(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    from contacts.models import Contact
    from preservation.access.auth import ensure_user
    from providers.models import Provider

    async with db.write() as s:
        for table in (Provider.__table__, Contact.__table__):
            await s.run_sync(lambda sync, t=table: t.create(sync.connection(), checkfirst=True))
        s.add(Provider(slug="oldco", name="Old Co", verified_on=(T0 - 400 * DAY).date()))
        s.add(Provider(slug="newco", name="New Co", verified_on=T0.date()))
        _, admin = await ensure_user(s, unit="directory", user="adm", role="admin", now=T0)
        admin.email = "admin@directory.example"
    monday = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # ISO week 48
    clock.set(monday - timedelta(minutes=1))
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 0
    clock.set(monday + timedelta(hours=3))
    n = await periodic.enqueue_periodic(db, ctx=ctx)
    assert n >= 1
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 0
    while await rd.deliver_due(db, ctx=ctx):
        pass
    reports = sink.of_kind("staleness_report")
    assert len(reports) == 1 and reports[0].rcpt == ["admin@directory.example"]
    assert "Old Co (oldco)" in reports[0].body and "New Co" not in reports[0].body
    async with db.read() as s:
        keys = (
            await s.execute(select(Reminder.key).where(Reminder.kind == "staleness_report"))
        ).scalars()
        assert list(keys) == ["stale:2026-W48"]
    clock.set(monday + 7 * DAY)
    assert await periodic.enqueue_periodic(db, ctx=ctx) >= 1


async def test_digest_key_follows_a_zone_change(db, ctx, clock) -> None:  # type: ignore[no-untyped-def]
    unit_id, _ = await make_unit(db, now=T0, tz="UTC")
    clock.set(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 1
    async with db.write() as s:
        await s.execute(update(Unit).where(Unit.id == unit_id).values(timezone="America/New_York"))
    clock.set(datetime(2026, 11, 20, 13, 0, tzinfo=UTC))  # 08:00 in New York, same local date
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 0
    clock.set(datetime(2026, 11, 21, 13, 0, tzinfo=UTC))
    assert await periodic.enqueue_periodic(db, ctx=ctx) == 1


def test_digest_due_and_staleness_due_are_pure() -> None:
    at = datetime(2026, 3, 29, 6, 30, tzinfo=UTC)  # Berlin switched to CEST at 01:00 UTC
    key, due = periodic.digest_due(at, "Europe/Berlin", 8)
    assert key == "digest:2026-03-29" and due == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert periodic.digest_due(datetime(2026, 3, 29, 5, 59, tzinfo=UTC), "Europe/Berlin", 8) is None
    key, due = periodic.staleness_due(datetime(2026, 1, 1, 9, tzinfo=UTC), 8)  # a Thursday
    assert key == "stale:2026-W01" and due == datetime(2025, 12, 29, 8, tzinfo=UTC)
    assert reminder_mail.message_id(unit_id=3, key="5:expiry:20261201T080000Z", domain="x.org") == (
        "<reminder-3.5.expiry.20261201T080000Z@x.org>"
    )


async def test_non_ascii_text_is_encoded_and_read_back(db, ctx, clock, sink) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(
        db, name="Kriminalpolizei Köln", now=T0, alert_emails=["wache@köln.example"]
    )
    rid = await make_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0
    )
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        req.case_reference = "Ermittlung Müller – 2026/Ω"
        req.expiry_rule = "Regel " + "x" * 1200  # one line longer than SMTP allows
    async with db.write() as s:
        await reminders.insert_reminders(
            s,
            [
                {
                    "unit_id": unit_id,
                    "kind": "alert_delivery_failed",
                    "key": "alert:ü",
                    "due_at": T0,
                    "created_at": T0,
                    "payload": {"subject": "Zustellung fehlgeschlagen: Müller", "text": "Ünïcödé"},
                }
            ],
        )
    clock.set(T0 + 2 * DAY)
    while await rd.deliver_due(db, ctx=ctx):
        pass
    ack = sink.of_kind("ack_missing")[0]
    assert "Ermittlung Müller – 2026/Ω" in ack.body and "x" * 1200 in ack.body
    alert = sink.of_kind("alert_delivery_failed")[0]
    assert str(alert.message["Subject"]) == "Zustellung fehlgeschlagen: Müller"
    assert alert.body.startswith("Ünïcödé\r\n") and "LATE:" in alert.body
    assert alert.message["Message-ID"] == f"<reminder-{unit_id}.alert..@localhost>"
    assert alert.rcpt == ["wache@xn--kln-sna.example"]
