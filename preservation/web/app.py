"""The aiohttp application factory. Nothing is made at import time: the engine, the scheduler
and the channels are opened and closed in cleanup contexts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from preservation.dispatch import dispatcher, inbound
from preservation.domain.clock import Clock, SystemClock
from preservation.reminders import delivery as reminder_delivery
from preservation.runtime.context import Runtime
from preservation.settings import Settings
from preservation.storage.db import Database, upgrade
from preservation.web.api import actions as api_actions
from preservation.web.api import deadlines as api_deadlines
from preservation.web.api import directory as api_directory
from preservation.web.api import documents as api_documents
from preservation.web.api import epoc as api_epoc
from preservation.web.api import identifiers as api_identifiers
from preservation.web.api import instruments as api_instruments
from preservation.web.api import messages as api_messages
from preservation.web.api import requests as api_requests
from preservation.web.api import system as api_system
from preservation.web.auth import LIMITER, PRINCIPALS, FailureLimiter, PrincipalCache, authenticate
from preservation.web.endpoints import Api
from preservation.web.keys import CLOCK, DB, DISPATCHER, SCHEDULER, SETTINGS
from preservation.web.metrics import count_delivery, setup_metrics
from preservation.web.middleware import request_log_middleware
from preservation.web.openapi import build_openapi
from preservation.web.pages import setup_pages
from preservation.web.problem import error_middleware
from preservation.web.shutdown import setup_graceful_shutdown
from preservation.web.timeouts import setup_timeouts

log = logging.getLogger(__name__)
API_KEY = web.AppKey("api", Api)


def api_modules() -> list[Api]:
    """Every JSON API module; each registers its endpoints once, here."""
    return [
        api_system.api,
        api_directory.api,
        api_requests.api,
        api_actions.api,
        api_documents.api,
        api_epoc.api,
        api_deadlines.api,
        api_messages.api,
        api_instruments.api,
        api_identifiers.api,
    ]


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    scheduler: bool = True,
) -> web.Application:
    app = web.Application(
        middlewares=[request_log_middleware, error_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[LIMITER] = FailureLimiter(settings.auth_failures_per_minute)
    app[PRINCIPALS] = PrincipalCache()

    combined = Api()
    for module in api_modules():
        combined.endpoints.extend(module.endpoints)
    app[API_KEY] = combined
    combined.install(app, authenticate)
    spec = build_openapi(combined)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/openapi.json", openapi)
    app.cleanup_ctx.append(_database(settings, migrate=migrate))
    app.cleanup_ctx.append(_scheduler(settings, enabled=scheduler))
    api_directory.setup_directory(app)
    api_deadlines.setup_feeds(app)
    # After the database and scheduler contexts: they unwind in reverse, so the release at
    # shutdown runs first, and the hooks attach to a database and scheduler that exist.
    setup_graceful_shutdown(app)
    setup_metrics(app)
    app.cleanup_ctx.append(_jobs)
    setup_pages(app)
    # Last: a body that trickles in is 408 (web/timeouts.py); errors reading it keep their shape.
    setup_timeouts(app)
    return app


def _database(settings: Settings, *, migrate: bool):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if migrate:
            await upgrade(settings.database_url)
        db = Database(settings.database_url)
        app[DB] = db
        log.info("database open", extra={"action": "db.open", "dialect": db.dialect})
        yield
        await db.dispose()
        log.info("database closed", extra={"action": "db.close"})

    return ctx


def _scheduler(settings: Settings, *, enabled: bool):  # type: ignore[no-untyped-def]
    from preservation.runtime.scheduler import Scheduler

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        sched = Scheduler(interval_seconds=settings.claim_interval_seconds)
        app[SCHEDULER] = sched
        if enabled:
            sched.start()
            log.info("scheduler started", extra={"action": "scheduler.start"})
        yield
        await sched.stop(grace_seconds=settings.shutdown_timeout_seconds)
        log.info("scheduler stopped", extra={"action": "scheduler.stop"})

    return ctx


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """The background jobs, handed the node's parts: the outbox sweep and the reminders."""
    runtime = Runtime(
        db=app[DB], settings=app[SETTINGS], clock=app[CLOCK], scheduler=app[SCHEDULER]
    )
    async with dispatcher.running(runtime) as outbox, inbound.listening(runtime):
        app[DISPATCHER] = outbox
        reminder_delivery.start(
            runtime, count=lambda kind, outcome: count_delivery(app, kind, outcome)
        )
        yield
