"""The documents of a request for a signed-in browser: each document in each format and
language (`/requests/{id}/documents/{kind}.{ext}?lang=`), and the MLA request's page, where the
officer completes what the record lacks and downloads the draft (`/requests/{id}/mla-request`;
registered before the record's actions, whose `POST /requests/{id}/mla` records the MLA request
as sent).

Every write goes through the service the API uses (requests/mla.save_mla_draft); every document
through the same content models and renderers (requests/mla, requests/extension,
requests/letters -> documents/)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from preservation.documents import i18n
from preservation.documents.letter import CONTENT_TYPES, EXTENSIONS, render_document
from preservation.domain import mla as rules
from preservation.errors import Conflict, FieldError, InvalidInput, NotFound
from preservation.requests import extension, mla, view
from preservation.requests.assessment import check_lang
from preservation.requests.letters import letter_context_for
from preservation.runtime.offload import in_process
from preservation.web.api.requests import context_of
from preservation.web.endpoints import parse_model
from preservation.web.keys import DB
from preservation.web.pages.base import officer, posted, render, see_other
from preservation.web.pages.forms import FormErrors

#: The document kinds as they appear in page URLs, and their templates.
KINDS = {"letter": "letter", "mla-request": "mla_request", "extension-request": "letter"}
FORMATS = {ext: fmt for fmt, ext in EXTENSIONS.items() if fmt != "json"}
#: A document shown in a frame of the page: its own inline stylesheet, no script.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
#: The MLA form's fields, in the order shown (domain/mla.py).
CATEGORY_FIELDS = ("subscriber", "identifying", "traffic", "content")


async def _context(request: web.Request, ws: Any, kind: str, lang: str | None) -> dict[str, Any]:
    ctx = context_of(request)
    async with request.app[DB].read() as session:
        req = await view.load_request(
            session, principal=ws.principal, request_id=request.match_info["id"]
        )
        if kind == "mla-request":
            return await mla.mla_context(
                session, req, regimes=ctx.regimes, now=ctx.clock.now(), lang=lang
            )
        if kind == "extension-request":
            return await extension.extension_context(session, req, ctx=ctx, lang=lang)
        return await letter_context_for(
            session, req, regimes=ctx.regimes, now=ctx.clock.now(), lang=lang or req.lang
        )


async def document(request: web.Request) -> web.StreamResponse:
    """GET /requests/{id}/documents/{kind}.{ext}?lang=: one document, for the browser."""
    ws = await officer(request)
    kind, ext = request.match_info["kind"], request.match_info["ext"]
    fmt = FORMATS.get(ext)
    if kind not in KINDS or fmt is None:
        raise NotFound("no such document")
    lang = request.query.get("lang") or None
    if lang is not None:
        check_lang(lang, field="query.lang")
    context = await _context(request, ws, kind, lang)
    name = KINDS[kind]
    if context.get("kind") == "emergency":
        name = "emergency"
    lang = context["lang"]
    if fmt in view.HEAVY_FORMATS:
        body = await in_process(render_document, context, name=name, fmt=fmt, lang=lang)
    else:
        body = render_document(context, name=name, fmt=fmt, lang=lang)
    media, _, charset = CONTENT_TYPES[fmt].partition("; charset=")
    response = web.Response(body=body, content_type=media, charset=charset or None)
    if fmt == "html":
        response.headers["Content-Security-Policy"] = DOCUMENT_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        disposition = "inline" if fmt == "pdf" else "attachment"
        filename = f"{kind}-{request.match_info['id']}-{lang}.{ext}"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


# --- the MLA request's page ------------------------------------------------------------------


async def _mla_page(
    request: web.Request,
    ws: Any,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> web.Response:
    rid = request.match_info["id"]
    lang = request.query.get("lang") or None
    if lang is not None and lang not in i18n.languages():
        lang = None
    ctx = context_of(request)
    async with request.app[DB].read() as session:
        req = await view.load_request(session, principal=ws.principal, request_id=rid)
        if not mla.has_mla(req):
            raise Conflict("no MLA request is drafted for this request")
        draft = await mla.mla_context(
            session, req, regimes=ctx.regimes, now=ctx.clock.now(), lang="en"
        )
    lang = lang or i18n.default_language(mla.requested_state(req))
    stored = dict(req.mla_draft or {})
    return render(
        request,
        "request_mla.html",
        {
            "r": req,
            "d": draft,
            "v": values if values is not None else stored,
            "assistance": (values or stored).get("assistance") or {},
            "categories": [c for c in CATEGORY_FIELDS if c in (req.data_categories or [])],
            "errors": errors or FormErrors(),
            "languages": [
                (code, i18n.words("en").language_name(code)) for code in i18n.languages()
            ],
            "lang": lang,
            "base": f"/requests/{req.id}/documents/mla-request",
            "done": request.query.get("done") == "saved",
        },
        status=status,
    )


async def mla_form(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    return await _mla_page(request, ws)


def _body(form: Any, categories: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in rules.TEXT_FIELDS:
        value = str(form.get(name, "")).strip()
        if value:
            body[name] = value
    assistance = {
        c: str(form.get(f"assistance-{c}", "")).strip()
        for c in categories
        if str(form.get(f"assistance-{c}", "")).strip()
    }
    if assistance:
        body["assistance"] = assistance
    for name in ("damages_amount", "damages_currency", "certification"):
        value = str(form.get(name, "")).strip()
        if value:
            body[name] = value
    return body


async def mla_post(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    form = await posted(request, ws)
    rid = request.match_info["id"]
    ctx = context_of(request)
    async with request.app[DB].read() as session:
        req = await view.load_request(session, principal=ws.principal, request_id=rid)
        categories = list(req.data_categories or [])
    body = _body(form, categories)
    try:
        data = parse_model(mla.MlaDraftIn, body)
        async with request.app[DB].write() as session:
            await mla.save_mla_draft(
                session, ctx=ctx, principal=ws.principal, request_id=rid, data=data
            )
    except (InvalidInput, Conflict) as exc:
        errors = FormErrors.of(exc.errors or [FieldError(field="mla-form", message=exc.detail)])
        return await _mla_page(request, ws, values=body, errors=errors, status=exc.status)
    lang = str(form.get("lang", "")).strip()
    suffix = f"&lang={lang}" if lang in i18n.languages() else ""
    raise see_other(f"/requests/{rid}/mla-request?done=saved{suffix}")


def register(app: web.Application) -> None:
    app.router.add_get(r"/requests/{id:\d+}/mla-request", mla_form)
    app.router.add_post(r"/requests/{id:\d+}/mla-request", mla_post)
    app.router.add_get(
        r"/requests/{id:\d+}/documents/{kind:[a-z-]+}.{ext:txt|html|pdf|docx}", document
    )
