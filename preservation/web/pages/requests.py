"""Request pages: the new-request form (check, then submit), the request record with its letter,
recipients, actions, deadline plan and audit trail, and the JSON look-up the form's script asks.

Every write goes through the service functions the API uses (create/patch/submit in
requests.create, requests.submit and requests.change, the transitions in requests.actions)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pycountry
import pytz
from aiohttp import web
from pydantic import BaseModel

from preservation.documents.letter import available_languages
from preservation.errors import Conflict, FieldError, InvalidInput, NotFound
from preservation.requests import actions, change, documents, idempotency, listing, messages, view
from preservation.requests import create as creation
from preservation.requests import recipients as recipients_view
from preservation.requests.schemas import RequestCreate, RequestPatch
from preservation.requests.submit import submit_request
from preservation.web.api.requests import context_of
from preservation.web.endpoints import parse_model
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import UNIT_ZONE, officer, posted, render, see_other
from preservation.web.pages.directory import directory_cache, lookup_for
from preservation.web.pages.forms import (
    CATEGORIES,
    IDENTIFIER_TYPES,
    MAX_ROWS,
    FormErrors,
    IdentifierRow,
    RequestForm,
    dst_choices,
    form_from_public,
    parse_form,
)
from preservation.web.pages.paste import picked_rows, read_paste

#: Actions offered on the record page, in the order shown.
ACTIONS = ("submit", "acknowledge", "extend", "mla", "mla-received", "close")
ACTION_MODELS: dict[str, type[BaseModel]] = {
    "acknowledge": actions.AcknowledgeIn,
    "extend": actions.ExtendIn,
    "mla": actions.MlaIn,
    "mla-received": actions.MlaReceivedIn,
    "close": actions.CloseIn,
}
ACTION_FIELDS = {
    "acknowledge": ("provider_reference", "preserved_at", "tz", "dst"),
    "extend": ("requested_at", "tz", "dst"),
    "mla": ("reference", "sent_at", "tz", "dst"),
    "mla-received": ("received_at", "tz", "dst"),
    "close": ("outcome", "note"),
}
DONE = {
    "created": "The draft was saved.",
    "submitted": "The request was submitted: it is queued for sending.",
    "acknowledge": "The acknowledgement was recorded.",
    "extend": "The extension request was recorded.",
    "mla": "The MLA request was recorded.",
    "mla-received": "The receipt of the MLA request was recorded.",
    "close": "The request was closed.",
    "portal": "The portal submission was recorded.",
}
OUTCOMES = ("produced", "refused", "withdrawn", "not_found")


# --- shared choices ------------------------------------------------------------------------------


def _countries() -> list[tuple[str, str]]:
    return sorted((c.alpha_2, c.name) for c in pycountry.countries)


async def _choices(request: web.Request) -> dict[str, Any]:
    from preservation.directory import service as directory_service

    ctx = context_of(request)
    settings = request.app[SETTINGS]
    today = request.app[CLOCK].now().date()
    async with request.app[DB].read() as session:
        providers = await directory_service.list_providers(
            session,
            directory_cache(request.app),
            q=None,
            today=today,
            max_age_days=settings.staleness_days,
        )
    regimes = sorted(
        ((k, r) for k, r in ctx.regimes.items() if not r.template and r.in_force),
        key=lambda kr: kr[0],
    )
    return {
        "regimes": regimes,
        "languages": available_languages(),
        "zones": pytz.common_timezones,
        "countries": _countries(),
        "providers": [(p.slug, p.name) for p in providers.items],
        "identifier_types": IDENTIFIER_TYPES,
        "categories": CATEGORIES,
        "max_rows": MAX_ROWS,
    }


# --- the new-request form ----------------------------------------------------------------------


async def new_form(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    draft = request.query.get("draft")
    if draft:
        public = await view.get_request(request.app[DB], principal=ws.principal, request_id=draft)
        if public.status != "draft":
            raise see_other(f"/requests/{public.id}")
        form = form_from_public(public)
    else:
        form = RequestForm()
        form.values["lang"] = "en"
        zone = request.get(UNIT_ZONE, "UTC")
        form.rows = [IdentifierRow(tz=zone if zone != "UTC" else "")]
    form.form_key = secrets.token_urlsafe(16)
    return await _form_page(request, form, errors=FormErrors(), public=None, lookups={})


async def _form_page(
    request: web.Request,
    form: RequestForm,
    *,
    errors: FormErrors,
    public: Any,
    lookups: dict[int, Any],
    status: int = 200,
    notice: str = "",
    paste: dict[str, Any] | None = None,
) -> web.Response:
    rows = []
    for index, row in enumerate(form.rows):
        messages = [m for ident, _, m in errors.items if ident.startswith(f"identifiers-{index}-")]
        choices = dst_choices(messages)
        if choices is None and row.dst in ("true", "false"):
            choices = [
                ("true", "summer time (the earlier instant)"),
                ("false", "standard time (the later instant)"),
            ]
        rows.append(
            {"index": index, "row": row, "dst_choices": choices, "lookup": lookups.get(index)}
        )
    return render(
        request,
        "request_new.html",
        {
            **(await _choices(request)),
            "form": form,
            "rows": rows,
            "errors": errors,
            "public": public,
            "notice": notice,
            "paste": paste or {},
        },
        status=status,
    )


async def _lookups(request: web.Request, ws: Any, form: RequestForm) -> dict[int, Any]:
    """What the directory says about each identifier of the form (shown beside its row)."""
    out: dict[int, Any] = {}
    for index, row in enumerate(form.rows):
        if not row.value.strip():
            continue
        try:
            out[index] = await lookup_for(
                request,
                unit_id=ws.principal.unit_id,
                identifier=row.value.strip(),
                type=row.type or None,
                platform=row.platform.strip() or None,
            )
        except InvalidInput as exc:
            out[index] = {"error": "; ".join(e.message for e in exc.errors) or exc.detail}
    return out


async def new_post(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    data = await posted(request, ws)
    form = parse_form(data, getall=lambda name: data.getall(name, []))
    action = str(data.get("action", "check"))
    if action == "add_row":
        form.rows.append(IdentifierRow(tz=form.rows[-1].tz if form.rows else ""))
        form.rows = form.rows[:MAX_ROWS]
        return await _form_page(request, form, errors=FormErrors(), public=None, lookups={})
    if action == "extract":
        paste = await read_paste(request, ws, data)
        return await _form_page(
            request, form, errors=FormErrors(), public=None, lookups={}, paste=paste
        )
    if action == "add_picked":
        picked = picked_rows([str(t) for t in data.getall("pick", [])])
        form.rows = ([r for r in form.rows if not r.blank()] + picked)[:MAX_ROWS] or [
            IdentifierRow()
        ]
        notice = f"{len(picked)} identifier(s) added from the pasted text." if picked else ""
        return await _form_page(
            request, form, errors=FormErrors(), public=None, lookups={}, notice=notice
        )
    if action.startswith("remove_row_"):
        try:
            del form.rows[int(action.removeprefix("remove_row_"))]
        except (ValueError, IndexError):
            pass
        form.rows = form.rows or [IdentifierRow()]
        return await _form_page(request, form, errors=FormErrors(), public=None, lookups={})
    form.compact()
    submit = action == "submit"
    db = request.app[DB]
    ctx = context_of(request)
    body = form.body()
    public = None
    try:
        if form.draft_id:
            patch = parse_model(RequestPatch, body)
            try:
                public = await change.patch_request(
                    db, ctx=ctx, principal=ws.principal, request_id=form.draft_id, change=patch
                )
            except Conflict:
                # Already submitted (a second click, another tab): show what happened.
                raise see_other(f"/requests/{form.draft_id}") from None
            if submit:
                public = await submit_request(
                    db, ctx=ctx, principal=ws.principal, request_id=form.draft_id
                )
        else:
            public = await _create(request, ws, body={**body, "submit": submit}, key=form.form_key)
            form.draft_id = str(public["id"] if isinstance(public, dict) else public.id)
            if not submit:
                public = await view.get_request(
                    db, principal=ws.principal, request_id=form.draft_id
                )
    except InvalidInput as exc:
        errors = FormErrors.of(exc.errors or [FieldError(field="body", message=exc.detail)])
        if public is None and form.draft_id:
            public = await view.get_request(db, principal=ws.principal, request_id=form.draft_id)
        return await _form_page(
            request,
            form,
            errors=errors,
            public=public,
            lookups=await _lookups(request, ws, form),
            status=422,
        )
    if submit:
        raise see_other(f"/requests/{form.draft_id}?done=submitted")
    for name in ("provider", "country"):
        # What the service took from the identifiers (requests/addressee.py), shown in the form.
        if not form.values.get(name) and getattr(public, name, None):
            form.values[name] = str(getattr(public, name))
    return await _form_page(
        request,
        form,
        errors=FormErrors(),
        public=public,
        lookups=await _lookups(request, ws, form),
        notice=f"Draft {public.reference} saved. Check the list below, then submit.",
    )


async def _create(request: web.Request, ws: Any, *, body: dict[str, Any], key: str) -> Any:
    """POST /api/v1/requests through the same service, under the form's own idempotency key so a
    second click of the same form creates nothing more."""
    data = parse_model(RequestCreate, body)
    ctx = context_of(request)
    scope = "PAGE /requests/new " + ("submit" if data.submit else "check")
    created: list[creation.Created] = []

    async def work(session: Any) -> tuple[Any, int]:
        result = await creation.create_in_session(
            session, ctx=ctx, principal=ws.principal, data=data
        )
        created.append(result)
        return result.public.model_dump(mode="json"), 201

    try:
        checked = idempotency.check_key(key) if key else None
    except InvalidInput:
        checked = None
    outcome = await idempotency.run(
        request.app[DB],
        user_id=ws.principal.user_id,
        scope=scope,
        key=checked,
        body=body,
        now=request.app[CLOCK].now(),
        work=work,
    )
    if created and not outcome.replayed:
        await creation.after_create(request.app[DB], ctx, created[-1])
    return outcome.body


# --- the request record --------------------------------------------------------------------------


async def record(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    return await _record_page(request, ws, request.match_info["id"])


async def _record_page(
    request: web.Request,
    ws: Any,
    request_id: str,
    *,
    action_errors: dict[str, FormErrors] | None = None,
    action_values: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> web.Response:
    db = request.app[DB]
    ctx = context_of(request)
    public = await view.get_request(
        db, principal=ws.principal, request_id=request_id, regimes=context_of(request).regimes
    )
    async with db.read() as session:
        recipients = await recipients_view.recipients(
            session, ctx=ctx, principal=ws.principal, request_id=request_id
        )
        correspondence = await messages.list_messages(
            session, principal=ws.principal, request_id=request_id
        )
    events = await listing.list_events(db, principal=ws.principal, request_id=request_id)
    async with db.read() as session:
        listed = await documents.list_documents(
            session, ctx=ctx, principal=ws.principal, request_id=request_id
        )
    done = DONE.get(request.query.get("done", ""), "")
    errors = action_errors or {}
    values = action_values or {}
    dst = {a: dst_choices(m for _, _, m in e.items) for a, e in errors.items()}
    return render(
        request,
        "request_record.html",
        {
            "r": public,
            "recipients": recipients.items,
            "messages": correspondence.items,
            "documents": listed.items,
            "events": [
                {**e.model_dump(), "detail_text": json.dumps(e.detail, ensure_ascii=False)}
                for e in events.items
            ],
            "allowed": [a for a in ACTIONS if a in public.allowed_actions],
            "errors": errors,
            "values": values,
            "dst": dst,
            "done": done,
            "outcomes": OUTCOMES,
            "zones": pytz.common_timezones,
            "empty_errors": FormErrors(),
        },
        status=status,
    )


async def action_post(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    data = await posted(request, ws)
    request_id = request.match_info["id"]
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound(f"no action {action!r}")
    db = request.app[DB]
    ctx = context_of(request)
    values = {k: str(data.get(k, "")) for k in ACTION_FIELDS.get(action, ())}
    try:
        if action == "submit":
            await submit_request(db, ctx=ctx, principal=ws.principal, request_id=request_id)
            raise see_other(f"/requests/{request_id}?done=submitted")
        body: dict[str, Any] = {}
        for key, value in values.items():
            value = value.strip()
            if key == "dst":
                if value in ("true", "false"):
                    body["dst"] = value == "true"
            elif value or key in ("provider_reference", "reference", "note"):
                body[key] = value
        model = parse_model(ACTION_MODELS[action], body)
        run = getattr(actions, action.replace("-", "_"))
        async with db.write() as session:
            await run(session, ctx=ctx, principal=ws.principal, request_id=request_id, data=model)
        ctx.wake()
    except (InvalidInput, Conflict) as exc:
        errors = FormErrors.of(
            exc.errors or [FieldError(field=f"{action}-form", message=exc.detail)]
        )
        return await _record_page(
            request,
            ws,
            request_id,
            action_errors={action: errors},
            action_values={action: values},
            status=exc.status,
        )
    raise see_other(f"/requests/{request_id}?done={action}")


async def portal_post(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    data = await posted(request, ws)
    request_id = request.match_info["id"]
    body: dict[str, Any] = {"portal_reference": str(data.get("portal_reference", "")).strip()}
    for key in ("submitted_at", "tz"):
        value = str(data.get(key, "")).strip()
        if value:
            body[key] = value
    if str(data.get("dst", "")) in ("true", "false"):
        body["dst"] = data.get("dst") == "true"
    ctx = context_of(request)
    try:
        model = parse_model(actions.SubmittedIn, body)
        async with request.app[DB].write() as session:
            await actions.portal_submitted(
                session,
                ctx=ctx,
                principal=ws.principal,
                request_id=request_id,
                recipient_id=request.match_info["rid"],
                data=model,
            )
        ctx.wake()
    except (InvalidInput, Conflict) as exc:
        return await _record_page(
            request,
            ws,
            request_id,
            action_errors={
                "portal": FormErrors.of(
                    exc.errors or [FieldError(field="portal-form", message=exc.detail)]
                )
            },
            action_values={"portal": {k: str(v) for k, v in body.items()}},
            status=exc.status,
        )
    raise see_other(f"/requests/{request_id}?done=portal")


LETTER_TYPES = {"html": "html", "txt": "text", "pdf": "pdf"}
#: The letter carries its own inline stylesheet and no script: it is shown in a sandboxed frame
#: of the record page, under a policy of its own.
LETTER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)


async def letter(request: web.Request) -> web.StreamResponse:
    ws = await officer(request)
    fmt = LETTER_TYPES.get(request.match_info["fmt"])
    if fmt is None:
        raise NotFound("no such letter format")
    body, content_type = await view.render_request_letter(
        request.app[DB],
        ctx=context_of(request),
        principal=ws.principal,
        request_id=request.match_info["id"],
        fmt=fmt,
        lang=None,
    )
    media, _, charset = content_type.partition("; charset=")
    response = web.Response(body=body, content_type=media, charset=charset or None)
    if fmt == "html":
        response.headers["Content-Security-Policy"] = LETTER_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        disposition = "inline" if fmt == "pdf" else "attachment"
        name = f"request-{request.match_info['id']}.{request.match_info['fmt']}"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response


# --- the look-up the form's script asks ----------------------------------------------------------


async def lookup_json(request: web.Request) -> web.StreamResponse:
    """GET /lookup.json?identifier=...&type=...: GET /api/v1/lookup for a signed-in browser
    (the API itself takes bearer tokens only)."""
    ws = await officer(request)
    try:
        result = await lookup_for(
            request,
            unit_id=ws.principal.unit_id,
            identifier=request.query.get("identifier", "")[:1000],
            type=request.query.get("type") or None,
            platform=request.query.get("platform") or None,
        )
    except InvalidInput as exc:
        return web.json_response({"errors": [e.as_dict() for e in exc.errors]}, status=422)
    # The look-up answers JSON-ready data (a LookupResult's shape).
    data = result if isinstance(result, dict) else result.model_dump(mode="json")
    return web.json_response(data)


def register(app: web.Application) -> None:
    app.router.add_get("/requests/new", new_form)
    app.router.add_post("/requests/new", new_post)
    app.router.add_get(r"/requests/{id:\d+}", record)
    app.router.add_get(r"/requests/{id:\d+}/letter.{fmt:html|txt|pdf}", letter)
    app.router.add_post(r"/requests/{id:\d+}/recipients/{rid:\d+}/submitted", portal_post)
    app.router.add_post(r"/requests/{id:\d+}/{action:[a-z]+(?:-[a-z]+)?}", action_post)
    app.router.add_get("/lookup.json", lookup_json)
