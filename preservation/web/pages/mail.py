"""The unit's quarantined mail as a page, for its supervisors: replies addressed to the unit that
answer none of its requests, each attached to a request or set aside, through the same service
as the API (requests/quarantine.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from preservation.access.auth import Role
from preservation.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from preservation.requests import quarantine
from preservation.web.api.requests import context_of
from preservation.web.endpoints import parse_model
from preservation.web.keys import DB
from preservation.web.pages.base import current, posted, render, see_other
from preservation.web.pages.forms import FormErrors

DONE = {
    "attached": "The message was attached to the request (see its record).",
    "dismissed": "The message was set aside.",
}


async def _supervisor(request: web.Request) -> Any:
    ws = await current(request)
    if ws.principal.role != Role.supervisor:
        raise Forbidden("the unit's quarantined mail is for its supervisors")
    return ws


async def _page(
    request: web.Request,
    ws: Any,
    *,
    errors: dict[str, FormErrors] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[DB].read() as session:
        found = await quarantine.list_quarantine(session, principal=ws.principal)
    return render(
        request,
        "mail_quarantine.html",
        {
            "items": found.items,
            "errors": errors or {},
            "values": values or {},
            "empty_errors": FormErrors(),
            "done": DONE.get(request.query.get("done", ""), ""),
        },
        status=status,
    )


async def quarantine_page(request: web.Request) -> web.StreamResponse:
    ws = await _supervisor(request)
    return await _page(request, ws)


def _errors(exc: InvalidInput | Conflict | NotFound, prefix: str, mid: str) -> FormErrors:
    fields = exc.errors or [FieldError(field="request", message=exc.detail)]
    return FormErrors.of(FieldError(field=f"{e.field}-{mid}", message=e.message) for e in fields)


async def attach_post(request: web.Request) -> web.StreamResponse:
    ws = await _supervisor(request)
    data = await posted(request, ws)
    mid = request.match_info["id"]
    body = {"request": str(data.get("request", "")).strip()}
    try:
        model = parse_model(quarantine.AttachIn, body)
        async with request.app[DB].write() as session:
            await quarantine.attach(
                session, ctx=context_of(request), principal=ws.principal, message_id=mid, data=model
            )
    except (InvalidInput, Conflict) as exc:
        return await _page(
            request,
            ws,
            errors={f"attach-{mid}": _errors(exc, "attach", mid)},
            values={f"request-{mid}": body["request"]},
            status=exc.status,
        )
    raise see_other("/mail?done=attached")


async def dismiss_post(request: web.Request) -> web.StreamResponse:
    ws = await _supervisor(request)
    data = await posted(request, ws)
    mid = request.match_info["id"]
    try:
        model = parse_model(quarantine.DismissIn, {"note": str(data.get("note", "")).strip()})
        async with request.app[DB].write() as session:
            await quarantine.dismiss(session, principal=ws.principal, message_id=mid, data=model)
    except (InvalidInput, Conflict) as exc:
        return await _page(
            request, ws, errors={f"dismiss-{mid}": _errors(exc, "dismiss", mid)}, status=exc.status
        )
    raise see_other("/mail?done=dismissed")


def register(app: web.Application) -> None:
    app.router.add_get("/mail", quarantine_page)
    app.router.add_post(r"/mail/{id:\d+}/attach", attach_post)
    app.router.add_post(r"/mail/{id:\d+}/dismiss", dismiss_post)
