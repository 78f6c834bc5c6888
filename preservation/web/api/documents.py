"""A request's documents over HTTP: the list, the MLA request drafted from the record (and the
officer's additions to it), the extension request. Every document in text, HTML, PDF, DOCX and
JSON, in each language of the catalogues (documents/i18n.py). Officers and supervisors; another
unit's request is 404."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from preservation.documents.letter import CONTENT_TYPES, EXTENSIONS, render_document
from preservation.errors import NotFound
from preservation.requests import documents, extension, mla
from preservation.requests.assessment import check_lang
from preservation.requests.letters import outbox_recipient
from preservation.requests.view import HEAVY_FORMATS, load_request
from preservation.runtime.offload import in_process
from preservation.storage.models import OutboxMessage
from preservation.web.api.requests import ROLES, context_of
from preservation.web.endpoints import Api, Call
from preservation.web.keys import DB

api = Api()
TAG = "documents"
MEDIA = {
    "text/plain": "string",
    "text/html": "string",
    "application/pdf": "string",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "string",
    "application/json": "object",
}
LANG = Field(None, min_length=2, max_length=10, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


class DocumentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["text", "html", "pdf", "docx", "json"] = "text"
    #: Language; default: the MLA request's, the requested State's; the extension request's,
    #: the request's letter language.
    lang: str | None = LANG


class ExtensionQuery(DocumentQuery):
    #: The recipient (its id in `recipients`) whose extension request to show; default: the
    #: main addressee.
    recipient: int | None = Field(None, ge=1, le=2**63 - 1)


class DraftQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The language of the missing fields' names and of the warnings (default: English).
    lang: str | None = LANG


async def _respond(
    call: Call, context: dict, *, name: str, fmt: str, lang: str, filename: str
) -> web.Response:
    if fmt in HEAVY_FORMATS:
        body = await in_process(render_document, context, name=name, fmt=fmt, lang=lang)
    else:
        body = render_document(context, name=name, fmt=fmt, lang=lang)
    media, _, charset = CONTENT_TYPES[fmt].partition("; charset=")
    resp = web.Response(body=body, content_type=media, charset=charset or None)
    if fmt in ("pdf", "docx"):
        disposition = "inline" if fmt == "pdf" else "attachment"
        stem = f"{filename}-{call.params['id']}-{lang}.{EXTENSIONS[fmt]}"
        resp.headers["Content-Disposition"] = f'{disposition}; filename="{stem}"'
    return resp


@api.route(
    "GET",
    "/api/v1/requests/{id}/documents",
    summary="List the documents drafted from a request's record",
    tag=TAG,
    query=documents.DocumentsQuery,
    response=documents.DocumentList,
    roles=ROLES,
    errors=(401, 403, 404, 422),
)
async def list_documents(call: Call) -> documents.DocumentList:
    q: documents.DocumentsQuery = call.query
    if q.lang is not None:
        check_lang(q.lang, field="query.lang")
    async with call.request.app[DB].read() as session:
        return await documents.list_documents(
            session,
            ctx=context_of(call.request),
            principal=call.principal,
            request_id=call.params["id"],
            lang=q.lang,
        )


@api.route(
    "GET",
    "/api/v1/requests/{id}/mla-request",
    summary="Render the formal MLA request drafted from the record (a draft for the issuing"
    " authority)",
    tag=TAG,
    query=DocumentQuery,
    roles=ROLES,
    media=MEDIA,
    errors=(401, 403, 404, 409, 422),
)
async def mla_request(call: Call) -> web.Response:
    q: DocumentQuery = call.query
    if q.lang is not None:
        check_lang(q.lang, field="query.lang")
    ctx = context_of(call.request)
    async with call.request.app[DB].read() as session:
        req = await load_request(session, principal=call.principal, request_id=call.params["id"])
        context = await mla.mla_context(
            session, req, regimes=ctx.regimes, now=ctx.clock.now(), lang=q.lang
        )
    return await _respond(
        call,
        context,
        name="mla_request",
        fmt=q.format,
        lang=context["lang"],
        filename="mla-request",
    )


@api.route(
    "GET",
    "/api/v1/requests/{id}/mla-draft",
    summary="Show what the officer added to the MLA request, what it lacks, and the warnings",
    tag=TAG,
    query=DraftQuery,
    response=mla.MlaDraftPublic,
    roles=ROLES,
    errors=(401, 403, 404, 409, 422),
)
async def get_mla_draft(call: Call) -> mla.MlaDraftPublic:
    q: DraftQuery = call.query
    if q.lang is not None:
        check_lang(q.lang, field="query.lang")
    async with call.request.app[DB].read() as session:
        return await mla.get_mla_draft(
            session,
            principal=call.principal,
            request_id=call.params["id"],
            lang=q.lang or "en",
        )


@api.route(
    "PUT",
    "/api/v1/requests/{id}/mla-draft",
    summary="Complete the MLA request with what the record lacks (replaces the previous additions)",
    tag=TAG,
    body=mla.MlaDraftIn,
    response=mla.MlaDraftPublic,
    roles=ROLES,
    errors=(400, 401, 403, 404, 409, 422),
)
async def put_mla_draft(call: Call) -> mla.MlaDraftPublic:
    ctx = context_of(call.request)
    async with call.request.app[DB].write() as session:
        return await mla.save_mla_draft(
            session,
            ctx=ctx,
            principal=call.principal,
            request_id=call.params["id"],
            data=call.body,
        )


@api.route(
    "GET",
    "/api/v1/requests/{id}/extension-request",
    summary="Render the extension request (a renewal, or a new request naming the previous one"
    " where the instrument has no extension)",
    tag=TAG,
    query=ExtensionQuery,
    roles=ROLES,
    media=MEDIA,
    errors=(401, 403, 404, 409, 422),
)
async def extension_request(call: Call) -> web.Response:
    q: ExtensionQuery = call.query
    if q.lang is not None:
        check_lang(q.lang, field="query.lang")
    ctx = context_of(call.request)
    async with call.request.app[DB].read() as session:
        req = await load_request(session, principal=call.principal, request_id=call.params["id"])
        recipient = None
        if q.recipient is not None:
            row = await session.get(OutboxMessage, q.recipient)
            if row is None or row.request_id != req.id:
                raise NotFound(f"request {req.reference} has no recipient {q.recipient}")
            recipient = outbox_recipient(row)
        context = await extension.extension_context(
            session, req, ctx=ctx, lang=q.lang, recipient=recipient
        )
    return await _respond(
        call,
        context,
        name="letter",
        fmt=q.format,
        lang=context["lang"],
        filename="extension-request",
    )
