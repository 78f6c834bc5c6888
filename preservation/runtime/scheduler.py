"""APScheduler only ticks: the claim loop and a few periodic jobs. Job state lives in our tables,
so any number of nodes can share one database.

The claim loop runs when something is due: woken after each commit that made rows due, at the
next due instant (after each pass it asks every sweep when its next row falls due, and sets a
timer for the soonest one), and on the interval as the fallback (a row made due by another node,
or a timer lost). So a reminder is delivered within milliseconds of its instant, not up to an
interval later."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)
Sweep = Callable[[], Awaitable[int]]
#: How long until a sweep's next row falls due (strictly in the future), or None.
NextDue = Callable[[], Awaitable[timedelta | None]]
#: A timer set closer than this is not worth a pass of its own (the pass just run covered it).
MIN_TIMER_SECONDS = 0.005


class Scheduler:
    def __init__(self, *, interval_seconds: float):
        self.interval_seconds = interval_seconds
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._sweeps: list[tuple[str, Sweep]] = []
        self._next_due: list[tuple[str, NextDue]] = []
        self._timer: asyncio.TimerHandle | None = None
        #: When the timer fires (loop time), for tests and logs.
        self.timer_at: float | None = None
        self._dirty = False
        self._running_claim = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self.last_claim_seconds: float = 0.0
        self.on_claim_duration: Callable[[float], None] | None = None

    @property
    def running(self) -> bool:
        return self._aps.running and not self._stopping

    def add_sweep(self, name: str, sweep: Sweep, *, next_due: NextDue | None = None) -> None:
        """A sweep claims and handles due rows, returning how many it handled; `next_due` says
        how long until its next row falls due (the scheduler sets a timer for the soonest)."""
        self._sweeps.append((name, sweep))
        if next_due is not None:
            self._next_due.append((name, next_due))

    def add_job(self, name: str, fn: Callable[[], Awaitable[Any]], trigger: BaseTrigger) -> None:
        self._aps.add_job(
            fn,
            trigger,
            id=name,
            name=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            replace_existing=True,
        )

    def start(self) -> None:
        self._aps.add_job(
            self._claim,
            IntervalTrigger(seconds=self.interval_seconds),
            id="claim",
            name="claim",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        self._aps.start()

    def wake(self) -> None:
        """Ask for a claim pass now (after a commit that made rows due)."""
        self._dirty = True
        if self._aps.running and not self._running_claim and not self._stopping:
            job = self._aps.get_job("claim")
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    async def run_sweeps_once(self) -> int:
        handled = 0
        for name, sweep in self._sweeps:
            if self._stopping:
                break
            try:
                handled += await sweep()
            except Exception:
                log.exception(
                    "sweep failed", extra={"action": "scheduler.sweep_failed", "sweep": name}
                )
        return handled

    async def _claim(self) -> None:
        self._running_claim = True
        self._idle.clear()
        try:
            while not self._stopping:
                self._dirty = False
                started = time.perf_counter()
                handled = await self.run_sweeps_once()
                self.last_claim_seconds = time.perf_counter() - started
                if self.on_claim_duration is not None:
                    self.on_claim_duration(self.last_claim_seconds)
                # Keep going while there is work, or while a wake arrived during the pass.
                if handled == 0 and not self._dirty:
                    break
            if not self._stopping:
                await self.arm()
        finally:
            self._running_claim = False
            self._idle.set()

    async def next_due_seconds(self) -> float | None:
        """Seconds until the soonest row of any sweep falls due (None: nothing is planned)."""
        soonest: float | None = None
        for name, next_due in self._next_due:
            try:
                delay = await next_due()
            except Exception:
                log.exception(
                    "next due instant unknown",
                    extra={"action": "scheduler.next_due_failed", "sweep": name},
                )
                continue
            if delay is not None:
                seconds = delay.total_seconds()
                soonest = seconds if soonest is None else min(soonest, seconds)
        return soonest

    async def arm(self) -> None:
        """Set the timer for the next due instant when it comes before the next interval tick
        (the interval stays the fallback)."""
        seconds = await self.next_due_seconds()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self.timer_at = None
        if seconds is None or seconds >= self.interval_seconds or self._stopping:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(seconds, MIN_TIMER_SECONDS), self._fire)
        self.timer_at = loop.time() + max(seconds, MIN_TIMER_SECONDS)

    def _fire(self) -> None:
        self._timer = self.timer_at = None
        self.wake()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop claiming; let a pass in progress finish (up to the grace period), then shut down."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self.timer_at = None
        try:
            async with asyncio.timeout(grace_seconds):
                await self._idle.wait()
        except TimeoutError:
            log.warning(
                "claim pass still running at shutdown", extra={"action": "scheduler.stop_timeout"}
            )
        if self._aps.running:
            self._aps.shutdown(wait=False)
