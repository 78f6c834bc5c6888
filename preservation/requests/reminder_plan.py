"""Reminder rows of a request, recomputed in the same transaction as the event that changes the
plan, and the lapse of a request whose preservation expired.

`replan` turns the request's facts into a `deadlines.DeadlinePlan` and writes it: the request's
expires_at / expiry_rule / held_until_decision / next_reminder_at, and one Reminder row per planned
reminder (key "<request id>:<plan key>", unique per unit). Rows no longer in the plan are cancelled
while they are pending (or in flight); delivered and failed rows are history and never touched.

`lapse_due` is a sweep: a request whose expiry has passed without an extension or (under a regime
that holds the data until decision) an MLA request becomes `lapsed`, with an audit event and an
alert to the unit and its supervisors. Several nodes may run it at once: the status change is an
`UPDATE ... WHERE id = :id AND status = :old`, so exactly one of them makes it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.domain import deadlines as dl
from preservation.domain.lifecycle import Action, Status, transition
from preservation.domain.regimes import Regime, get_regime
from preservation.requests import audit
from preservation.runtime.context import Context
from preservation.settings import load_regimes
from preservation.storage.models import PreservationRequest, Reminder
from preservation.storage.partial import status_in

log = logging.getLogger(__name__)

#: Kinds of rows that are not part of a request's plan: alerts and reports. Never cancelled by
#: a replan.
ALERT_LAPSED = "alert_lapsed"
DIGEST = "digest"
STALENESS = "staleness_report"

#: Statuses a request can lapse from (mla_sent only where the regime keeps the clock running:
#: under a holding regime the plan has no expiry, so expires_at is NULL and the query skips it).
LAPSABLE = (
    Status.SENT.value,
    Status.PRESERVED.value,
    Status.EXTENSION_REQUESTED.value,
    Status.MLA_SENT.value,
)
#: Statuses whose planned reminders are deadlines to list: those that can lapse, and queued (an
#: emergency's follow-ups count from its submission, before anything is delivered).
WITH_DEADLINES = (*LAPSABLE, Status.QUEUED.value)
#: Rows a replan may still cancel: not yet delivered.
OPEN = ("pending", "sending")


def is_plan_kind(kind: str) -> bool:
    """True for the kinds `deadlines.plan_deadlines` produces."""
    return kind in (
        dl.EXPIRY,
        dl.ACK_MISSING,
        dl.EXTENSION_LEAD,
        dl.MLA_FOLLOWUP,
        dl.EMERGENCY_FOLLOWUP,
    ) or (kind.startswith("expiry_minus_") and kind.endswith("d"))


def _family(kind: str) -> str:
    if kind == dl.ACK_MISSING:
        return "ack"
    if kind == dl.MLA_FOLLOWUP:
        return "mla"
    if kind == dl.EMERGENCY_FOLLOWUP:
        return "emergency"
    return "expiry"


def row_key(request_id: int, plan_key: str) -> str:
    return f"{request_id}:{plan_key}"


@lru_cache(maxsize=4)
def _regimes_from(path: Path) -> dict[str, Regime]:
    return load_regimes(path)


def regimes_of(ctx: Context) -> dict[str, Regime]:
    return ctx.regimes or _regimes_from(ctx.settings.regimes_path)


def policy_of(row: Any) -> dl.ProviderPolicy | None:
    """A directory provider row's own preservation policy (None for no row)."""
    if row is None:
        return None
    return dl.ProviderPolicy(
        slug=row.slug,
        preservation_days=row.preservation_days,
        extension_days=row.extension_days,
        max_extensions=row.max_extensions,
        extension_lead_days=row.extension_lead_days,
    )


async def provider_policy(session: AsyncSession, slug: str | None) -> dl.ProviderPolicy | None:
    """The provider's own policy from the directory, or None (unknown provider, or none named)."""
    if not slug:
        return None
    from providers.models import Provider

    return policy_of(await session.get(Provider, slug))


def events_of(request: PreservationRequest) -> dl.RequestEvents:
    return dl.RequestEvents(
        status=Status(request.status),
        sent_at=request.sent_at,
        preserved_at=request.preserved_at,
        extensions=tuple(dl.Extension.from_json(e) for e in (request.extensions or [])),
        mla_sent_at=request.mla_sent_at,
        mla_received_at=request.mla_received_at,
        closed_at=request.closed_at,
        received_at=getattr(request, "received_at", None),
        notes=tuple((request.date_notes or {}).values()),
        submitted_at=request.submitted_at,
    )


def input_of(
    request: PreservationRequest, *, ctx: Context, policy: dl.ProviderPolicy | None
) -> dl.DeadlineInput:
    """The pure planner's input for `request` and its provider's `policy` (pure)."""
    return dl.DeadlineInput(
        regime=get_regime(regimes_of(ctx), request.regime),
        provider=policy,
        events=events_of(request),
        settings=dl.DeadlineSettings.from_settings(ctx.settings),
        requested_country=request.country or (request.route or {}).get("country"),
    )


async def deadline_input(
    session: AsyncSession, request: PreservationRequest, *, ctx: Context
) -> dl.DeadlineInput:
    """The pure planner's input for `request`: its events, regime, provider policy, settings."""
    return input_of(request, ctx=ctx, policy=await provider_policy(session, request.provider))


def apply_plan(request: PreservationRequest, plan: dl.DeadlinePlan) -> None:
    request.expires_at = plan.expires_at
    request.expiry_rule = plan.expiry_rule
    request.held_until_decision = plan.held_until_decision


def plan_new(
    request: PreservationRequest, *, ctx: Context, policy: dl.ProviderPolicy | None, now: datetime
) -> list[dl.PlannedReminder]:
    """`replan` for a request that has no reminder rows yet (being created), without reading
    any: sets its deadline fields and returns the reminders to write (`new_rows`). Pure."""
    plan = dl.plan_deadlines(input_of(request, ctx=ctx, policy=policy))
    apply_plan(request, plan)
    kept = _kept(plan, now)
    request.next_reminder_at = min(r.due_at for r in kept) if kept else None
    return kept


def new_rows(
    *, unit_id: int, request_id: int, planned: Iterable[dl.PlannedReminder], now: datetime
) -> list[dict[str, Any]]:
    """Column values of the reminder rows of `planned` (for a plain INSERT)."""
    return [
        {
            "unit_id": unit_id,
            "request_id": request_id,
            "kind": r.kind,
            "key": row_key(request_id, r.key),
            "due_at": r.due_at,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": r.due_at,
            "claimed_by": None,
            "lease_until": None,
            "late": False,
            "payload": None,
            "last_error": "",
            "created_at": now,
            "delivered_at": None,
        }
        for r in planned
    ]


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def insert_reminders(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> int:
    """Insert reminder rows, skipping any whose (unit_id, key) exists: the once-only guarantee.
    Each row needs unit_id, kind, key, due_at; returns how many were new."""
    values = []
    for row in rows:
        due = row["due_at"]
        values.append(
            {
                "request_id": None,
                "payload": None,
                "status": "pending",
                "attempts": 0,
                "late": False,
                "last_error": "",
                "next_attempt_at": due,
                **row,
            }
        )
    if not values:
        return 0
    stmt = (
        _insert(session)(Reminder)
        .on_conflict_do_nothing(index_elements=["unit_id", "key"])
        .returning(Reminder.id)
    )
    inserted = 0
    for value in values:  # one statement per row: RETURNING with many rows differs by engine
        result = await session.execute(stmt.values(**value))
        inserted += len(result.scalars().all())
    return inserted


def _kept(plan: dl.DeadlinePlan, now: datetime) -> list[dl.PlannedReminder]:
    """The planned reminders worth a row now: every future one and, of those already past, only
    the latest of each family (a plan rebuilt late, e.g. an acknowledgement giving an old
    preservation date, tells the unit the current state once instead of replaying the past)."""
    latest_past: dict[str, dl.PlannedReminder] = {}
    kept: list[dl.PlannedReminder] = []
    for r in plan.reminders:
        if r.due_at >= now:
            kept.append(r)
        else:
            fam = _family(r.kind)
            if fam not in latest_past or r.due_at >= latest_past[fam].due_at:
                latest_past[fam] = r
    return sorted([*latest_past.values(), *kept], key=lambda r: (r.due_at, r.kind))


async def replan(
    session: AsyncSession, request: PreservationRequest, *, ctx: Context
) -> dl.DeadlinePlan:
    """Recompute expires_at, expiry_rule, held_until_decision, next_reminder_at and the request's
    reminder rows, in the caller's transaction (the request must have an id: flushed).

    Planned rows missing are inserted (next_attempt_at = due_at); pending or in-flight rows no
    longer planned are cancelled; a cancelled row planned again is revived; delivered and failed
    rows are left alone. A closed or lapsed request has no plan: all its open rows are cancelled.
    Alerts and reports attached to the request are not part of the plan and are not touched."""
    if request.id is None:
        await session.flush()
    now = ctx.clock.now()
    plan = dl.plan_deadlines(await deadline_input(session, request, ctx=ctx))
    apply_plan(request, plan)

    existing = {
        row.key: row
        for row in (
            await session.execute(select(Reminder).where(Reminder.request_id == request.id))
        ).scalars()
        if is_plan_kind(row.kind)
    }
    wanted = {row_key(request.id, r.key): r for r in _kept(plan, now)}

    cancel = [row.id for key, row in existing.items() if key not in wanted and row.status in OPEN]
    if cancel:
        await session.execute(
            update(Reminder)
            .where(Reminder.id.in_(cancel), Reminder.status.in_(OPEN))
            .values(status="cancelled", lease_until=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
    revive = [
        row.id for key, row in existing.items() if key in wanted and row.status == "cancelled"
    ]
    if revive:
        await session.execute(
            update(Reminder)
            .where(Reminder.id.in_(revive), Reminder.status == "cancelled")
            .values(
                status="pending",
                next_attempt_at=Reminder.due_at,
                attempts=0,
                last_error="",
                claimed_by=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
    await insert_reminders(
        session,
        (
            {
                "unit_id": request.unit_id,
                "request_id": request.id,
                "kind": r.kind,
                "key": key,
                "due_at": r.due_at,
                "created_at": now,
            }
            for key, r in wanted.items()
            if key not in existing
        ),
    )
    delivered = {key for key, row in existing.items() if row.status in ("delivered", "failed")}
    # Expire the ORM copies so a later read in this transaction sees the statuses just written.
    for row in existing.values():
        session.expire(row)
    upcoming = [r.due_at for key, r in wanted.items() if key not in delivered]
    request.next_reminder_at = min(upcoming) if upcoming else None
    await session.flush()
    log.debug(
        "replanned",
        extra={
            "action": "reminders.replan",
            "request_id": request.id,
            "planned": len(wanted),
            "cancelled": len(cancel),
        },
    )
    return plan


# --- lapse --------------------------------------------------------------------------------------


async def lapse_request(
    session: AsyncSession, request: PreservationRequest, *, ctx: Context, actor: str = "system"
) -> bool:
    """Lapse `request` if its preservation has expired (recomputed now, not trusted from the
    stored expires_at). Returns False when it has not expired or another node got there first.
    In the caller's transaction: status, audit event, plan (every open reminder cancelled), and
    an alert row to the unit and its supervisors."""
    now = ctx.clock.now()
    old = request.status
    if old not in LAPSABLE:
        return False
    plan = dl.plan_deadlines(await deadline_input(session, request, ctx=ctx))
    if not dl.is_lapsed(plan, now):
        if plan.expires_at != request.expires_at:
            await replan(session, request, ctx=ctx)  # a stale expires_at: set it right
        return False
    new = transition(old, Action.LAPSE)
    result = await session.execute(
        update(PreservationRequest)
        .where(PreservationRequest.id == request.id, PreservationRequest.status == old)
        .values(status=new.value, updated_at=now, version=PreservationRequest.version + 1)
        .returning(PreservationRequest.id)
        .execution_options(synchronize_session=False)
    )
    if not result.scalars().all():
        return False
    await session.refresh(request)
    await audit.record(
        session,
        request_id=request.id,
        actor=actor,
        action="lapse",
        now=now,
        detail={
            "from": old,
            "expires_at": plan.expires_at.isoformat() if plan.expires_at else None,
            "expiry_rule": plan.expiry_rule,
        },
    )
    await replan(session, request, ctx=ctx)
    await insert_reminders(
        session,
        [
            {
                "unit_id": request.unit_id,
                "request_id": request.id,
                "kind": ALERT_LAPSED,
                "key": row_key(request.id, ALERT_LAPSED),
                "due_at": now,
                "created_at": now,
                "payload": {
                    "from": old,
                    "expires_at": plan.expires_at.isoformat() if plan.expires_at else None,
                },
            }
        ],
    )
    log.info(
        "request lapsed",
        extra={"action": "request.lapsed", "request_id": request.id, "from": old},
    )
    return True


async def lapse_due(db: Any, *, ctx: Context, limit: int = 100) -> int:
    """Sweep: lapse every request whose expiry has passed; returns how many lapsed. Wakes the
    scheduler when it made alerts due. Candidates are locked with SKIP LOCKED on PostgreSQL so
    nodes share the work; the conditional UPDATE in `lapse_request` is the guarantee."""
    now = ctx.clock.now()
    lapsed = 0
    async with db.write() as session:
        rows = (
            (
                await session.execute(
                    select(PreservationRequest)
                    .where(
                        PreservationRequest.expires_at <= now,
                        # Inline values: the partial index of open preservations serves it, so
                        # the sweep reads only what can lapse now, not the expired history.
                        status_in(PreservationRequest.status, LAPSABLE),
                    )
                    .order_by(PreservationRequest.expires_at, PreservationRequest.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for request in rows:
            if await lapse_request(session, request, ctx=ctx):
                lapsed += 1
    if lapsed:
        ctx.wake()
    return lapsed


async def next_lapse_at(session: AsyncSession, *, now: datetime) -> datetime | None:
    """The soonest expiry after `now` among the preservations that can lapse (the partial index
    of open preservations by expiry): when the lapse sweep next has work."""
    return (
        await session.execute(
            select(func.min(PreservationRequest.expires_at)).where(
                status_in(PreservationRequest.status, LAPSABLE),
                PreservationRequest.expires_at > now,
            )
        )
    ).scalar()
