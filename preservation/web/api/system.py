"""Health, the OpenAPI description, and who-am-I."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from preservation.access.units import UnitPublic, UnitUpdate, get_unit, public, update_unit
from preservation.dispatch import outbound
from preservation.errors import InvalidInput
from preservation.web.endpoints import Api, Call
from preservation.web.keys import CLOCK, DB, SCHEDULER, SETTINGS

api = Api()


class Health(BaseModel):
    status: str
    database: str
    scheduler: str


class Me(BaseModel):
    user: str
    unit: str
    role: str


@api.route(
    "GET",
    "/healthz",
    summary="Report health",
    tag="system",
    response=Health,
    auth=False,
    errors=(503,),
)
async def healthz(call: Call) -> web.Response:
    app = call.request.app
    database = "ok" if await app[DB].ping() else "unreachable"
    scheduler = app.get(SCHEDULER)
    sched = "running" if scheduler is not None and scheduler.running else "stopped"
    ok = database == "ok" and sched == "running"
    body = Health(status="ok" if ok else "unavailable", database=database, scheduler=sched)
    return web.json_response(body.model_dump(), status=200 if ok else 503)


@api.route("GET", "/api/v1/me", summary="Show the caller", tag="system", response=Me, errors=(401,))
async def me(call: Call) -> Me:
    p = call.principal
    return Me(user=p.user_name, unit=p.unit_name, role=p.role)


@api.route(
    "GET",
    "/api/v1/unit",
    summary="Show the caller's unit profile",
    tag="system",
    response=UnitPublic,
    errors=(401,),
)
async def get_own_unit(call: Call) -> UnitPublic:
    async with call.request.app[DB].read() as session:
        return public(await get_unit(session, call.principal.unit_id))


@api.route(
    "PATCH",
    "/api/v1/unit",
    summary="Update the caller's unit profile",
    tag="system",
    body=UnitUpdate,
    response=UnitPublic,
    roles={"supervisor", "admin"},
    errors=(400, 401, 403, 422),
)
async def patch_own_unit(call: Call) -> UnitPublic:
    app = call.request.app
    allowed = app[SETTINGS].outbound_allowed
    change: UnitUpdate = call.body
    change.check_webhook(allowed)
    if change.webhook_url:
        # The addresses the name resolves to now (checked again at each sending).
        try:
            await outbound.check_reachable(change.webhook_url, allowed=allowed)
        except outbound.OutboundRefused as exc:
            raise InvalidInput("webhook_url", str(exc)) from None
    async with app[DB].write() as session:
        unit = await update_unit(
            session,
            unit_id=call.principal.unit_id,
            change=change,
            now=app[CLOCK].now(),
            allowed=allowed,
        )
        return public(unit)
