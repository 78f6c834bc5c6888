"""The European Preservation Order (EPOC-PR) over HTTP: validation by a judge or prosecutor,
the transmission through the national IT system, Annexes V and VI, the notices that come back,
the certificate (JSON, PDF, XML) and the forms, the prosecutor's judicial authority. Each POST
honours Idempotency-Key like the other transitions (web/api/actions.py)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from preservation.access import judicial
from preservation.access.auth import REQUEST_ROLES, Role
from preservation.documents import epoc_pdf, epoc_xml
from preservation.requests import epoc, epoc_annexes, epoc_forms, epoc_notices
from preservation.requests.schemas import RequestPublic
from preservation.runtime.offload import offload
from preservation.web.api.actions import TRANSITION_ERRORS, idempotent
from preservation.web.api.requests import context_of
from preservation.web.endpoints import Api, Call
from preservation.web.keys import CLOCK, DB

api = Api()
ROLES = {str(r) for r in REQUEST_ROLES}
PROSECUTORS = {str(Role.prosecutor)}
TAG = "epoc-pr"


class CertificateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "pdf", "xml"] = "json"


class FormQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "pdf"] = "json"


def _scope(call: Call, action: str) -> str:
    return f"POST /api/v1/requests/{call.params['id']}/{action}"


@api.route(
    "POST",
    "/api/v1/requests/{id}/validate",
    summary="Issue or validate an EPOC-PR (judge or prosecutor)",
    tag=TAG,
    body=epoc.ValidateIn,
    response=RequestPublic,
    roles=PROSECUTORS,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def validate(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "validate"),
        work=lambda s: epoc.validate(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/return",
    summary="Return an EPOC-PR awaiting validation to the officer as a draft",
    tag=TAG,
    body=epoc.ReturnIn,
    response=RequestPublic,
    roles=PROSECUTORS,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def return_to_officer(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "return"),
        work=lambda s: epoc.return_to_officer(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/epoc-pr/transmitted",
    summary="Record that the national IT system transmitted the EPOC-PR",
    tag=TAG,
    body=epoc.TransmittedIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def transmitted(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "epoc-pr/transmitted"),
        work=lambda s: epoc_annexes.transmitted(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/epoc-pr/notices",
    summary="Record what the national IT system reports back (ETSI TS 104 144 names)",
    tag=TAG,
    body=epoc_notices.NoticeIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def notices(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "epoc-pr/notices"),
        work=lambda s: epoc_notices.record_notice(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/annex-vi",
    summary="Extend an EPOC-PR by 30 days with Annex VI (during the 60 days)",
    tag=TAG,
    body=epoc.AnnexViIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def annex_vi(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "annex-vi"),
        work=lambda s: epoc_annexes.annex_vi(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/annex-v",
    summary="Confirm with Annex V that the subsequent request for production was issued",
    tag=TAG,
    body=epoc.AnnexVIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def annex_v(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "annex-v"),
        work=lambda s: epoc_annexes.annex_v(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


async def _form(call: Call, kind: str) -> dict:
    async with call.request.app[DB].read() as session:
        return await epoc_forms.form_for(
            session, principal=call.principal, request_id=call.params["id"], kind=kind
        )


def _file(body: bytes, content_type: str, name: str) -> web.Response:
    resp = web.Response(body=body, content_type=content_type)
    resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return resp


@api.route(
    "GET",
    "/api/v1/requests/{id}/epoc-pr",
    summary="The EPOC-PR certificate (Annex II) as JSON, PDF or the reference implementation's XML",
    tag=TAG,
    query=CertificateQuery,
    roles=ROLES,
    media={"application/json": "object", "application/pdf": "string", "application/xml": "string"},
    errors=(401, 403, 404, 409, 422),
)
async def certificate(call: Call) -> web.Response:
    q: CertificateQuery = call.query
    form = await _form(call, "annex-ii")
    name = f"epoc-pr-{call.params['id']}"
    if q.format == "pdf":
        return _file(await offload(epoc_pdf.form_pdf, form), "application/pdf", f"{name}.pdf")
    if q.format == "xml":
        if form["status"] != "issued":
            from preservation.errors import Conflict

            raise Conflict(
                "the XML is what the national IT system takes in: it exists once a judge or"
                " prosecutor has issued the EPOC-PR (POST .../validate); the JSON and PDF show"
                " the draft"
            )
        body = await offload(epoc_xml.certificate_xml, form)
        return _file(body, "application/xml", f"{name}.xml")
    return web.json_response(form)


def _form_route(kind: str, summary: str):  # type: ignore[no-untyped-def]
    @api.route(
        "GET",
        f"/api/v1/requests/{{id}}/forms/{kind}",
        summary=summary,
        tag=TAG,
        query=FormQuery,
        roles=ROLES,
        media={"application/json": "object", "application/pdf": "string"},
        errors=(401, 403, 404, 409, 422),
    )
    async def handler(call: Call) -> web.Response:
        q: FormQuery = call.query
        form = await _form(call, kind)
        if q.format == "pdf":
            body = await offload(epoc_pdf.form_pdf, form)
            return _file(body, "application/pdf", f"{kind}-{call.params['id']}.pdf")
        return web.json_response(form)

    handler.__name__ = f"form_{kind.replace('-', '_')}"
    return handler


_form_route(
    "annex-v", "Annex V: confirmation that the subsequent request for production was issued"
)
_form_route("annex-vi", "Annex VI: extension of the preservation by 30 days")
_form_route(
    "end-of-preservation", "The notice that preservation is no longer necessary (Art. 11(3))"
)


@api.route(
    "GET",
    "/api/v1/me/judicial-authority",
    summary="Show the judicial authority the caller (prosecutor role) acts as",
    tag=TAG,
    response=judicial.JudicialAuthorityPublic,
    roles=PROSECUTORS,
    errors=(401, 403),
)
async def get_authority(call: Call) -> judicial.JudicialAuthorityPublic:
    async with call.request.app[DB].read() as session:
        return judicial.public(await judicial.get_authority(session, call.principal))


@api.route(
    "PUT",
    "/api/v1/me/judicial-authority",
    summary="Set the judicial authority the caller (prosecutor role) acts as",
    tag=TAG,
    body=judicial.JudicialAuthorityUpdate,
    response=judicial.JudicialAuthorityPublic,
    roles=PROSECUTORS,
    errors=(400, 401, 403, 422),
)
async def put_authority(call: Call) -> judicial.JudicialAuthorityPublic:
    app = call.request.app
    async with app[DB].write() as session:
        return await judicial.update_authority(
            session, principal=call.principal, change=call.body, now=app[CLOCK].now()
        )
