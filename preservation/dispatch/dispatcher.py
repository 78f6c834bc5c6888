"""The outbox sweep: claim due rows with a lease, build each message from the request and its
letter, send it through its channel OUTSIDE any database transaction, then record the result in a
new transaction: sent (and the request queued -> sent on its first main delivery), another attempt
after a back-off, or failed for good with an audit event and an alert to the unit.

Nothing is dropped silently: a row is only ever left "sending" by a node that died, and its lease
runs out so the next claim (on any node, or this one after a restart) takes it again. A receiver
recognises the repeat by the row's stable Message-ID / Idempotency-Key."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.dispatch import email as email_channel
from preservation.dispatch import webhook as webhook_channel
from preservation.dispatch.message import (
    DeliveryError,
    OutgoingMessage,
    idempotency_key_for,
    message_domain,
    message_id_for,
    sender_address,
)
from preservation.domain.clock import Clock
from preservation.domain.lifecycle import Status
from preservation.domain.regimes import Regime
from preservation.requests import delivery, messages, outbox
from preservation.requests.letters import letter_parts, outbox_recipient
from preservation.runtime.context import Context, Runtime
from preservation.settings import Settings, load_regimes
from preservation.storage import claims
from preservation.storage.db import Database
from preservation.storage.models import OutboxMessage, PreservationRequest, Unit

log = logging.getLogger(__name__)
Sender = Callable[[OutgoingMessage, Unit], Awaitable[str]]
LETTER_CACHE_SIZE = 64


def retry_policy(settings: Settings) -> claims.RetryPolicy:
    return claims.RetryPolicy(
        max_attempts=settings.max_attempts,
        base_seconds=settings.retry_base_seconds,
        max_seconds=settings.retry_max_seconds,
    )


class Dispatcher:
    """One per process. `sweep()` is registered with the scheduler; tests call it directly."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Clock,
        regimes: dict[str, Regime],
        wake: Callable[[], None] = lambda: None,
        http: aiohttp.ClientSession | None = None,
        concurrency: int = 10,
        webhook_timeout_seconds: float = webhook_channel.DEFAULT_TIMEOUT_SECONDS,
    ):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.regimes = regimes
        self.wake = wake
        self.http = http
        self.node = settings.node
        self.policy = retry_policy(settings)
        self.concurrency = concurrency
        self.webhook_timeout_seconds = webhook_timeout_seconds
        #: How webhook hosts are resolved at sending (None: the system's resolver).
        self.resolve: webhook_channel.outbound.Resolver | None = None
        self.senders: dict[str, Sender] = {"email": self._email, "webhook": self._webhook}
        # The letter of a request is rendered once per version, not once per recipient and
        # attempt (a PDF takes a good fraction of a second).
        self._letters: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], str, bytes | None]] = (
            OrderedDict()
        )
        #: The e-mail just sent per outbox row, kept on the record with its delivery (record()).
        self._copies: dict[int, OutgoingMessage] = {}
        self._letter_locks: dict[tuple[Any, ...], asyncio.Lock] = {}

    @property
    def ctx(self) -> Context:
        return Context(
            settings=self.settings, clock=self.clock, regimes=self.regimes, wake=self.wake
        )

    async def sweep(self) -> int:
        """Claim the due rows and deliver them; returns how many were handled."""
        async with self.db.write() as session:
            ids = await claims.claim(
                session,
                OutboxMessage,
                node=self.node,
                now=self.clock.now(),
                lease_seconds=self.settings.lease_seconds,
                limit=self.settings.claim_batch_size,
            )
        if not ids:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(outbox_id: int) -> None:
            async with gate:
                try:
                    await self.deliver(outbox_id)
                except Exception:
                    # The lease runs out and the row is claimed again: logged, never lost.
                    log.exception(
                        "delivery crashed",
                        extra={"action": "dispatch.crashed", "outbox_id": outbox_id},
                    )

        await asyncio.gather(*(one(i) for i in ids))
        return len(ids)

    async def deliver(self, outbox_id: int) -> None:
        """Build, send, record one claimed row."""
        async with self.db.read() as session:
            row = await session.get(OutboxMessage, outbox_id)
            if row is None or row.status != "sending" or row.claimed_by != self.node:
                return
            req = await session.get(PreservationRequest, row.request_id)
            unit = await session.get(Unit, row.unit_id)
            assert req is not None and unit is not None
            if row.channel == "portal" or req.status in (Status.CLOSED, Status.LAPSED):
                outcome = "handoff" if row.channel == "portal" else "cancel"
                message = None
            else:
                outcome = "send"
                try:
                    message = await self.build(session, row=row, req=req, unit=unit)
                except Exception as exc:  # noqa: BLE001 - recorded as a failed attempt
                    log.exception("message build failed", extra={"action": "dispatch.build_failed"})
                    message = None
                    outcome = f"error:could not build the message: {type(exc).__name__}: {exc}"
        if outcome == "handoff":
            async with self.db.write() as session:
                await outbox.to_handoff(session, outbox_id)
            return
        if outcome == "cancel":
            async with self.db.write() as session:
                await delivery.cancel_unsent(
                    session, request_id=row.request_id, now=self.clock.now()
                )
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "sending")
                    .values(status="cancelled", lease_until=None, last_error="request closed")
                    .execution_options(synchronize_session=False)
                )
            return
        error: str | None = None
        message_id = ""
        # A message that cannot be built, or a destination the service may not send to, fails
        # at once with an alert: a retry would meet the same wall for hours.
        final = False
        if message is None:
            error = outcome.removeprefix("error:")
            final = True
        else:
            try:
                message_id = await self.senders[row.channel](message, unit)
                if row.channel == "email":
                    self._copies[outbox_id] = message
            except KeyError:
                error = f"unknown channel {row.channel!r}"
            except DeliveryError as exc:
                error = exc.reason
                final = exc.final
            except Exception as exc:  # noqa: BLE001 - any failure is a failed attempt
                log.exception("channel failed", extra={"action": "dispatch.channel_error"})
                error = f"{type(exc).__name__}: {exc}"
        await self.record(outbox_id, error=error, message_id=message_id, final=final)

    async def build(
        self,
        session: AsyncSession,
        *,
        row: OutboxMessage,
        req: PreservationRequest,
        unit: Unit | None = None,
    ) -> OutgoingMessage:
        assert row.id is not None and req.id is not None
        if unit is None:
            unit = await session.get(Unit, req.unit_id)
        context, text, pdf = await self._letter(session, req, row)
        unit_name = (unit.authority or unit.name) if unit is not None else ""
        return OutgoingMessage(
            outbox_id=row.id,
            request_id=req.id,
            reference=req.reference,
            role=row.role,
            channel=row.channel,
            to=row.to,
            recipient_name=row.recipient_name,
            from_name=unit_name,
            reply_to=unit.email if unit is not None else "",
            reply_to_name=unit_name,
            subject=email_channel.subject_for(
                reference=req.reference,
                urgent=req.urgent,
                case_reference=req.case_reference,
                kind=getattr(req, "kind", None) or "preservation",
            ),
            text=text,
            pdf=pdf,
            pdf_filename=f"{req.reference}.pdf",
            document=context,
            message_id=message_id_for(
                outbox_id=row.id,
                reference=req.reference,
                domain=message_domain(self.settings),
            ),
            idempotency_key=idempotency_key_for(outbox_id=row.id, reference=req.reference),
            urgent=req.urgent,
            attempt=row.attempts,
        )

    async def _letter(
        self, session: AsyncSession, req: PreservationRequest, row: OutboxMessage
    ) -> tuple[dict[str, Any], str, bytes | None]:
        """The letter `row`'s recipient gets (each recipient's rests on its own instrument)."""
        assert req.id is not None
        recipient = outbox_recipient(row)
        key = (req.id, req.version, row.role, (row.instrument or {}).get("key"))
        lock = self._letter_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._letters:
                self._letters[key] = await letter_parts(
                    session, req, regimes=self.regimes, now=self.clock.now(), recipient=recipient
                )
                while len(self._letters) > LETTER_CACHE_SIZE:
                    old, _ = self._letters.popitem(last=False)
                    self._letter_locks.pop(old, None)
            self._letters.move_to_end(key)
            return self._letters[key]

    async def _email(self, message: OutgoingMessage, unit: Unit) -> str:
        return await email_channel.send_email(message, settings=self.settings, now=self.clock.now())

    async def _webhook(self, message: OutgoingMessage, unit: Unit) -> str:
        if self.http is None:
            raise DeliveryError("no HTTP client: the dispatcher was started without one")
        return await webhook_channel.send_webhook(
            message,
            http=self.http,
            secret=unit.webhook_secret,
            now=self.clock.now(),
            timeout_seconds=self.webhook_timeout_seconds,
            allowed=self.settings.outbound_allowed,
            resolve=self.resolve,
        )

    async def record(
        self, outbox_id: int, *, error: str | None, message_id: str, final: bool = False
    ) -> None:
        """In a new transaction: complete, or retry with back-off, or fail with an alert (at
        once when `final`)."""
        now = self.clock.now()
        woke = False
        copy = self._copies.pop(outbox_id, None)
        async with self.db.write() as session:
            request_id = (
                await session.execute(
                    select(OutboxMessage.request_id).where(OutboxMessage.id == outbox_id)
                )
            ).scalar_one_or_none()
            if request_id is None:
                return
            # Request first, then its row: the same order as every transition (no deadlock).
            req = await delivery.lock_request(session, request_id)
            row = (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if row is None or req is None:
                return
            if error is None:
                # Sent. Even if our lease ran out meanwhile, the message went: record it unless
                # another node already did.
                if row.status not in ("sending", "pending"):
                    return
                late = row.next_attempt_at is not None and now - row.next_attempt_at > timedelta(
                    seconds=self.settings.lease_seconds
                )
                row.message_id = message_id[:300]
                await claims.complete(
                    session, OutboxMessage, outbox_id, now=now, message_id=message_id[:300]
                )
                if copy is not None:
                    await messages.record_sent(
                        session,
                        row=row,
                        message_id=message_id,
                        sender=sender_address(self.settings),
                        subject=copy.subject,
                        text=copy.text,
                        now=now,
                        body_chars=self.settings.inbound_body_chars,
                    )
                woke = await delivery.record_sent(
                    session,
                    ctx=self.ctx,
                    req=req,
                    row=row,
                    actor=delivery.SYSTEM_ACTOR,
                    now=now,
                    detail={"attempt": row.attempts, **({"late": True} if late else {})},
                )
                log.info(
                    "delivered",
                    extra={"action": "dispatch.sent", "outbox_id": outbox_id, "late": late},
                )
            else:
                if row.status != "sending" or row.claimed_by != self.node:
                    return  # another node holds it now and decides
                failed = await claims.retry_or_fail(
                    session,
                    OutboxMessage,
                    outbox_id,
                    attempts=self.policy.max_attempts if final else row.attempts,
                    error=error,
                    now=now,
                    policy=self.policy,
                )
                if failed:
                    await delivery.record_failed(
                        session, req=req, row=row, error=error, attempts=row.attempts, now=now
                    )
                    woke = True
                else:
                    log.info(
                        "delivery failed, will retry",
                        extra={
                            "action": "dispatch.retry",
                            "outbox_id": outbox_id,
                            "attempt": row.attempts,
                        },
                    )
        if woke:
            self.wake()

    async def next_due(self) -> timedelta | None:
        """How long until the next outbox row may be claimed (a retry, a lease running out)."""
        now = self.clock.now()
        async with self.db.read() as session:
            at = await claims.next_due(session, OutboxMessage, now=now)
        return at - now if at is not None else None

    async def release(self) -> int:
        """Give back the rows this node holds (graceful shutdown)."""
        async with self.db.write() as session:
            return await claims.release(
                session, OutboxMessage, node=self.node, now=self.clock.now()
            )


@asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[Dispatcher]:
    """The outbox sweep, registered with the node's scheduler for as long as the context lasts
    (enter it once the database and the scheduler exist)."""
    settings = runtime.settings
    scheduler = runtime.scheduler
    http = aiohttp.ClientSession()
    dispatcher = Dispatcher(
        db=runtime.db,
        settings=settings,
        clock=runtime.clock,
        regimes=load_regimes(settings.regimes_path),
        wake=scheduler.wake,
        http=http,
    )
    scheduler.add_sweep("outbox", dispatcher.sweep, next_due=dispatcher.next_due)
    # Everything overdue (after downtime, or a killed node's rows once their lease is out) is
    # delivered at start, without waiting for the first interval.
    scheduler.wake()
    try:
        yield dispatcher
    finally:
        # Stop claiming and let a pass in flight finish before the HTTP client closes (the
        # graceful-shutdown context then releases whatever this node still holds).
        await scheduler.stop(grace_seconds=settings.shutdown_timeout_seconds)
        await http.close()
