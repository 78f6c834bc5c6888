"""Once-only work in the database: claim due outbox or reminder rows with a lease, then complete,
retry with back-off, or fail them. A node that dies loses its lease and another node takes over.

PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`.
SQLite: the same UPDATE inside BEGIN IMMEDIATE (Database.write), which makes it the only writer;
SQLAlchemy compiles `skip_locked` to nothing there, and the conditional WHERE keeps it correct."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.storage.models import OutboxMessage, Reminder

Claimable = type[OutboxMessage] | type[Reminder]
DONE_STATUS = {OutboxMessage: "sent", Reminder: "delivered"}


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, rand: float) -> timedelta:
        """Exponential back-off with jitter: between half and all of base * 2^(attempt-1), capped."""
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        return timedelta(seconds=ceiling * (0.5 + rand / 2))


def due_condition(model: Claimable, now: datetime):  # type: ignore[no-untyped-def]
    """Pending and due, or claimed by a node whose lease has run out."""
    return or_(
        and_(model.status == "pending", model.next_attempt_at <= now),
        and_(model.status == "sending", model.lease_until < now),
    )


async def claim(
    session: AsyncSession,
    model: Claimable,
    *,
    node: str,
    now: datetime,
    lease_seconds: int,
    limit: int,
) -> list[int]:
    """Claim up to `limit` due rows for `node`; returns their ids (oldest due first)."""
    # Two index-friendly branches rather than one OR, so each uses (status, next_attempt_at) or a scan
    # of the few rows in flight.
    due = (
        select(model.id)
        .where(model.status == "pending", model.next_attempt_at <= now)
        .order_by(model.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.execute(due)).scalars())
    if len(ids) < limit:
        expired = (
            select(model.id)
            .where(model.status == "sending", model.lease_until < now)
            .order_by(model.lease_until)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        )
        ids += list((await session.execute(expired)).scalars())
    if not ids:
        return []
    result = await session.execute(
        update(model)
        .where(model.id.in_(ids), due_condition(model, now))
        .values(
            status="sending",
            claimed_by=node,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=model.attempts + 1,
        )
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


async def complete(
    session: AsyncSession, model: Claimable, row_id: int, *, now: datetime, **values: object
) -> None:
    done_at = {"sent_at": now} if model is OutboxMessage else {"delivered_at": now}
    await session.execute(
        update(model)
        .where(model.id == row_id)
        .values(status=DONE_STATUS[model], lease_until=None, last_error="", **done_at, **values)
        .execution_options(synchronize_session=False)
    )


async def retry_or_fail(
    session: AsyncSession,
    model: Claimable,
    row_id: int,
    *,
    attempts: int,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    rand: float | None = None,
) -> bool:
    """Schedule another attempt with back-off; returns True when the row has now failed for good."""
    error = error[:2000]
    if attempts >= policy.max_attempts:
        await session.execute(
            update(model)
            .where(model.id == row_id)
            .values(status="failed", lease_until=None, last_error=error)
            .execution_options(synchronize_session=False)
        )
        return True
    delay = policy.delay(attempts, random.random() if rand is None else rand)  # noqa: S311 - jitter only
    await session.execute(
        update(model)
        .where(model.id == row_id)
        .values(
            status="pending",
            lease_until=None,
            claimed_by=None,
            next_attempt_at=now + delay,
            last_error=error,
        )
        .execution_options(synchronize_session=False)
    )
    return False


async def release(session: AsyncSession, model: Claimable, *, node: str, now: datetime) -> int:
    """Give back every row this node holds (graceful shutdown): another node may claim them at once."""
    result = await session.execute(
        update(model)
        .where(model.status == "sending", model.claimed_by == node)
        .values(
            status="pending",
            lease_until=None,
            claimed_by=None,
            next_attempt_at=now,
            attempts=model.attempts - 1,
        )
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return len(list(result.scalars()))


async def next_due(session: AsyncSession, model: Claimable, *, now: datetime) -> datetime | None:
    """The soonest instant after `now` at which a row becomes claimable: a pending row's next
    attempt, or a lease running out. Two index look-ups (`status, next_attempt_at`; the few rows
    in flight); the scheduler sets its timer for it."""
    pending = (
        select(func.min(model.next_attempt_at))
        .where(model.status == "pending", model.next_attempt_at > now)
        .scalar_subquery()
    )
    leased = (
        select(func.min(model.lease_until))
        .where(model.status == "sending", model.lease_until > now)
        .scalar_subquery()
    )
    row = (await session.execute(select(pending, leased))).first()
    found = [v for v in (row or ()) if v is not None]
    return min(found) if found else None
