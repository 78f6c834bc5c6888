"""Graceful shutdown for rolling restarts: on SIGTERM (aiohttp's run_app closes the listener and
lets in-flight requests finish, then runs the cleanup contexts) this node stops claiming, lets a
claim pass in progress finish within the grace period, and gives back every outbox and reminder
row it still holds, so another node claims them at once instead of waiting for the lease to run
out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from preservation.storage.claims import release
from preservation.storage.models import OutboxMessage, Reminder
from preservation.web.keys import CLOCK, DB, SCHEDULER, SETTINGS

log = logging.getLogger(__name__)


def setup_graceful_shutdown(app: web.Application) -> None:
    """Call in create_app after the database and scheduler cleanup contexts have been added:
    cleanup contexts unwind in reverse, so this one runs before the scheduler's and the
    database's own cleanup."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await release_held_rows(app)

    app.cleanup_ctx.append(ctx)


async def release_held_rows(app: web.Application) -> int:
    """Stop the scheduler (idempotent: its own cleanup then has nothing left to do) and release the
    rows claimed by this node; returns how many were released."""
    settings = app[SETTINGS]
    scheduler = app.get(SCHEDULER)
    if scheduler is not None:
        # Stop claiming first: a row released while a pass could still claim it would bounce.
        await scheduler.stop(grace_seconds=settings.shutdown_timeout_seconds)
    db = app.get(DB)
    if db is None:
        return 0
    node = settings.node
    released: dict[str, int] = {}
    try:
        # Bounded: a node whose database is gone must still exit.
        async with asyncio.timeout(max(settings.shutdown_timeout_seconds, 1.0)):
            async with db.write() as session:
                now = app[CLOCK].now()
                released["outbox"] = await release(session, OutboxMessage, node=node, now=now)
                released["reminder"] = await release(session, Reminder, node=node, now=now)
    except Exception as exc:
        # The leases still run out, and another node takes the rows over then.
        log.warning(
            "release at shutdown failed",
            extra={"action": "shutdown.release_failed", "error": type(exc).__name__},
        )
        return 0
    log.info(
        "released held rows",
        extra={
            "action": "shutdown.release",
            "node": node,
            "outbox": released["outbox"],
            "reminder": released["reminder"],
        },
    )
    return released["outbox"] + released["reminder"]
