"""Delivery of reminder rows (planned reminders, alerts, digests, staleness reports), and the
periodic jobs that make digests and reports due.

A sweep claims due rows with a lease (claims.claim: FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN
IMMEDIATE on SQLite), composes each message from the current state of its request and unit,
delivers it outside any transaction (e-mail through one SMTP connection per batch, and a signed
webhook where the unit has one), then completes it or schedules a retry with back-off. A node that
dies mid-batch loses its lease and another node delivers: at least once, with a Message-ID and an
X-Preservation-Idempotency-Key derived from the row's key so a recipient can drop a repeat. A row
delivered more than five minutes after its due instant is flagged late (overdue rows are delivered
at start, at once).

The periodic job only inserts rows whose keys are unique per unit ("digest:<local date>",
"stale:<ISO week>") with ON CONFLICT DO NOTHING: however many nodes tick, each is made once."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import and_, or_, select, update

from preservation.dispatch.message import DeliveryError
from preservation.dispatch.webhook import post_json
from preservation.domain import deadlines as dl
from preservation.domain.extension import extension_offer
from preservation.domain.regimes import get_regime
from preservation.reminders import mail, text
from preservation.requests import emergency as emergencies
from preservation.requests import messages
from preservation.requests.documents import documents_of
from preservation.requests.reminder_plan import (
    ALERT_LAPSED,
    DIGEST,
    LAPSABLE,
    STALENESS,
    deadline_input,
    is_plan_kind,
    lapse_due,
    next_lapse_at,
    regimes_of,
)
from preservation.runtime.context import Context, Runtime
from preservation.settings import load_regimes
from preservation.storage import claims
from preservation.storage.models import PreservationRequest, Reminder, Unit, User

log = logging.getLogger(__name__)
DIGEST_DAYS = 14


def _count(metrics: Any, outcome: str) -> None:
    """Count one reminder delivery attempt in the app's metrics (a no-op when they are off)."""
    if metrics is not None:
        metrics("reminder", outcome)


# --- one batch -----------------------------------------------------------------------------


@dataclass(kw_only=True)
class Job:
    row: Reminder
    unit: Unit
    emails: list[str]
    composed: text.Composed | None = None
    #: Channels already done on an earlier attempt (kept in the row's payload).
    done: set[str] = field(default_factory=set)
    error: str = ""
    skip_reason: str = ""


def _dedupe(addresses: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for a in addresses:
        a = mail.ascii_address((a or "").strip())
        if a and a.lower() not in seen:
            seen[a.lower()] = a
    return list(seen.values())


async def _load(session: Any, ids: list[int], *, node: str) -> list[Job]:
    rows = (
        (
            await session.execute(
                select(Reminder).where(
                    Reminder.id.in_(ids), Reminder.status == "sending", Reminder.claimed_by == node
                )
            )
        )
        .scalars()
        .all()
    )
    unit_ids = {r.unit_id for r in rows}
    units = {
        u.id: u
        for u in (await session.execute(select(Unit).where(Unit.id.in_(unit_ids)))).scalars()
    }
    people: dict[tuple[int, str], list[str]] = defaultdict(list)
    for unit_id, role, email in await session.execute(
        select(User.unit_id, User.role, User.email).where(
            User.unit_id.in_(unit_ids),
            User.role.in_(("supervisor", "admin", "directory")),
            User.email != "",
        )
    ):
        people[(unit_id, role)].append(email)
    # An emergency's follow-ups reach the officer who declared it as well.
    officers = await emergencies.declaring_officers(
        session, [r.request_id for r in rows if r.kind == dl.EMERGENCY_FOLLOWUP and r.request_id]
    )
    jobs = []
    for r in sorted(rows, key=lambda r: (r.next_attempt_at, r.id)):
        unit = units[r.unit_id]
        if r.kind == STALENESS:
            # Those who keep the directory: the directory role, and each unit's admin.
            keepers = people[(unit.id, "directory")] + people[(unit.id, "admin")]
            emails = keepers or list(unit.alert_emails or [])
        else:
            emails = list(unit.alert_emails or []) + people[(unit.id, "supervisor")]
            emails += officers.get(r.request_id or 0, [])
        done = set((r.payload or {}).get("_done", []))
        jobs.append(Job(row=r, unit=unit, emails=_dedupe(emails), done=done))
    return jobs


async def _facts(session: Any, requests: dict[int, PreservationRequest], ctx: Context) -> dict:
    facts: dict[int, text.RequestFacts] = {}
    regimes = regimes_of(ctx)
    base = text.public_base(ctx.settings)
    # Which recipient is silent (the "no acknowledgement" reminder names it).
    replies = await messages.replies_by_recipient(session, [r for r in requests if r is not None])
    for rid, req in requests.items():
        extensions_left = 0
        documents: tuple[text.DocumentLink, ...] = ()
        try:
            regime = get_regime(regimes, req.regime)
            inp = await deadline_input(session, req, ctx=ctx)
            plan = dl.plan_deadlines(inp)
            extensions_left = plan.extensions_left
            documents = text.document_links(
                documents_of(req, offer=extension_offer(inp), base=base)
            )
            citation, mla_citation, holds = (
                regime.citation,
                regime.mla_citation,
                regime.holds_until_decision,
            )
        except Exception:  # noqa: BLE001 - an odd row still gets its reminder, with less detail
            log.warning(
                "could not plan for a reminder",
                extra={"action": "reminders.facts_failed", "request_id": rid},
            )
            citation, mla_citation, holds = "", "", bool(req.held_until_decision)
        facts[rid] = text.RequestFacts(
            id=req.id,
            reference=req.reference,
            case_reference=req.case_reference,
            status=req.status,
            regime=req.regime,
            regime_citation=citation,
            mla_citation=mla_citation,
            holds_until_decision=holds,
            provider=req.provider,
            expires_at=req.expires_at,
            expiry_rule=req.expiry_rule,
            sent_at=req.sent_at,
            mla_sent_at=req.mla_sent_at,
            kind=getattr(req, "kind", None) or "preservation",
            submitted_at=req.submitted_at,
            call=tuple(
                f"{c.get('name')}: {c['phone']}"
                for c in (req.route or {}).get("call", [])
                if c.get("phone")
            ),
            callback_phone=str((getattr(req, "emergency", None) or {}).get("callback_phone", "")),
            followup_hours=tuple(ctx.settings.emergency_followup_hours),
            extensions_left=extensions_left,
            silent=tuple(_recipient_line(x) for x in replies.get(rid, []) if not x.answered),
            answered=tuple(_recipient_line(x) for x in replies.get(rid, []) if x.answered),
            base_url=base,
            documents=documents,
        )
    return facts


def _recipient_line(x: messages.RecipientReplies) -> str:
    return f"{x.label} ({x.role}, {x.channel})"


async def _digest_lines(
    session: Any, unit_id: int, now: datetime
) -> tuple[list[text.DigestLine], list[text.DigestLine]]:
    R = PreservationRequest
    expiring = (
        await session.execute(
            select(R.id, R.reference, R.status, R.expires_at, R.sent_at)
            .where(
                R.unit_id == unit_id,
                R.status.in_(LAPSABLE),
                R.expires_at >= now,
                R.expires_at <= now + timedelta(days=DIGEST_DAYS),
            )
            .order_by(R.expires_at)
            .limit(500)
        )
    ).all()
    unack = (
        await session.execute(
            select(R.id, R.reference, R.status, R.expires_at, R.sent_at)
            .where(
                R.unit_id == unit_id,
                or_(
                    and_(R.status == "sent", R.preserved_at.is_(None)),
                    R.status == "extension_requested",
                ),
            )
            .order_by(R.sent_at)
            .limit(500)
        )
    ).all()

    def line(row: Any) -> text.DigestLine:
        return text.DigestLine(
            request_id=row[0], reference=row[1], status=row[2], expires_at=row[3], sent_at=row[4]
        )

    return [line(r) for r in expiring], [line(r) for r in unack]


async def _stale_entries(session: Any, now: datetime, max_age_days: int) -> list[text.StaleEntry]:
    from contacts.models import Contact
    from contacts.validation import is_stale
    from providers.models import Provider, staleness

    today = now.date()
    out = []
    for slug, name, verified, source in await session.execute(
        select(Provider.slug, Provider.name, Provider.verified_on, Provider.source).order_by(
            Provider.slug
        )
    ):
        # By the day it was read, and by the date of the document read (issue 23).
        reason = staleness(verified, source, today=today, max_age_days=max_age_days)
        if reason:
            document = reason.startswith("its document")
            out.append(
                text.StaleEntry(
                    what="provider",
                    name=f"{name} ({slug})" + (f": {reason}" if document else ""),
                    verified_on=verified.isoformat() if verified else None,
                )
            )
    for cid, country, authority, verified in await session.execute(
        select(Contact.id, Contact.country, Contact.authority, Contact.verified_on).order_by(
            Contact.country, Contact.id
        )
    ):
        if is_stale(verified, today, max_age_days):
            out.append(
                text.StaleEntry(
                    what="contact",
                    name=f"{country} {authority} (id {cid})",
                    verified_on=verified.isoformat() if verified else None,
                )
            )
    return out


async def _compose_all(session: Any, jobs: list[Job], ctx: Context, now: datetime) -> None:
    request_ids = {j.row.request_id for j in jobs if j.row.request_id is not None}
    requests = {
        r.id: r
        for r in (
            await session.execute(
                select(PreservationRequest).where(PreservationRequest.id.in_(request_ids))
            )
        ).scalars()
    }
    facts = await _facts(session, requests, ctx)
    stale: list[text.StaleEntry] | None = None
    for job in jobs:
        r, unit = job.row, job.unit
        tz = unit.timezone or "UTC"
        payload = {k: v for k, v in (r.payload or {}).items() if k != "_done"}
        if r.kind == DIGEST:
            expiring, unack = await _digest_lines(session, unit.id, now)
            if not expiring and not unack:
                job.skip_reason = "nothing to report"
                continue
            job.composed = text.compose_digest(
                key=r.key,
                unit_name=unit.name,
                unit_zone=tz,
                due_at=r.due_at,
                now=now,
                expiring=expiring,
                unacknowledged=unack,
                days=DIGEST_DAYS,
            )
        elif r.kind == STALENESS:
            if stale is None:
                stale = await _stale_entries(session, now, ctx.settings.staleness_days)
            if not stale:
                job.skip_reason = "nothing stale"
                continue
            job.composed = text.compose_staleness(
                key=r.key,
                due_at=r.due_at,
                now=now,
                unit_zone=tz,
                staleness_days=ctx.settings.staleness_days,
                entries=stale,
            )
        elif r.request_id in facts and (is_plan_kind(r.kind) or r.kind == ALERT_LAPSED):
            job.composed = text.compose_request_reminder(
                kind=r.kind,
                key=r.key,
                due_at=r.due_at,
                request=facts[r.request_id],
                unit_zone=tz,
                now=now,
                payload=payload,
            )
        else:
            job.composed = text.compose_generic(
                kind=r.kind, key=r.key, due_at=r.due_at, unit_zone=tz, now=now, payload=payload
            )


def build_email(job: Job, *, settings: Any, now: datetime) -> bytes:
    """The message of one job, as bytes ready for DATA (pure)."""
    assert job.composed is not None
    return mail.build_message(
        unit_id=job.row.unit_id,
        key=job.row.key,
        kind=job.row.kind,
        subject=job.composed.subject,
        text=job.composed.text,
        reference=(job.composed.data.get("request") or {}).get("reference"),
        recipients=job.emails,
        settings=settings,
        now=now,
    )


#: SMTP connections (and webhook calls) in parallel per batch: delivery is bound by round trips
#: (MAIL, RCPT, DATA, end of data), so a few lanes multiply a node's rate.
LANES = 4


async def _deliver_one(
    job: Job,
    *,
    mailer: mail.Mailer,
    http: aiohttp.ClientSession,
    settings: Any,
    now: datetime,
) -> None:
    assert job.composed is not None
    unit = job.unit
    channels = 0
    errors = []
    key = mail.idempotency_key(unit_id=unit.id, key=job.row.key)
    if job.emails:
        channels += 1
        if "email" not in job.done:
            try:
                await mailer.send(build_email(job, settings=settings, now=now), job.emails)
                job.done.add("email")
            except DeliveryError as exc:
                errors.append(f"email: {exc.reason}")
    if unit.webhook_url:
        channels += 1
        if "webhook" not in job.done:
            try:
                await post_json(
                    http,
                    url=unit.webhook_url,
                    payload={**job.composed.data, "unit": unit.name, "idempotency_key": key},
                    secret=unit.webhook_secret,
                    idempotency_key=key,
                    timeout_seconds=settings.smtp_timeout_seconds,
                    extra_headers={"X-Preservation-Idempotency-Key": key},
                    allowed=settings.outbound_allowed,
                )
                job.done.add("webhook")
            except DeliveryError as exc:
                errors.append(f"webhook: {exc.reason}")
    if channels == 0:
        errors.append(
            "no recipient: the unit has no alert_emails, no supervisor e-mail and no webhook"
        )
    job.error = "; ".join(errors)


async def _send(
    jobs: list[Job], *, ctx: Context, now: datetime, http: aiohttp.ClientSession | None
) -> None:
    """Deliver every composed job, in up to LANES parallel lanes (one SMTP connection each)."""
    todo = [j for j in jobs if j.composed is not None]
    if not todo:
        return
    settings = ctx.settings
    own_http = None
    if http is None and any(j.unit.webhook_url for j in todo):
        http = own_http = aiohttp.ClientSession()
    lanes = [todo[i::LANES] for i in range(min(LANES, len(todo)))]

    async def run(lane: list[Job]) -> None:
        mailer = mail.Mailer(settings)
        try:
            for job in lane:
                await _deliver_one(
                    job,
                    mailer=mailer,
                    http=http,  # type: ignore[arg-type]
                    settings=settings,
                    now=now,
                )
        finally:
            await mailer.close()

    try:
        await asyncio.gather(*(run(lane) for lane in lanes))
    finally:
        if own_http is not None:
            await own_http.close()


async def _finish(
    session: Any, jobs: list[Job], *, ctx: Context, node: str, metrics: Any = None
) -> int:
    """Record the outcome of each job, only where this node still holds the row (a row
    cancelled by a replan, or taken over after a lost lease, is left as it is). Delivered and
    skipped rows are completed with one statement per outcome; retries one by one."""
    now = ctx.clock.now()
    policy = claims.RetryPolicy(
        max_attempts=ctx.settings.max_attempts,
        base_seconds=ctx.settings.retry_base_seconds,
        max_seconds=ctx.settings.retry_max_seconds,
    )
    mine = and_(Reminder.status == "sending", Reminder.claimed_by == node)
    on_time: list[int] = []
    late: list[int] = []
    skipped: dict[str, list[int]] = defaultdict(list)
    for job in jobs:
        r = job.row
        if job.skip_reason:
            skipped[job.skip_reason].append(r.id)
            continue
        if not job.error:
            _count(metrics, "delivered")
            (late if now - r.due_at > text.LATE_AFTER else on_time).append(r.id)
            continue
        if r.attempts >= policy.max_attempts:
            _count(metrics, "failed")
            values: dict[str, Any] = {
                "status": "failed",
                "lease_until": None,
                "last_error": job.error[:2000],
            }
            log.error(
                "reminder failed for good",
                extra={"action": "reminders.failed", "reminder_id": r.id, "kind": r.kind},
            )
        else:
            _count(metrics, "retry")
            delay = policy.delay(r.attempts, random.random())  # noqa: S311 - jitter only
            values = {
                "status": "pending",
                "lease_until": None,
                "claimed_by": None,
                "next_attempt_at": now + delay,
                "last_error": job.error[:2000],
                "payload": {**(r.payload or {}), "_done": sorted(job.done)},
            }
            log.warning(
                "reminder delivery failed, will retry",
                extra={"action": "reminders.retry", "reminder_id": r.id, "kind": r.kind},
            )
        await session.execute(
            update(Reminder)
            .where(Reminder.id == r.id, mine)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    groups: list[tuple[list[int], dict[str, Any]]] = [
        (ids, {"status": "delivered", "delivered_at": now, "late": is_late, "last_error": ""})
        for ids, is_late in ((on_time, False), (late, True))
    ]
    groups += [
        (ids, {"status": "cancelled", "last_error": reason}) for reason, ids in skipped.items()
    ]
    for ids, values in groups:
        if ids:
            await session.execute(
                update(Reminder)
                .where(Reminder.id.in_(ids), mine)
                .values(lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
    return len(jobs)


async def deliver_due(
    db: Any,
    *,
    ctx: Context,
    http: aiohttp.ClientSession | None = None,
    limit: int | None = None,
    metrics: Any = None,
) -> int:
    """Claim one batch of due reminder rows, deliver, complete; returns how many were handled
    (0 when nothing was due)."""
    settings = ctx.settings
    node = settings.node
    async with db.write() as session:
        ids = await claims.claim(
            session,
            Reminder,
            node=node,
            now=ctx.clock.now(),
            lease_seconds=settings.lease_seconds,
            limit=limit or settings.claim_batch_size,
        )
    if not ids:
        return 0
    async with db.read() as session:
        jobs = await _load(session, ids, node=node)
        await _compose_all(session, jobs, ctx, ctx.clock.now())
    await _send(jobs, ctx=ctx, now=ctx.clock.now(), http=http)
    async with db.write() as session:
        handled = await _finish(session, jobs, ctx=ctx, node=node, metrics=metrics)
    log.info(
        "reminders delivered",
        extra={
            "action": "reminders.delivered",
            "claimed": len(ids),
            "failed": sum(1 for j in jobs if j.error),
        },
    )
    return max(handled, len(ids))


# --- wiring --------------------------------------------------------------------------------


def start(runtime: Runtime, *, count: Callable[[str, str], None] | None = None) -> None:
    """Register the reminder delivery and lapse sweeps and the periodic job with the node's
    scheduler (at start-up, once the database and the scheduler exist). `count(kind, outcome)`
    is told of every delivery attempt (the node's metrics)."""
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from preservation.reminders.periodic import enqueue_periodic

    settings, sched, db = runtime.settings, runtime.scheduler, runtime.db
    ctx = Context(
        settings=settings,
        clock=runtime.clock,
        regimes=load_regimes(settings.regimes_path),
        wake=sched.wake,
    )

    async def deliver() -> int:
        return await deliver_due(db, ctx=ctx, metrics=count)

    async def lapse() -> int:
        return await lapse_due(db, ctx=ctx)

    async def periodic() -> None:
        await enqueue_periodic(db, ctx=ctx)

    async def next_reminder() -> timedelta | None:
        now = ctx.clock.now()
        async with db.read() as session:
            at = await claims.next_due(session, Reminder, now=now)
        return at - now if at is not None else None

    async def next_lapse() -> timedelta | None:
        now = ctx.clock.now()
        async with db.read() as session:
            at = await next_lapse_at(session, now=now)
        return at - now if at is not None else None

    sched.add_sweep("reminders.deliver", deliver, next_due=next_reminder)
    sched.add_sweep("requests.lapse", lapse, next_due=next_lapse)
    # Every minute: a digest is made within a minute of the unit's hour (well inside the
    # five minutes after which a delivery counts as late); one query over the units.
    sched.add_job("reminders.periodic", periodic, IntervalTrigger(minutes=1))
    sched.add_job("reminders.periodic_at_start", periodic, DateTrigger())
    sched.wake()
