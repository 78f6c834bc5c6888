"""Shared by the reminder and deadline tests: an aiosmtpd sink on loopback, and requests made
directly in the database (the request service is exercised by its own tests)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from preservation.access.auth import ensure_user
from preservation.domain.clock import FrozenClock
from preservation.runtime.context import Context
from preservation.settings import Settings, load_regimes
from preservation.storage.models import PreservationRequest, Reminder, Unit, User

REGIMES = load_regimes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    rcpt: list[str]
    message: Message
    #: What the test clock said when the message arrived (None outside frozen-clock tests).
    at: datetime | None
    #: Wall-clock arrival (time.time()), for the real-time tests.
    arrived: float = 0.0

    @property
    def key(self) -> str:
        # A long header is folded in transit (RFC 5322): unfolded, it may keep a leading space.
        return str(self.message["X-Preservation-Idempotency-Key"]).strip()

    @property
    def kind(self) -> str:
        return str(self.message["X-Preservation-Reminder"]).strip()

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode() if isinstance(payload, bytes) else str(payload)


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) that keeps every message."""

    clock: FrozenClock | None = None
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refuse: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if self.refuse:
            return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append(
                Received(
                    rcpt=list(envelope.rcpt_tos),
                    message=msg,
                    at=self.clock.now() if self.clock else None,
                    arrived=time.time(),
                )
            )
            self._lock.notify_all()
        return "250 Message accepted"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until `count` messages have arrived (call through asyncio.to_thread)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.received) >= count, timeout=timeout)

    def keys(self) -> Counter[str]:
        with self._lock:
            return Counter(r.key for r in self.received)

    def of_kind(self, kind: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.kind == kind]


def context(settings: Settings, clock: FrozenClock, **overrides: Any) -> Context:
    if overrides:
        settings = settings.model_copy(update=overrides)
    return Context(settings=settings, clock=clock, regimes=REGIMES)


async def make_unit(
    db: Any,
    *,
    name: str = "alpha",
    now: datetime,
    tz: str = "Europe/Berlin",
    alert_emails: list[str] | None = None,
    supervisor_email: str = "",
    webhook_url: str = "",
    webhook_secret: str = "",
) -> tuple[int, int]:
    async with db.write() as s:
        unit, user = await ensure_user(
            s, unit=name, user=f"officer-{name}", role="officer", now=now
        )
        unit.timezone = tz
        unit.alert_emails = alert_emails if alert_emails is not None else [f"duty@{name}.example"]
        unit.webhook_url = webhook_url
        unit.webhook_secret = webhook_secret
        if supervisor_email:
            _, sup = await ensure_user(s, unit=name, user=f"sup-{name}", role="supervisor", now=now)
            sup.email = supervisor_email
        return unit.id, user.id


_counter = {"n": 0}


async def make_request(
    db: Any,
    ctx: Context,
    *,
    unit_id: int,
    user_id: int,
    regime: str = "us-2703f",
    status: str = "sent",
    sent_at: datetime | None = None,
    preserved_at: datetime | None = None,
    provider: str | None = None,
    reference: str | None = None,
) -> int:
    """A request row as the service leaves it after sending, with its plan written by replan."""
    from preservation.requests.reminder_plan import replan

    _counter["n"] += 1
    now = ctx.clock.now()
    async with db.write() as s:
        req = PreservationRequest(
            reference=reference or f"PR-2026-{_counter['n']:06d}",
            unit_id=unit_id,
            created_by=user_id,
            status=status,
            regime=regime,
            provider=provider,
            case_reference="CY-2026-0042",
            created_at=now,
            updated_at=now,
            sent_at=sent_at,
            preserved_at=preserved_at,
        )
        s.add(req)
        await s.flush()
        await replan(s, req, ctx=ctx)
        return req.id


async def reminder_rows(db: Any, request_id: int | None = None) -> list[Reminder]:
    async with db.read() as s:
        q = select(Reminder).order_by(Reminder.due_at, Reminder.id)
        if request_id is not None:
            q = q.where(Reminder.request_id == request_id)
        return list((await s.execute(q)).scalars())


async def unit_row(db: Any, unit_id: int) -> Unit:
    async with db.read() as s:
        return await s.get(Unit, unit_id)


async def unit_and_user(db: Any, name: str) -> tuple[int, int]:
    """The id of the unit `name` and of one of its users."""
    async with db.read() as s:
        unit_id = (await s.execute(select(Unit.id).where(Unit.name == name))).scalar_one()
        user_id = (
            await s.execute(select(User.id).where(User.unit_id == unit_id).limit(1))
        ).scalar_one()
    return unit_id, user_id
