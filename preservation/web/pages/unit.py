"""The unit's profile as a page: everyone in the unit reads it, a supervisor (or the admin)
changes it, through the same model and service as PATCH /api/v1/unit. An officer whose request
cannot be submitted for want of the unit's e-mail or telephone sees here what is missing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from preservation.access.units import UnitPublic, UnitUpdate, get_unit, public, update_unit
from preservation.directory.service import validated
from preservation.errors import FieldError, Forbidden, PreservationError
from preservation.web.api.directory import UNIT_SETTINGS
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import current, posted, render, see_other
from preservation.web.pages.forms import FormErrors

EDITORS = ("supervisor", "admin")
TEXT = ("country", "authority", "address", "email", "phone", "contact_24_7", "timezone")


def _values(unit: UnitPublic) -> dict[str, str]:
    values = {n: str(getattr(unit, n) or "") for n in TEXT}
    values["alert_emails"] = "\n".join(unit.alert_emails)
    values["copy_to_poc"] = "true" if unit.copy_to_poc else "false"
    return values


async def _page(
    request: web.Request,
    ws: Any,
    *,
    errors: FormErrors,
    values: dict[str, str] | None,
    status: int = 200,
) -> web.Response:
    async with request.app[DB].read() as session:
        unit = public(await get_unit(session, ws.principal.unit_id))
    return render(
        request,
        "unit.html",
        {
            "unit": unit,
            "values": values if values is not None else _values(unit),
            "errors": errors,
            "can_edit": ws.principal.role in EDITORS,
            "done": request.query.get("done") == "saved",
        },
        status=status,
    )


async def unit_page(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    return await _page(request, ws, errors=FormErrors(), values=None)


async def unit_post(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    if ws.principal.role not in EDITORS:
        raise Forbidden("only a supervisor may change the unit's profile")
    form = await posted(request, ws)
    values = {n: str(form.get(n, "")) for n in (*TEXT, "alert_emails", "copy_to_poc")}
    body: dict[str, Any] = {n: values[n].strip() for n in TEXT}
    body["alert_emails"] = [
        line.strip() for line in values["alert_emails"].splitlines() if line.strip()
    ]
    body["copy_to_poc"] = values["copy_to_poc"] != "false"
    if not body["timezone"]:
        body["timezone"] = None  # kept as it is
    if not body["country"]:
        body["country"] = None  # kept as it is
    else:
        body["country"] = body["country"].upper()
    try:
        change = validated(UnitUpdate, body)
        async with request.app[DB].write() as session:
            await update_unit(
                session,
                unit_id=ws.principal.unit_id,
                change=change,
                now=request.app[CLOCK].now(),
                allowed=request.app[SETTINGS].outbound_allowed,
            )
    except PreservationError as exc:
        if exc.status != 422:
            raise
        errors = FormErrors.of(exc.errors or [FieldError(field="unit-form", message=exc.detail)])
        return await _page(request, ws, errors=errors, values=values, status=422)
    settings = request.app.get(UNIT_SETTINGS)
    if settings is not None:
        settings.clear()
    raise see_other("/unit?done=saved")


def register(app: web.Application) -> None:
    app.router.add_get("/unit", unit_page)
    app.router.add_post("/unit", unit_post)
