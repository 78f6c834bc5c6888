"""Rows for the dispatch and action tests: a request in any state with its outbox rows, made
directly in the database (the creation path is tested elsewhere), and SMTP sinks on loopback."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from preservation.access.auth import ensure_user
from preservation.requests import audit
from preservation.settings import Settings, load_regimes
from preservation.storage.models import (
    AuditEvent,
    OutboxMessage,
    PreservationRequest,
    RequestIdentifier,
    Unit,
)

#: (role, channel, to, name)
PROVIDER_EMAIL = ("provider", "email", "lawenforcement@provider.example", "Example Mail Inc.")
POC_COPY = ("copy", "email", "247@poc.example", "National 24/7 Point of Contact")
PORTAL = ("provider", "portal", "https://portal.provider.example/le", "Example Portal Inc.")

_counter = iter(range(1, 10**6))


@dataclass(frozen=True, kw_only=True)
class Made:
    request_id: int
    reference: str
    unit_id: int
    outbox_ids: list[int]


async def make_request(
    db: Any,
    *,
    now: datetime,
    status: str = "queued",
    recipients: tuple[tuple[str, str, str, str], ...] = (PROVIDER_EMAIL, POC_COPY),
    unit: str = "alpha",
    user: str = "officer-a",
    regime: str = "us-2703f",
    urgent: bool = True,
    webhook_secret: str = "",
    created_days_ago: int = 10,
    **fields: Any,
) -> Made:
    """A request in `status` with one identifier, a create event, and outbox rows (pending, or
    handoff for portal rows) when it has been submitted."""
    async with db.write() as s:
        unit_row, user_row = await ensure_user(s, unit=unit, user=user, role="officer", now=now)
        unit_row.authority = "Cybercrime Unit"
        unit_row.email = "unit@police.example"
        unit_row.phone = "+4930123456"
        unit_row.timezone = "Europe/Berlin"
        if webhook_secret:
            unit_row.webhook_secret = webhook_secret
        n = next(_counter)
        created = now - timedelta(days=created_days_ago)
        submitted = status != "draft"
        req = PreservationRequest(
            reference=f"PR-2026-{900000 + n:06d}",
            unit_id=unit_row.id,
            created_by=user_row.id,
            status=status,
            case_reference="CY-2026-0042",
            offence="Fraud",
            summary="Phishing campaign against bank customers.",
            relevance="The account received the stolen credentials.",
            regime=regime,
            country="US",
            data_categories=["subscriber", "traffic"],
            urgent=urgent,
            urgency_reason="The account may be deleted tonight." if urgent else "",
            created_at=created,
            updated_at=created,
            submitted_at=created if submitted else None,
            route={
                "channel": recipients[0][1] if recipients else "poc",
                "to": recipients[0][2] if recipients else "",
                "copy_to": [],
                "why": "test route",
                "recipients": [
                    {"role": r, "channel": c, "to": t, "name": nm} for r, c, t, nm in recipients
                ],
            },
            checklist={"complete": True, "missing": [], "items": []},
            **fields,
        )
        s.add(req)
        await s.flush()
        s.add(
            RequestIdentifier(
                request_id=req.id,
                position=0,
                type="email",
                value="suspect@example.com",
                normalized="suspect@example.com",
            )
        )
        await audit.record(
            s, request_id=req.id, actor="officer-a@alpha", action="create", now=created
        )
        rows = []
        if submitted:
            for role, channel, to, name in recipients:
                row = OutboxMessage(
                    request_id=req.id,
                    unit_id=unit_row.id,
                    role=role,
                    channel=channel,
                    to=to,
                    recipient_name=name,
                    status="handoff" if channel == "portal" else "pending",
                    next_attempt_at=now,
                    created_at=now,
                )
                s.add(row)
                rows.append(row)
        await s.flush()
        return Made(
            request_id=req.id,
            reference=req.reference,
            unit_id=unit_row.id,
            outbox_ids=[r.id for r in rows],
        )


async def load(db: Any, model: Any, row_id: int) -> Any:
    async with db.read() as s:
        return await s.get(model, row_id)


async def actions_of(db: Any, request_id: int) -> list[str]:
    async with db.read() as s:
        return [e.action for e in await audit.events_of(s, request_id)]


async def event_count(db: Any, request_id: int) -> int:
    async with db.read() as s:
        return (
            await s.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.request_id == request_id)
            )
        ).scalar_one()


async def unit_of(db: Any, unit_id: int) -> Unit:
    async with db.read() as s:
        return await s.get(Unit, unit_id)


def regimes_for(settings: Settings) -> dict[str, Any]:
    return load_regimes(settings.regimes_path)


# --- SMTP sinks ----------------------------------------------------------------------------------


@dataclass
class Sink:
    """An aiosmtpd handler: records every DATA it receives, then answers with the next planned
    reply (default 250). `stall` holds each DATA until released (for the restart test)."""

    replies: list[str] = field(default_factory=list)
    received: list[EmailMessage] = field(default_factory=list)
    accepted: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    stall: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        import asyncio

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(message)  # type: ignore[arg-type]
            reply = self.replies.pop(0) if self.replies else "250 OK"
        # A threading.Event: the test thread releases it; this loop runs in aiosmtpd's thread.
        while self.stall is not None and not self.stall.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if reply.startswith("250"):
            with self.lock:
                self.accepted.append(message)  # type: ignore[arg-type]
                self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return reply


def start_sink(sink: Sink, port: int) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller
