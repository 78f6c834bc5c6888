"""The emergency form (issue 20): a life at risk, one page, one button. The officer names the
provider or the country, the threat, why it cannot wait, the data needed, a direct line and the
identifiers; the request is created and submitted at once through the same service as
`POST /api/v1/requests` with `"kind": "emergency"`, and the record page shows whom to call."""

from __future__ import annotations

import secrets
from typing import Any

import pycountry
import pytz
from aiohttp import web

from preservation.errors import FieldError, InvalidInput
from preservation.requests import create as creation
from preservation.requests import emergency, idempotency
from preservation.requests.schemas import RequestCreate
from preservation.web.api.requests import context_of
from preservation.web.endpoints import parse_model
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import UNIT_ZONE, officer, posted, render, see_other
from preservation.web.pages.directory import directory_cache
from preservation.web.pages.forms import IDENTIFIER_TYPES, FormErrors, IdentifierRow

#: Identifier rows on the form (more are added on the request record's draft, if ever needed).
ROWS = 3
TEXTS = ("case_reference", "offence", "provider", "country", "lang")
FACTS = tuple(emergency.FACTS)


async def _choices(request: web.Request) -> dict[str, Any]:
    from preservation.directory import service as directory_service

    settings = request.app[SETTINGS]
    async with request.app[DB].read() as session:
        providers = await directory_service.list_providers(
            session,
            directory_cache(request.app),
            q=None,
            today=request.app[CLOCK].now().date(),
            max_age_days=settings.staleness_days,
        )
    return {
        "providers": [(p.slug, p.name) for p in providers.items],
        "countries": sorted((c.alpha_2, c.name) for c in pycountry.countries),
        "zones": pytz.common_timezones,
        "identifier_types": IDENTIFIER_TYPES,
        "hours": list(settings.emergency_followup_hours),
    }


async def _page(
    request: web.Request,
    values: dict[str, str],
    rows: list[IdentifierRow],
    *,
    errors: FormErrors,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "request_emergency.html",
        {**(await _choices(request)), "v": values, "rows": rows, "errors": errors},
        status=status,
    )


async def form(request: web.Request) -> web.StreamResponse:
    await officer(request)
    zone = request.get(UNIT_ZONE, "UTC")
    rows = [IdentifierRow(tz=zone if zone != "UTC" else "") for _ in range(ROWS)]
    values = {"form_key": secrets.token_urlsafe(16)}
    return await _page(request, values, rows, errors=FormErrors())


def _body(values: dict[str, str], rows: list[IdentifierRow]) -> dict[str, Any]:
    """The body of POST /api/v1/requests for this form: an emergency, submitted at once."""
    out: dict[str, Any] = {
        "kind": emergency.EMERGENCY,
        "submit": True,
        "emergency": {name: values.get(name, "") for name in FACTS},
        "case_reference": values.get("case_reference", ""),
        "offence": values.get("offence", ""),
        "identifiers": [r.body() for r in rows if not r.blank()],
    }
    for name in ("provider", "country"):
        out[name] = values.get(name, "").strip() or None
    return out


async def submit(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    data = await posted(request, ws)
    values = {k: str(data.get(k, "")) for k in (*TEXTS, *FACTS, "form_key")}
    rows = []
    for i in range(ROWS):

        def get(name: str, i: int = i) -> str:
            return str(data.get(f"identifiers-{i}-{name}", ""))[:1000]

        rows.append(IdentifierRow(type=get("type"), value=get("value"), at=get("at"), tz=get("tz")))
    body = _body(values, rows)
    ctx = context_of(request)
    created: list[creation.Created] = []
    try:
        model = parse_model(RequestCreate, body)

        async def work(session: Any) -> tuple[Any, int]:
            result = await creation.create_in_session(
                session, ctx=ctx, principal=ws.principal, data=model
            )
            created.append(result)
            return result.public.model_dump(mode="json"), 201

        try:
            key = idempotency.check_key(values["form_key"]) if values["form_key"] else None
        except InvalidInput:
            key = None
        outcome = await idempotency.run(
            request.app[DB],
            user_id=ws.principal.user_id,
            scope="PAGE /requests/emergency",
            key=key,
            body=body,
            now=request.app[CLOCK].now(),
            work=work,
        )
    except InvalidInput as exc:
        # The rows' errors are named by their position among the filled rows: keep them there.
        kept = [r for r in rows if not r.blank()]
        rows = kept + [IdentifierRow(tz=r.tz) for r in rows if r.blank()]
        errors = FormErrors.of(exc.errors or [FieldError(field="body", message=exc.detail)])
        return await _page(request, values, rows, errors=errors, status=422)
    if created and not outcome.replayed:
        await creation.after_create(request.app[DB], ctx, created[-1])
    raise see_other(f"/requests/{outcome.body['id']}?done=submitted")


async def follow_up(request: web.Request) -> web.StreamResponse:
    """The record page's button: the preservation request for the same identifiers, as a draft
    opened in the form to check and submit (a second click opens the same draft)."""
    ws = await officer(request)
    await posted(request, ws)
    ctx = context_of(request)
    async with request.app[DB].write() as session:
        public, _ = await emergency.follow_up_in_session(
            session, ctx=ctx, principal=ws.principal, request_id=request.match_info["id"]
        )
    raise see_other(f"/requests/new?draft={public.id}")


def register(app: web.Application) -> None:
    app.router.add_get("/requests/emergency", form)
    app.router.add_post("/requests/emergency", submit)
    # Before the record's generic /requests/{id}/{action} (web/pages/requests.py).
    app.router.add_post(r"/requests/{id:\d+}/follow-up", follow_up)
