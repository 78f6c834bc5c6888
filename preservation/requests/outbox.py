"""The outbox as the use cases see it. Portal hand-off: a provider that only takes requests
through its own law-enforcement portal.

Nothing is sent. The outbox row waits in status "handoff": a task for the officer with the portal
URL and the letter's text. When the officer has filed it, POST
/api/v1/requests/{id}/recipients/{recipient_id}/submitted records it (requests.actions), which marks
the row sent and moves the request from queued to sent like any first delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.storage.models import OutboxMessage

HANDOFF = "handoff"


@dataclass(frozen=True, kw_only=True)
class HandoffTask:
    outbox_id: int
    reference: str
    portal_url: str
    provider: str
    #: The letter's text, to paste into the portal's form.
    text: str


def task_for(row: OutboxMessage, *, reference: str, text: str) -> HandoffTask:
    return HandoffTask(
        outbox_id=row.id or 0,
        reference=reference,
        portal_url=row.to,
        provider=row.recipient_name,
        text=text,
    )


async def to_handoff(session: AsyncSession, row_id: int) -> None:
    """A portal row that reached the dispatcher as "pending" becomes a hand-off task instead of
    being sent (the caller's transaction)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(status=HANDOFF, lease_until=None, claimed_by=None, last_error="")
        .execution_options(synchronize_session=False)
    )


def mark_submitted(row: OutboxMessage, *, now: datetime, portal_reference: str = "") -> None:
    """The officer filed the request in the portal (the caller's transaction)."""
    row.status = "sent"
    row.sent_at = now
    row.lease_until = None
    row.claimed_by = None
    if portal_reference:
        row.message_id = portal_reference[:300]
