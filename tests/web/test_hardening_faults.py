"""Faults over time: the SMTP server down for an hour (the frozen clock walks through the back-off
schedule, with the shortest jitter, while nothing listens; then the server returns) loses and
duplicates nothing with the default retry settings; the clock jumping a week forward delivers
what fell due once, flagged late; the clock jumping back redelivers and re-plans nothing.
(The database outage, the full disk and the oversized body are in test_faults.py.)"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from preservation.dispatch.dispatcher import Dispatcher, retry_policy
from preservation.reminders import delivery as rd
from preservation.requests import reminder_plan as reminders
from preservation.settings import load_settings
from preservation.storage import claims
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder
from tests.conftest import T0
from tests.dispatch_support import POC_COPY, PROVIDER_EMAIL, regimes_for
from tests.dispatch_support import make_request as make_outbox_request
from tests.reminder_support import SmtpSink, context, free_port, make_unit
from tests.reminder_support import make_request as make_sent_request

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def test_default_retry_schedule_outlasts_an_hour_of_smtp_outage() -> None:
    """With the shipped defaults and the shortest jitter (half of each delay), the last attempt
    comes more than an hour after the first: an hour-long outage fails nothing."""
    defaults = load_settings(environ={})
    policy = retry_policy(defaults)
    waited = sum(
        (policy.delay(attempt, 0.0) for attempt in range(1, policy.max_attempts)), timedelta()
    )
    assert waited > HOUR, f"{policy}: all attempts spent within {waited}"
    # And the longest gap between two attempts stays within the cap.
    assert policy.delay(policy.max_attempts, 1.0) <= timedelta(seconds=defaults.retry_max_seconds)


async def _pending_next(db) -> Any:  # type: ignore[no-untyped-def]
    """The earliest next attempt of any pending outbox or reminder row (None when none)."""
    async with db.read() as s:
        found = []
        for model in (OutboxMessage, Reminder):
            rows = (await s.execute(select(model).where(model.status == "pending"))).scalars()
            found += [r.next_attempt_at for r in rows]
    return min(found) if found else None


async def test_smtp_down_for_an_hour_delivers_everything_once(
    db, settings, clock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # The worst case for surviving an outage: every back-off as short as the jitter allows.
    monkeypatch.setattr(claims.random, "random", lambda: 0.0)
    port = free_port()
    defaults = load_settings(environ={})
    tuned = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout_seconds": 5,
            "smtp_from": "dispatch@unit.police.example",
            # The shipped retry policy, whatever the test settings say.
            "max_attempts": defaults.max_attempts,
            "retry_base_seconds": defaults.retry_base_seconds,
            "retry_max_seconds": defaults.retry_max_seconds,
        }
    )
    ctx = context(tuned, clock)
    dispatcher = Dispatcher(
        db=db, settings=tuned, clock=clock, regimes=regimes_for(tuned), wake=lambda: None
    )
    # Two requests waiting to go out (two recipients each), and a sent one whose
    # "no acknowledgement" reminder falls due at the start of the outage.
    made = [
        await make_outbox_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL, POC_COPY))
        for _ in range(2)
    ]
    unit_id, user_id = await make_unit(db, name="gamma", now=T0 - 2 * DAY)
    clock.set(T0 - 2 * DAY)
    sent_id = await make_sent_request(
        db, ctx, unit_id=unit_id, user_id=user_id, regime="us-2703f", sent_at=T0 - 2 * DAY
    )
    clock.set(T0)

    start = clock.now()
    attempts_during_outage = 0
    while clock.now() - start < HOUR:  # nothing listens on the port
        attempts_during_outage += await dispatcher.sweep()
        attempts_during_outage += await rd.deliver_due(db, ctx=ctx)
        nxt = await _pending_next(db)
        assert nxt is not None, "a row failed for good during the outage"
        clock.set(max(nxt, clock.now()))
    assert attempts_during_outage >= 5 * 5  # five rows, retried all along

    async with db.read() as s:
        outbox = list((await s.execute(select(OutboxMessage))).scalars())
        plan = list((await s.execute(select(Reminder))).scalars())
    assert {r.status for r in outbox} == {"pending"}
    assert all(r.attempts < defaults.max_attempts for r in outbox)
    assert "failed" not in {r.status for r in plan}

    with SmtpSink(clock=clock, port=port) as sink:
        for _ in range(10):
            nxt = await _pending_next(db)
            if nxt is None or nxt > clock.now() + HOUR:
                break
            clock.set(max(nxt, clock.now()))
            await dispatcher.sweep()
            await rd.deliver_due(db, ctx=ctx)
        received = list(sink.received)

    async with db.read() as s:
        outbox = list((await s.execute(select(OutboxMessage))).scalars())
        ack = (
            await s.execute(
                select(Reminder).where(
                    Reminder.request_id == sent_id, Reminder.kind == "ack_missing"
                )
            )
        ).scalar_one()
        requests = {r.id: r for r in (await s.execute(select(PreservationRequest))).scalars()}
    assert {r.status for r in outbox} == {"sent"}
    assert ack.status == "delivered" and ack.late is True  # an hour after its due time
    ids = Counter(str(m.message["Message-ID"]) for m in received)
    assert len(ids) == len(outbox) + 1 and set(ids.values()) == {1}, ids
    assert {r.message_id for r in outbox} <= set(ids)
    assert all(requests[m.request_id].status == "sent" for m in made)


# --- clock jumps ------------------------------------------------------------------------------


@pytest.fixture
def sink(clock):  # type: ignore[no-untyped-def]
    with SmtpSink(clock=clock) as s:
        yield s


async def drain(db, ctx) -> int:  # type: ignore[no-untyped-def]
    total = 0
    while (n := await rd.deliver_due(db, ctx=ctx)) > 0:
        total += n
    if await reminders.lapse_due(db, ctx=ctx):
        while (n := await rd.deliver_due(db, ctx=ctx)) > 0:
            total += n
    return total


async def rows_of(db, rid: int) -> dict[str, tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        rows = (await s.execute(select(Reminder).where(Reminder.request_id == rid))).scalars()
        return {
            r.key: (r.kind, r.due_at, r.status, r.attempts, r.delivered_at, r.late) for r in rows
        }


async def test_clock_jumps_forward_then_back(db, settings, clock, sink) -> None:  # type: ignore[no-untyped-def]
    ctx = context(settings, clock, smtp_port=sink.port, smtp_host="127.0.0.1")
    unit_id, user_id = await make_unit(db, now=T0)
    # 18 U.S.C. 2703(f): preserved at T0, expires at T0 + 90 days; reminders 30/14/7/3/1 before.
    rid = await make_sent_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="preserved",
        sent_at=T0,
        preserved_at=T0,
    )
    assert await drain(db, ctx) == 0
    # Forward: from day 58 the clock jumps a week, over the 30-day reminder (day 60).
    clock.set(T0 + 58 * DAY)
    assert await drain(db, ctx) == 0
    clock.advance(days=7)
    assert await drain(db, ctx) == 1
    assert await drain(db, ctx) == 0
    plan = await rows_of(db, rid)
    delivered = {k: v for k, v in plan.items() if v[2] == "delivered"}
    assert [(v[0], v[1], v[5]) for v in delivered.values()] == [
        ("expiry_minus_30d", T0 + 60 * DAY, True)
    ]
    assert [m.kind for m in sink.received] == ["expiry_minus_30d"]
    assert "LATE:" in sink.received[0].body

    # Back: the clock returns to day 50 (an NTP correction, a restored VM snapshot).
    clock.set(T0 + 50 * DAY)
    assert await drain(db, ctx) == 0
    # A replan at the earlier instant (e.g. after an edit) keeps what was delivered.
    async with db.write() as s:
        req = await s.get(PreservationRequest, rid)
        await reminders.replan(s, req, ctx=ctx)
    assert await drain(db, ctx) == 0
    assert await rows_of(db, rid) == plan
    assert len(sink.received) == 1

    # Forward again to the present: nothing repeats; the next reminder (day 76) is not early.
    clock.set(T0 + 65 * DAY)
    assert await drain(db, ctx) == 0
    clock.set(T0 + 76 * DAY - timedelta(seconds=1))
    assert await drain(db, ctx) == 0
    clock.set(T0 + 76 * DAY)
    assert await drain(db, ctx) == 1
    assert [m.kind for m in sink.received] == ["expiry_minus_30d", "expiry_minus_14d"]
    assert Counter(m.key for m in sink.received).most_common(1)[0][1] == 1
    fourteen = [v for v in (await rows_of(db, rid)).values() if v[0] == "expiry_minus_14d"]
    assert fourteen[0][2] == "delivered" and fourteen[0][5] is False


async def test_outbox_after_a_backward_jump_is_sent_once(db, settings, clock) -> None:  # type: ignore[no-untyped-def]
    """A row retried with back-off, then the clock steps back a day: the row waits for its
    (now later) next attempt instead of being lost, and is sent exactly once."""
    with SmtpSink(clock=clock) as sink:
        sink.refuse = True
        tuned = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_timeout_seconds": 5}
        )
        dispatcher = Dispatcher(
            db=db, settings=tuned, clock=clock, regimes=regimes_for(tuned), wake=lambda: None
        )
        made = await make_outbox_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
        assert await dispatcher.sweep() == 1
        sink.refuse = False
        clock.advance(days=-1)
        assert await dispatcher.sweep() == 0
        async with db.read() as s:
            row = await s.get(OutboxMessage, made.outbox_ids[0])
        assert row.status == "pending"
        clock.set(row.next_attempt_at)
        assert await dispatcher.sweep() == 1
        assert await dispatcher.sweep() == 0
        assert len(sink.received) == 1
        async with db.read() as s:
            assert (await s.get(OutboxMessage, made.outbox_ids[0])).status == "sent"
