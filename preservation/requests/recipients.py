"""A submitted request's recipients as the officer follows them: each outbox row with its
delivery state, its legal instrument and, for a portal, the hand-off task with its letter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.storage.models import OutboxMessage


class HandoffPublic(BaseModel):
    #: Open this portal and file the letter there, then record it (POST .../submitted).
    portal_url: str
    provider: str
    #: The letter's text, to paste into the portal's form.
    text: str


class RecipientDetail(BaseModel):
    #: The id to use in POST /api/v1/requests/{id}/recipients/{recipient_id}/submitted.
    id: int
    role: str
    channel: str
    to: str
    name: str
    #: pending | sending | sent | failed | handoff | cancelled
    status: str
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str
    message_id: str
    handoff: HandoffPublic | None = None
    #: The legal instrument this recipient's letter rests on: {"key", "citation", "why"}.
    instrument: dict[str, Any] | None = None


class RecipientList(BaseModel):
    items: list[RecipientDetail]


async def recipients(
    session: AsyncSession, *, ctx: Context, principal: Principal, request_id: int | str
) -> RecipientList:
    """The delivery state of each recipient, with the hand-off task of each portal recipient."""
    from preservation.requests.letters import letter_text, outbox_recipient
    from preservation.requests.reminder_plan import regimes_of

    req = await load_request(session, principal=principal, request_id=request_id)
    rows = (
        await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.request_id == req.id)
            .order_by(OutboxMessage.id)
        )
    ).scalars()
    items = []
    for row in rows:
        handoff = None
        if row.status == "handoff" and row.channel == "eu-system":
            # An EPOC-PR: the national IT system transmits the certificate (requests/epoc.py).
            text = (
                f"Transmit the EPOC-PR through the national IT system (Regulation (EU) 2023/1543,"
                f" Art. 19(1)): import GET /api/v1/requests/{req.id}/epoc-pr?format=xml or key in"
                f" the PDF, then record it: POST /api/v1/requests/{req.id}/epoc-pr/transmitted."
            )
            handoff = HandoffPublic(portal_url="", provider=row.recipient_name, text=text)
        elif row.status == "handoff":
            # That recipient's own letter (its instrument: the provider's policy, as a rule).
            text = await letter_text(
                session,
                req,
                regimes=regimes_of(ctx),
                now=ctx.clock.now(),
                recipient=outbox_recipient(row),
            )
            handoff = HandoffPublic(portal_url=row.to, provider=row.recipient_name, text=text)
        items.append(
            RecipientDetail(
                id=row.id or 0,
                role=row.role,
                channel=row.channel,
                to=row.to,
                name=row.recipient_name,
                status=row.status,
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at,
                sent_at=row.sent_at,
                last_error=row.last_error,
                message_id=row.message_id,
                handoff=handoff,
                instrument=row.instrument or None,
            )
        )
    return RecipientList(items=items)
