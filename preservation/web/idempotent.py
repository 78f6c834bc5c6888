"""Idempotency-Key around a POST handler: the work runs in one write transaction together with
the record of its answer; a repeat with the same key and body gets that answer (200 for a
creation, with `Idempotent-Replayed: true`) and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.requests import idempotency
from preservation.web.endpoints import Call
from preservation.web.keys import CLOCK, DB

Work = Callable[[AsyncSession], Awaitable[BaseModel]]
REPLAYED = "Idempotent-Replayed"


async def raw_json(request: web.Request) -> Any:
    """The request's JSON body as sent (aiohttp keeps the bytes once read: the endpoint layer
    has parsed them already), for the fingerprint."""
    raw = await request.read()
    return json.loads(raw) if raw else None


async def respond(
    call: Call,
    *,
    scope: str,
    work: Work,
    status: int = 200,
    after: Callable[[], Awaitable[None]] | None = None,
) -> web.Response:
    """Run `work(session)` -> public model under the caller's Idempotency-Key (if any); `after`
    is awaited after a commit that did the work, not after a replay (waking the scheduler, say)."""
    key = idempotency.check_key(call.request.headers.get(idempotency.HEADER))
    app = call.request.app

    async def run(session: AsyncSession) -> tuple[Any, int]:
        public = await work(session)
        # Remembered under a key as JSON data; otherwise serialised once, straight to bytes.
        return (public.model_dump(mode="json") if key is not None else public), status

    outcome = await idempotency.run(
        app[DB],
        user_id=call.principal.user_id,
        scope=scope,
        key=key,
        # The body is only fingerprinted under a key.
        body=await raw_json(call.request) if key is not None else None,
        now=app[CLOCK].now(),
        work=run,
    )
    headers = {}
    if outcome.replayed:
        headers[REPLAYED] = "true"
    elif after is not None:
        await after()
    if isinstance(outcome.body, BaseModel):
        return web.Response(
            body=outcome.body.model_dump_json(),
            status=outcome.status,
            headers=headers,
            content_type="application/json",
            charset="utf-8",
        )
    return web.json_response(outcome.body, status=outcome.status, headers=headers)
