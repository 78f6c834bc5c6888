"""Prometheus metrics at GET /metrics, one registry per application (several apps may share a
process, as in the tests): HTTP requests and latency, outbox and reminder rows by status and the
age of the oldest undelivered one, the claim loop's duration, database errors, and deliveries.

The row gauges are refreshed by the /metrics handler itself, with one grouped query per table
(outbox, reminder, request) just before the text is generated: nothing polls the database between
scrapes. Who may scrape is the `metrics` setting: "off" (404), "on" (any client), or a
comma-separated list of client addresses or networks (others get 403)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.errors import Forbidden, SettingsError
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder

log = logging.getLogger(__name__)

#: Methods counted under their own name; anything else a client invents is "OTHER" (bounded labels).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Statuses always exported (0 when absent), so an alert on e.g. failed rows has a series to watch.
OUTBOX_STATUSES = ("pending", "due", "sending", "handoff", "sent", "failed")
REMINDER_STATUSES = ("pending", "due", "sending", "delivered", "failed", "cancelled")
REQUEST_STATUSES = (
    "draft",
    "awaiting_validation",
    "queued",
    "sent",
    "preserved",
    "extension_requested",
    "mla_sent",
    "closed",
    "lapsed",
)
#: Statuses of a row that still has to be delivered.
UNDELIVERED = ("pending", "sending")
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CLAIM_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The application's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.outbox_rows = Gauge(
            "outbox_rows",
            "Outbox rows (one per recipient of a request) by status; 'pending' is not yet due, "
            "'due' is pending and waiting to be claimed.",
            ("status",),
            registry=r,
        )
        self.reminder_rows = Gauge(
            "reminder_rows",
            "Reminder rows by status; 'pending' is not yet due, 'due' is pending and waiting to "
            "be claimed.",
            ("status",),
            registry=r,
        )
        self.reminder_late_rows = Gauge(
            "reminder_late_rows",
            "Reminder rows flagged late (delivered after their due time, e.g. after downtime).",
            registry=r,
        )
        self.oldest_undelivered = Gauge(
            "oldest_undelivered_age_seconds",
            "Age of the oldest row that is due and not yet delivered (0 when there is none): "
            "since creation for outbox rows, since the due time for reminders.",
            ("queue",),
            registry=r,
        )
        self.requests = Gauge(
            "requests",
            "Preservation requests by status (draft, queued, sent, preserved, "
            "extension_requested, mla_sent, closed, lapsed).",
            ("status",),
            registry=r,
        )
        self.claim_duration = Histogram(
            "claim_loop_duration_seconds",
            "Duration of one pass of the claim loop over every sweep.",
            buckets=CLAIM_BUCKETS,
            registry=r,
        )
        self.database_errors = Counter(
            "database_errors_total",
            "Transactions that failed because the database was unavailable.",
            registry=r,
        )
        self.deliveries = Counter(
            "deliveries_total",
            "Delivery attempts by kind (outbox, reminder) and outcome (sent, delivered, retry, "
            "failed).",
            ("kind", "outcome"),
            registry=r,
        )
        self.scrape_errors = Counter(
            "metrics_refresh_errors_total",
            "Scrapes whose row gauges could not be refreshed from the database.",
            registry=r,
        )
        # Series that exist from the start, so rate() and absent() behave from the first scrape.
        for status in OUTBOX_STATUSES:
            self.outbox_rows.labels(status=status)
        for status in REMINDER_STATUSES:
            self.reminder_rows.labels(status=status)
        for queue in ("outbox", "reminder"):
            self.oldest_undelivered.labels(queue=queue)
        for status in REQUEST_STATUSES:
            self.requests.labels(status=status)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        self.http_requests.labels(method=method, route=route, status=str(status)).inc()
        self.http_duration.labels(method=method, route=route).observe(seconds)

    def observe_claim(self, seconds: float) -> None:
        self.claim_duration.observe(seconds)

    def count_database_error(self, _exc: Exception | None = None) -> None:
        self.database_errors.inc()

    def count_delivery(self, kind: str, outcome: str) -> None:
        self.deliveries.labels(kind=kind, outcome=outcome).inc()

    async def refresh(self, session: AsyncSession, *, now: datetime) -> None:
        """Set the row gauges from three grouped queries (one per table)."""
        outbox = await queue_counts(session, OutboxMessage, now=now)
        reminders = await queue_counts(session, Reminder, now=now)
        by_status = await session.execute(
            select(PreservationRequest.status, func.count()).group_by(PreservationRequest.status)
        )
        _set_statuses(self.requests, REQUEST_STATUSES, {s: int(n) for s, n in by_status.all()})
        _set_statuses(self.outbox_rows, OUTBOX_STATUSES, outbox.by_status)
        _set_statuses(self.reminder_rows, REMINDER_STATUSES, reminders.by_status)
        self.reminder_late_rows.set(reminders.late)
        for queue, counts in (("outbox", outbox), ("reminder", reminders)):
            age = 0.0
            if counts.oldest_due is not None:
                age = max(0.0, (now - counts.oldest_due).total_seconds())
            self.oldest_undelivered.labels(queue=queue).set(age)

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass(frozen=True, kw_only=True)
class QueueCounts:
    by_status: dict[str, int]
    #: The due instant of the oldest undelivered row that is due; None when there is none.
    oldest_due: datetime | None
    late: int = 0


async def queue_counts(
    session: AsyncSession, model: type[OutboxMessage] | type[Reminder], *, now: datetime
) -> QueueCounts:
    """Rows of one table by status (pending split into not yet due and due), in one grouped query."""
    # Outbox rows are due from their creation; reminders from their due instant (a retry's
    # back-off moves next_attempt_at, not the instant the row became due).
    due_since = model.created_at if model is OutboxMessage else model.due_at
    is_due = (func.coalesce(model.next_attempt_at, due_since) <= now).label("is_due")
    columns: list[Any] = [model.status, is_due, func.count(), func.min(due_since)]
    if model is Reminder:
        columns.append(func.sum(cast(model.late, Integer)))
    # GROUP BY the label, not the expression: PostgreSQL would see two different bind parameters.
    query = select(*columns).group_by(model.status, "is_due")
    by_status: dict[str, int] = {}
    oldest: datetime | None = None
    late = 0
    for row in (await session.execute(query)).all():
        status, due, count, first = row[0], bool(row[1]), int(row[2]), row[3]
        if model is Reminder:
            late += int(row[4] or 0)
        name = "due" if status == "pending" and due else status
        by_status[name] = by_status.get(name, 0) + count
        if status in UNDELIVERED and first is not None and first <= now:
            oldest = first if oldest is None else min(oldest, first)
    return QueueCounts(by_status=by_status, oldest_due=oldest, late=late)


def _set_statuses(gauge: Gauge, known: Iterable[str], counts: dict[str, int]) -> None:
    for status in {*known, *counts}:
        gauge.labels(status=status).set(counts.get(status, 0))


# -- access -------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, kw_only=True)
class Access:
    enabled: bool
    #: None: any client; otherwise the networks a client address must fall in.
    allowed: tuple[Network, ...] | None

    def permits(self, remote: str | None) -> bool:
        if self.allowed is None:
            return True
        if not remote:
            return False
        try:
            address = ipaddress.ip_address(remote.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in self.allowed)


def parse_access(value: str) -> Access:
    """The `metrics` setting: "off", "on", or comma-separated addresses or CIDR networks."""
    text = value.strip()
    if text.lower() in ("", "off", "false", "no"):
        return Access(enabled=False, allowed=())
    if text.lower() in ("on", "true", "yes", "any"):
        return Access(enabled=True, allowed=None)
    networks: list[Network] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f'setting PRESERVATION_METRICS: {part!r} is not "off", "on", an address or a network'
            ) from None
    return Access(enabled=True, allowed=tuple(networks))


# -- wiring -------------------------------------------------------------------------------------

METRICS = web.AppKey("metrics", Metrics)


def setup_metrics(app: web.Application) -> None:
    """Serve /metrics as the settings say and hook the counters into the app's parts.

    Call in create_app after the database and scheduler cleanup contexts have been added: the
    hooks are attached once those exist."""
    from preservation.web.keys import CLOCK, DB, SCHEDULER, SETTINGS
    from preservation.web.middleware import OBSERVER

    access = parse_access(app[SETTINGS].metrics)
    if not access.enabled:
        # No route at all: /metrics answers the same 404 problem as any unknown path.
        return
    metrics = Metrics()
    app[METRICS] = metrics
    app[OBSERVER] = metrics.observe_http

    async def hooks(app: web.Application):  # type: ignore[no-untyped-def]
        db = app.get(DB)
        if db is not None:
            db.on_error = metrics.count_database_error
        scheduler = app.get(SCHEDULER)
        if scheduler is not None:
            scheduler.on_claim_duration = metrics.observe_claim
        yield

    async def handler(request: web.Request) -> web.Response:
        if not access.permits(request.remote):
            raise Forbidden("this address may not read the metrics")
        app = request.app
        try:
            async with app[DB].read() as session:
                await metrics.refresh(session, now=app[CLOCK].now())
        except Exception:  # noqa: BLE001 - a scrape still reports the counters and the failure
            metrics.scrape_errors.inc()
            log.warning(
                "metrics refresh failed", exc_info=True, extra={"action": "metrics.refresh_failed"}
            )
        response = web.Response(body=metrics.render())
        response.content_type = CONTENT_TYPE_LATEST.split(";", 1)[0]
        response.charset = "utf-8"
        return response

    app.cleanup_ctx.append(hooks)
    app.router.add_get("/metrics", handler)


def count_delivery(target: web.Application | Metrics | None, kind: str, outcome: str) -> None:
    """Count one delivery attempt: kind "outbox" or "reminder", outcome "sent" / "delivered"
    (success), "retry" (failed, will be retried) or "failed" (given up). A no-op when the
    metrics are off, so sweeps may call it unconditionally with their app."""
    if target is None:
        return
    metrics = target if isinstance(target, Metrics) else target.get(METRICS)
    if metrics is not None:
        metrics.count_delivery(kind, outcome)
