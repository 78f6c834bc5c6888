"""The scheduler wakes at the next due instant (a timer for the soonest row of any sweep, the
interval as the fallback), and CPU-heavy work runs in worker threads, bounded."""

from __future__ import annotations

import asyncio
import gc
import threading
from datetime import timedelta

import pytest

from preservation.runtime import offload as offload_module
from preservation.runtime.offload import gc_paused, offload
from preservation.runtime.scheduler import Scheduler


async def _nothing() -> int:
    return 0


async def test_a_timer_is_set_for_the_soonest_due_row() -> None:
    sched = Scheduler(interval_seconds=5)
    woken: list[bool] = []
    sched.wake = lambda: woken.append(True)  # type: ignore[method-assign]

    async def in_two() -> timedelta | None:
        return timedelta(seconds=2)

    async def in_half() -> timedelta | None:
        return timedelta(milliseconds=500)

    async def none() -> timedelta | None:
        return None

    sched.add_sweep("a", _nothing, next_due=in_two)
    sched.add_sweep("b", _nothing, next_due=in_half)
    sched.add_sweep("c", _nothing, next_due=none)
    loop = asyncio.get_running_loop()
    await sched.arm()
    assert sched.timer_at is not None
    assert sched.timer_at - loop.time() == pytest.approx(0.5, abs=0.05)
    sched._fire()  # what the loop does at that instant
    assert woken == [True] and sched.timer_at is None


async def test_no_timer_beyond_the_interval_or_when_nothing_is_due() -> None:
    sched = Scheduler(interval_seconds=5)

    async def later() -> timedelta | None:
        return timedelta(seconds=30)

    sched.add_sweep("a", _nothing, next_due=later)
    await sched.arm()
    assert sched.timer_at is None  # the interval comes first


async def test_a_failing_next_due_does_not_stop_the_others(caplog) -> None:  # type: ignore[no-untyped-def]
    sched = Scheduler(interval_seconds=5)

    async def broken() -> timedelta | None:
        raise RuntimeError("database down")

    async def soon() -> timedelta | None:
        return timedelta(seconds=1)

    sched.add_sweep("a", _nothing, next_due=broken)
    sched.add_sweep("b", _nothing, next_due=soon)
    assert await sched.next_due_seconds() == pytest.approx(1.0)
    assert any(getattr(r, "action", "") == "scheduler.next_due_failed" for r in caplog.records)


async def test_a_claim_pass_arms_the_timer_after_it() -> None:
    sched = Scheduler(interval_seconds=5)
    calls: list[str] = []

    async def sweep() -> int:
        calls.append("sweep")
        return 0

    async def due() -> timedelta | None:
        calls.append("next_due")
        return timedelta(seconds=1)

    sched.add_sweep("a", sweep, next_due=due)
    await sched._claim()
    assert calls == ["sweep", "next_due"] and sched.timer_at is not None
    await sched.stop(grace_seconds=0)
    assert sched.timer_at is None


async def test_offload_runs_in_a_worker_thread_bounded() -> None:
    names: list[str] = []
    running = 0
    most = 0
    lock = threading.Lock()
    gate = threading.Event()

    def work() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(5)
        with lock:
            running -= 1
        names.append(threading.current_thread().name)
        return "done"

    tasks = [asyncio.create_task(offload(work)) for _ in range(offload_module.LIMIT + 3)]
    for _ in range(50):  # the loop keeps running while they work
        await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == ["done"] * (offload_module.LIMIT + 3)
    assert most <= offload_module.LIMIT
    assert all(n.startswith("preservation-cpu") for n in names)


async def test_bulk_jobs_hold_off_the_collector_and_restore_it() -> None:
    seen: list[bool] = []
    assert gc.isenabled()
    await offload(lambda: seen.append(gc.isenabled()), bulk=True)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


async def test_a_pdf_letter_renders_in_the_worker_process(
    client, tokens, clock, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]

    from preservation.requests import view
    from preservation.web.keys import DB
    from tests.conftest import auth
    from tests.reminder_support import context, make_request, unit_and_user

    db = client.server.app[DB]
    unit_id, user_id = await unit_and_user(db, "alpha")
    rid = await make_request(
        db,
        context(settings, clock),
        unit_id=unit_id,
        user_id=user_id,
        status="sent",
        sent_at=clock.now(),
    )
    rendered: list[str] = []
    real = view.in_process

    async def spy(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        rendered.append(kwargs["fmt"])
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(view, "in_process", spy)
    for fmt in ("pdf", "text"):
        resp = await client.get(
            f"/api/v1/requests/{rid}/letter",
            params={"format": fmt},
            headers=auth(tokens["officer"]),
        )
        assert resp.status in (200, 503), await resp.text()  # 503: no font on this host
        if fmt == "pdf" and resp.status == 200:
            assert (await resp.read()).startswith(b"%PDF")
    assert rendered == ["pdf"]  # the text letter is cheap: on the loop


def _raises(kind: str) -> None:
    from preservation.errors import InvalidInput, Unavailable

    if kind == "invalid":
        raise InvalidInput("query.lang", "no letter template in 'xx'")
    raise Unavailable("the PDF letter needs the font DejaVuSans.ttf")


async def test_the_worker_process_is_another_process_and_its_errors_come_back() -> None:
    import os

    from preservation.errors import InvalidInput, Unavailable
    from preservation.runtime.offload import in_process

    assert await in_process(os.getpid) != os.getpid()
    with pytest.raises(InvalidInput) as invalid:
        await in_process(_raises, "invalid")
    assert invalid.value.errors[0].field == "query.lang" and invalid.value.status == 422
    with pytest.raises(Unavailable, match="DejaVuSans"):
        await in_process(_raises, "unavailable")
