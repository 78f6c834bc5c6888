"""Reminder rows of a request, recomputed in the same transaction as the event that changes the
plan. (The deadlines session fills this in: see issue 6.)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import PreservationRequest
from .context import Context


async def replan(session: AsyncSession, request: PreservationRequest, *, ctx: Context) -> None:
    """Recompute expires_at, expiry_rule, next_reminder_at and the request's reminder rows."""
    return None
