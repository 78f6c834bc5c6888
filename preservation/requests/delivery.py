"""What a delivery changes, in the caller's transaction: the outbox row, the request's state
(queued -> sent on the first delivery to the provider or the point of contact), the audit trail,
the reminder plan; and, when a row fails for good, the alert to the unit.

Used by the dispatcher (after a channel answered) and by the portal hand-off action (the officer
records that the request was filed in the provider's portal)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.domain.lifecycle import Action, Status, transition
from preservation.requests import audit
from preservation.requests import reminder_plan as reminders
from preservation.runtime.context import Context
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder

log = logging.getLogger(__name__)

#: Roles whose delivery means the request has gone out (a copy to the point of contact does not).
MAIN_ROLES = frozenset({"provider", "poc"})
ALERT_KIND = "alert_delivery_failed"
SYSTEM_ACTOR = "system:dispatcher"


def alert_key(outbox_id: int) -> str:
    return f"alert:outbox:{outbox_id}"


def recipient_detail(row: OutboxMessage) -> dict[str, Any]:
    return {
        "outbox_id": row.id,
        "role": row.role,
        "channel": row.channel,
        "to": row.to,
        "name": row.recipient_name,
    }


async def lock_request(session: AsyncSession, request_id: int) -> PreservationRequest | None:
    """The request row, locked for this transaction on PostgreSQL (SQLite: the single writer).

    FOR NO KEY UPDATE, not FOR UPDATE: writing a row that references the request (an outbox
    update, an audit event) takes a KEY SHARE lock on it, and two transactions each holding one
    would deadlock upgrading to FOR UPDATE. NO KEY UPDATE still serialises changes of the request
    (it conflicts with itself), which is all that is needed. Lock the request before its rows."""
    return (
        await session.execute(
            select(PreservationRequest)
            .where(PreservationRequest.id == request_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def record_sent(
    session: AsyncSession,
    *,
    ctx: Context,
    req: PreservationRequest,
    row: OutboxMessage,
    actor: str,
    now: datetime,
    sent_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Audit the delivery of `row`; move the request from queued to sent when `row` is its first
    delivery to a main recipient. Returns True when the request changed state."""
    assert req.id is not None
    at = sent_at or now
    await audit.record(
        session,
        request_id=req.id,
        actor=actor,
        action="delivered",
        now=now,
        detail={**recipient_detail(row), "message_id": row.message_id, **(detail or {})},
    )
    if row.role not in MAIN_ROLES or req.status != Status.QUEUED:
        return False
    old = req.status
    req.status = transition(req.status, Action.DISPATCH).value
    req.sent_at = at
    req.updated_at = now
    req.version += 1
    await audit.record(
        session,
        request_id=req.id,
        actor=actor,
        action="sent",
        now=now,
        detail={
            "from": old,
            "to": req.status,
            "sent_at": at.isoformat(),
            **recipient_detail(row),
        },
    )
    await reminders.replan(session, req, ctx=ctx)
    return True


async def record_failed(
    session: AsyncSession,
    *,
    req: PreservationRequest,
    row: OutboxMessage,
    error: str,
    attempts: int,
    now: datetime,
) -> None:
    """The row failed for good: an audit event and an alert for the unit (a reminder row, due now,
    delivered by the reminder sweep; its key makes a second alert for the same row impossible)."""
    assert req.id is not None and row.id is not None
    await audit.record(
        session,
        request_id=req.id,
        actor=SYSTEM_ACTOR,
        action="delivery_failed",
        now=now,
        detail={**recipient_detail(row), "attempts": attempts, "error": error[:500]},
    )
    who = row.recipient_name or row.to
    payload = {
        "reference": req.reference,
        "request_id": req.id,
        "recipient": recipient_detail(row),
        "attempts": attempts,
        "error": error[:500],
        # What the reminder sweep's generic alert prints (reminder_text.compose_generic).
        "subject": f"ALERT: preservation request {req.reference} could not be delivered to {who}",
        "text": (
            f"Preservation request {req.reference} could not be delivered to {who}"
            f" ({row.channel}: {row.to}) after {attempts} attempts.\n"
            f"Last error: {error[:500]}\n\n"
            "The data may be deleted while this request waits: send it by other means now"
            " (the provider's portal, another address, or a call to the 24/7 point of contact),"
            " then record it."
        ),
    }
    values = {
        "unit_id": row.unit_id,
        "request_id": req.id,
        "kind": ALERT_KIND,
        "key": alert_key(row.id),
        "due_at": now,
        "next_attempt_at": now,
        "status": "pending",
        "attempts": 0,
        "late": False,
        "payload": payload,
        "last_error": "",
        "created_at": now,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(Reminder).values(**values).on_conflict_do_nothing(index_elements=["unit_id", "key"])
    )
    log.warning(
        "delivery failed for good",
        extra={"action": "dispatch.failed", "outbox_id": row.id, "request_id": req.id},
    )


async def cancel_unsent(session: AsyncSession, *, request_id: int, now: datetime) -> int:
    """Closing a request: rows not yet delivered are cancelled (a row in flight finishes)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.request_id == request_id,
            OutboxMessage.status.in_(("pending", "handoff")),
        )
        .values(status="cancelled", lease_until=None, last_error="cancelled: request closed")
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len(list(result.scalars()))
