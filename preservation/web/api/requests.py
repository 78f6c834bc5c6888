"""Preservation requests over HTTP: create (and submit), list, read, change drafts, submit, the
letter, the audit trail. Handlers are thin: parse, call one service function, return the model.
Officers and supervisors only; another unit's request is 404 everywhere."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import REQUEST_ROLES
from preservation.requests import change, listing, view
from preservation.requests import create as creation
from preservation.requests.schemas import (
    EventList,
    EventQuery,
    LetterQuery,
    ListQuery,
    RequestCreate,
    RequestList,
    RequestPatch,
    RequestPublic,
)
from preservation.requests.submit import PENDING, submit_in_session
from preservation.runtime.context import Context
from preservation.settings import load_regimes
from preservation.web.api.directory import DIRECTORY, UNIT_SETTINGS
from preservation.web.endpoints import Api, Call
from preservation.web.idempotent import respond
from preservation.web.keys import CLOCK, DB, SCHEDULER, SETTINGS

api = Api()
ROLES = {str(r) for r in REQUEST_ROLES}
TAG = "requests"


@cache
def _regimes(path: str) -> dict[str, Any]:
    # Read once per process and path: the table changes with a deployment, not at run time.
    return load_regimes(Path(path))


def context_of(request: web.Request) -> Context:
    """The service context of this application (settings, clock, regimes, scheduler wake-up)."""
    app = request.app
    settings = app[SETTINGS]
    scheduler = app.get(SCHEDULER)
    return Context(
        settings=settings,
        clock=app[CLOCK],
        regimes=_regimes(str(settings.regimes_path)),
        wake=scheduler.wake if scheduler is not None else (lambda: None),
        directory=app.get(DIRECTORY),
    )


@api.route(
    "POST",
    "/api/v1/requests",
    summary='Create a preservation request (and submit it with "submit": true)',
    tag=TAG,
    body=RequestCreate,
    response=RequestPublic,
    status=201,
    roles=ROLES,
    idempotent_key=True,
    errors=(400, 401, 403, 409, 422),
)
async def create_request(call: Call) -> web.Response:
    """A repeat with the same Idempotency-Key and body returns the first answer with 200 and
    creates nothing (web/idempotent.py). National phone numbers ("0151 ...", "0049 ...") are
    read in the unit's country. With neither `provider` nor `country`, the request takes them
    from its identifiers when they agree (a domain's or platform's provider, else the State of
    an IP block or a number) and says so in `warnings`; when they disagree it takes nothing and
    the warnings name which identifier points where."""
    ctx = context_of(call.request)
    # Checked before the write transaction: SQLite's single writer waits only for database work.
    app = call.request.app
    region = await app[UNIT_SETTINGS].country(app[DB], call.principal.unit_id)
    prepared = creation.prepare_create(ctx=ctx, data=call.body, region=region)
    created: list[creation.Created] = []

    async def work(session: AsyncSession) -> RequestPublic:
        result = await creation.create_in_session(
            session, ctx=ctx, principal=call.principal, data=call.body, prepared=prepared
        )
        created.append(result)
        return result.public

    async def after() -> None:
        # Only messages for the dispatcher are worth a claim pass (a portal hand-off is not).
        await creation.after_create(call.request.app[DB], ctx, created[-1])

    return await respond(call, scope="POST /api/v1/requests", work=work, status=201, after=after)


@api.route(
    "GET",
    "/api/v1/requests",
    summary="List the unit's preservation requests",
    tag=TAG,
    query=ListQuery,
    response=RequestList,
    roles=ROLES,
    errors=(400, 401, 403, 422),
)
async def list_requests(call: Call) -> RequestList:
    q: ListQuery = call.query
    return await listing.list_requests(
        call.request.app[DB],
        ctx=context_of(call.request),
        principal=call.principal,
        status=q.status,
        expiring_within=q.expiring_within,
        q=q.q,
        limit=q.limit,
        cursor=q.cursor,
    )


@api.route(
    "GET",
    "/api/v1/requests/{id}",
    summary="Show a preservation request",
    tag=TAG,
    response=RequestPublic,
    roles=ROLES,
    errors=(401, 403, 404),
)
async def get_request(call: Call) -> RequestPublic:
    return await view.get_request(
        call.request.app[DB],
        principal=call.principal,
        request_id=call.params["id"],
        regimes=context_of(call.request).regimes,
    )


@api.route(
    "PATCH",
    "/api/v1/requests/{id}",
    summary="Change a draft preservation request",
    tag=TAG,
    body=RequestPatch,
    response=RequestPublic,
    roles=ROLES,
)
async def patch_request(call: Call) -> RequestPublic:
    return await change.patch_request(
        call.request.app[DB],
        ctx=context_of(call.request),
        principal=call.principal,
        request_id=call.params["id"],
        change=call.body,
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/submit",
    summary="Submit a draft preservation request for sending",
    tag=TAG,
    response=RequestPublic,
    roles=ROLES,
    idempotent_key=True,
    errors=(401, 403, 404, 409, 422),
)
async def submit(call: Call) -> web.Response:
    ctx = context_of(call.request)
    request_id = call.params["id"]

    due = False

    async def work(session: AsyncSession) -> RequestPublic:
        nonlocal due
        req = await view.load_request(session, principal=call.principal, request_id=request_id)
        outbox = await submit_in_session(session, ctx=ctx, principal=call.principal, req=req)
        due = any(m.status == PENDING for m in outbox)
        return await view.to_public(session, req, outbox=outbox, regimes=ctx.regimes)

    async def after() -> None:
        if due:
            ctx.wake()

    return await respond(
        call, scope=f"POST /api/v1/requests/{request_id}/submit", work=work, after=after
    )


@api.route(
    "GET",
    "/api/v1/requests/{id}/letter",
    summary="Render the letter of a preservation request",
    tag=TAG,
    query=LetterQuery,
    roles=ROLES,
    media={
        "text/plain": "string",
        "text/html": "string",
        "application/pdf": "string",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "string",
        "application/json": "object",
    },
    errors=(401, 403, 404, 409, 422),
)
async def letter(call: Call) -> web.Response:
    q: LetterQuery = call.query
    body, content_type = await view.render_request_letter(
        call.request.app[DB],
        ctx=context_of(call.request),
        principal=call.principal,
        request_id=call.params["id"],
        fmt=q.format,
        lang=q.lang,
        recipient_id=q.recipient,
    )
    media, _, charset = content_type.partition("; charset=")
    resp = web.Response(body=body, content_type=media, charset=charset or None)
    if q.format == "pdf":
        resp.headers["Content-Disposition"] = f'inline; filename="request-{call.params["id"]}.pdf"'
    elif q.format == "docx":
        resp.headers["Content-Disposition"] = (
            f'attachment; filename="request-{call.params["id"]}.docx"'
        )
    return resp


@api.route(
    "GET",
    "/api/v1/requests/{id}/events",
    summary="Show the audit trail of a preservation request",
    tag=TAG,
    query=EventQuery,
    response=EventList,
    roles=ROLES,
    errors=(401, 403, 404, 422),
)
async def events(call: Call) -> EventList:
    q: EventQuery = call.query
    return await listing.list_events(
        call.request.app[DB],
        principal=call.principal,
        request_id=call.params["id"],
        limit=q.limit,
        cursor=q.cursor,
    )
