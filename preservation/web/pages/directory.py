"""Directory pages: search providers and points of contact (or look an identifier up), a
provider's policy and source, a point of contact; the directory role edits entries (no other
role: the directory is shared by every unit); the log of changes. Reads and writes go through
directory_service and directory_lookup, like the JSON API."""

from __future__ import annotations

from datetime import date
from typing import Any

import pycountry
from aiohttp import web

from preservation.directory.snapshot import DirectoryCache
from preservation.errors import Forbidden, InvalidInput, PreservationError
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import current, posted, render, see_other
from preservation.web.pages.forms import FormErrors

PAGES_DIRECTORY = web.AppKey("pages_directory_cache", DirectoryCache)
#: The one role that edits the shared directory.
EDITOR = "directory"
NOTIFIES = ("never", "unless_asked", "always", "unknown")
PROVIDER_LISTS = ("aliases", "domains")
PROVIDER_INTS = ("preservation_days", "extension_days", "max_extensions", "extension_lead_days")
PROVIDER_TEXT = ("name", "country", "portal_url", "le_email", "emergency", "notes")
CONTACT_LISTS = ("phones", "emails", "languages")
CONTACT_TEXT = ("country", "authority", "network", "hours", "notes", "source")


def directory_cache(app: web.Application) -> DirectoryCache:
    """This node's directory snapshot: the API's when it is set up (one per node), else the
    pages' own (rebuilt when the directory version moves)."""
    from preservation.web.api.directory import DIRECTORY

    cache = app.get(DIRECTORY) or app.get(PAGES_DIRECTORY)
    if cache is None:
        raise RuntimeError("setup_pages(app) was not called")
    return cache


async def lookup_for(
    request: web.Request,
    *,
    unit_id: int,
    identifier: str,
    type: str | None = None,
    platform: str | None = None,
) -> Any:
    """GET /api/v1/lookup's answer (directory_lookup.lookup on this node's snapshot, with the
    unit's copy-to-point-of-contact setting)."""
    from preservation.directory.lookup import lookup
    from preservation.web.api.directory import UNIT_SETTINGS

    app = request.app
    snap = await directory_cache(app).current(app[DB].read)
    copy_to_poc = (
        await app[UNIT_SETTINGS].copy_to_poc(app[DB], unit_id) if UNIT_SETTINGS in app else True
    )
    region = await app[UNIT_SETTINGS].country(app[DB], unit_id) if UNIT_SETTINGS in app else None
    return lookup(
        snap,
        identifier=identifier,
        type=type,
        platform=platform,
        copy_to_poc=copy_to_poc,
        today=_today(request),
        max_age_days=app[SETTINGS].staleness_days,
        region=region,
    )


def _today(request: web.Request) -> date:
    return request.app[CLOCK].now().date()


def _split(text: str) -> list[str]:
    """One item per line or comma."""
    return [p.strip() for p in text.replace("\r", "\n").replace(",", "\n").split("\n") if p.strip()]


def _country_name(code: str | None) -> str:
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country is not None else code


async def changes_page(request: web.Request) -> web.StreamResponse:
    """Every change to the shared directory, latest first: who, from which unit, when, and
    each field before and after."""
    from preservation.directory.changes import list_changes

    await current(request)
    raw = request.query.get("cursor", "")
    cursor = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
    key = request.query.get("key", "").strip()[:200] or None
    async with request.app[DB].read() as session:
        rows, nxt = await list_changes(session, key=key, before_seq=cursor, limit=50)
    items = []
    for e in rows:
        before, after = e.before or {}, e.after or {}
        fields = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        items.append(
            {
                "event": e,
                "fields": [
                    {"name": k, "before": _shown(before.get(k)), "after": _shown(after.get(k))}
                    for k in fields
                ],
            }
        )
    return render(
        request, "directory_changes.html", {"items": items, "next": nxt, "key": key or ""}
    )


def _shown(value: Any) -> str:
    import json

    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


async def search(request: web.Request) -> web.StreamResponse:
    from preservation.directory import service as directory_service

    ws = await current(request)
    q = request.query.get("q", "").strip()[:200]
    country = request.query.get("country", "").strip().upper()[:2]
    identifier = request.query.get("identifier", "").strip()[:1000]
    settings = request.app[SETTINGS]
    cache = directory_cache(request.app)
    errors = FormErrors()
    providers: list[Any] = []
    contacts: list[Any] = []
    found = None
    if identifier:
        try:
            found = await lookup_for(request, unit_id=ws.principal.unit_id, identifier=identifier)
        except InvalidInput as exc:
            errors = FormErrors.of(exc.errors)
    async with request.app[DB].read() as session:
        if q or country or not identifier:
            if not country:
                providers = (
                    await directory_service.list_providers(
                        session,
                        cache,
                        q=q or None,
                        today=_today(request),
                        max_age_days=settings.staleness_days,
                        limit=50 if q else 500,
                    )
                ).items
            try:
                contacts = (
                    await directory_service.list_contacts(
                        session,
                        cache,
                        country=country or None,
                        q=q or None,
                        today=_today(request),
                        max_age_days=settings.staleness_days,
                        limit=50 if q else 500,
                    )
                ).items
            except InvalidInput as exc:
                errors = FormErrors.of(exc.errors)
    return render(
        request,
        "directory.html",
        {
            "q": q,
            "country": country,
            "identifier": identifier,
            "providers": providers,
            "contacts": contacts,
            "found": found,
            "errors": errors,
            "countries": sorted((c.alpha_2, c.name) for c in pycountry.countries),
            "country_name": _country_name,
        },
    )


# --- providers -----------------------------------------------------------------------------------


async def provider_page(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    return await _provider_page(request, ws, errors=FormErrors(), values=None)


async def _provider_page(
    request: web.Request,
    ws: Any,
    *,
    errors: FormErrors,
    values: dict[str, Any] | None,
    status: int = 200,
) -> web.Response:
    from preservation.directory import service as directory_service

    settings = request.app[SETTINGS]
    async with request.app[DB].read() as session:
        provider = await directory_service.get_provider(
            session,
            request.match_info["slug"],
            today=_today(request),
            max_age_days=settings.staleness_days,
        )
    if values is None:
        values = _provider_values(provider)
    return render(
        request,
        "provider.html",
        {
            "p": provider,
            "values": values,
            "errors": errors,
            "can_edit": ws.principal.role == EDITOR,
            "notifies": NOTIFIES,
            "country_name": _country_name,
            "done": request.query.get("done") == "saved",
        },
        status=status,
    )


def _provider_values(p: Any) -> dict[str, Any]:
    values: dict[str, Any] = {n: getattr(p, n) or "" for n in PROVIDER_TEXT}
    for n in PROVIDER_LISTS:
        values[n] = "\n".join(getattr(p, n) or [])
    for n in PROVIDER_INTS:
        value = getattr(p, n)
        values[n] = "" if value is None else str(value)
    values["accepts_foreign_direct"] = {True: "true", False: "false", None: ""}[
        p.accepts_foreign_direct
    ]
    values["notifies_user"] = p.notifies_user
    values["verified_on"] = p.verified_on.isoformat() if p.verified_on else ""
    values["platforms"] = "\n".join(p.platforms or [])
    values["entities"] = "\n".join(
        " | ".join((e.region, e.name, e.address)).rstrip(" |") for e in p.entities or []
    )
    source = p.source
    values["source_url"] = source.url if source else ""
    values["source_title"] = source.title if source else ""
    values["source_kind"] = source.kind if source else "provider"
    values["source_published"] = (source.published or "") if source else ""
    return values


def _entities(text: str) -> list[dict[str, str]]:
    """One entity per line: ``region | name | address``."""
    out = []
    for line in text.replace("\r", "").split("\n"):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        while len(parts) < 3:
            parts.append("")
        out.append({"region": parts[0], "name": parts[1], "address": parts[2]})
    return out


def _editor(ws: Any) -> None:
    if ws.principal.role != EDITOR:
        raise Forbidden("only the directory role may change the shared directory")


def _by(request: web.Request, ws: Any) -> Any:
    from preservation.directory.changes import Author

    return Author.of(ws.principal, request.app[CLOCK].now())


async def provider_post(request: web.Request) -> web.StreamResponse:
    from preservation.directory import service as directory_service
    from providers.models import ProviderUpdate

    ws = await current(request)
    _editor(ws)
    data = await posted(request, ws)
    values = {k: str(data.get(k, "")) for k in (*PROVIDER_TEXT, *PROVIDER_LISTS, *PROVIDER_INTS)}
    values["accepts_foreign_direct"] = str(data.get("accepts_foreign_direct", ""))
    values["notifies_user"] = str(data.get("notifies_user", "unknown"))
    values["verified_on"] = str(data.get("verified_on", ""))
    for k in ("platforms", "entities", "source_url", "source_title", "source_published"):
        values[k] = str(data.get(k, ""))
    values["source_kind"] = str(data.get("source_kind", "provider"))
    body: dict[str, Any] = {}
    for n in PROVIDER_TEXT:
        body[n] = values[n].strip() or (None if n in ("country", "portal_url", "le_email") else "")
    for n in PROVIDER_LISTS:
        body[n] = _split(values[n])
    for n in PROVIDER_INTS:
        body[n] = values[n].strip() or None
    body["accepts_foreign_direct"] = {"true": True, "false": False}.get(
        values["accepts_foreign_direct"]
    )
    body["notifies_user"] = values["notifies_user"]
    body["verified_on"] = values["verified_on"].strip() or None
    body["platforms"] = _split(values["platforms"])
    body["entities"] = _entities(values["entities"])
    body["source"] = (
        {
            "url": values["source_url"].strip(),
            "title": values["source_title"].strip(),
            "published": values["source_published"].strip() or None,
            "kind": values["source_kind"],
        }
        if values["source_url"].strip()
        else None
    )
    slug = request.match_info["slug"]
    try:
        change = directory_service.validated(ProviderUpdate, body)
        async with request.app[DB].write() as session:
            await directory_service.update_provider(session, slug, change, by=_by(request, ws))
    except PreservationError as exc:
        if exc.status not in (409, 422):
            raise
        errors = FormErrors.of(exc.errors) if exc.errors else FormErrors.of([])
        if not errors:
            from preservation.errors import FieldError

            errors = FormErrors.of([FieldError(field="provider-form", message=exc.detail)])
        return await _provider_page(request, ws, errors=errors, values=values, status=exc.status)
    directory_cache(request.app).invalidate()
    raise see_other(f"/directory/providers/{slug}?done=saved")


# --- points of contact ---------------------------------------------------------------------------


async def contact_page(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    return await _contact_page(request, ws, errors=FormErrors(), values=None)


def _contact_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def _contact_page(
    request: web.Request,
    ws: Any,
    *,
    errors: FormErrors,
    values: dict[str, Any] | None,
    status: int = 200,
) -> web.Response:
    from preservation.directory import service as directory_service

    settings = request.app[SETTINGS]
    async with request.app[DB].read() as session:
        contact = await directory_service.get_contact(
            session,
            _contact_id(request),
            today=_today(request),
            max_age_days=settings.staleness_days,
        )
    if values is None:
        values = {n: getattr(contact, n) or "" for n in CONTACT_TEXT}
        for n in CONTACT_LISTS:
            values[n] = "\n".join(getattr(contact, n) or [])
        values["accepts_preservation"] = contact.accepts_preservation
        values["verified_on"] = contact.verified_on.isoformat() if contact.verified_on else ""
    return render(
        request,
        "contact.html",
        {
            "c": contact,
            "values": values,
            "errors": errors,
            "can_edit": ws.principal.role == EDITOR,
            "country_name": _country_name,
            "done": request.query.get("done") == "saved",
        },
        status=status,
    )


async def contact_post(request: web.Request) -> web.StreamResponse:
    from contacts.models import ContactUpdate
    from preservation.directory import service as directory_service
    from preservation.errors import FieldError

    ws = await current(request)
    _editor(ws)
    data = await posted(request, ws)
    values: dict[str, Any] = {k: str(data.get(k, "")) for k in (*CONTACT_TEXT, *CONTACT_LISTS)}
    values["accepts_preservation"] = data.get("accepts_preservation") == "on"
    values["verified_on"] = str(data.get("verified_on", ""))
    body: dict[str, Any] = {n: values[n].strip() for n in CONTACT_TEXT}
    for n in CONTACT_LISTS:
        body[n] = _split(values[n])
    body["accepts_preservation"] = values["accepts_preservation"]
    body["verified_on"] = values["verified_on"].strip() or None
    try:
        change = directory_service.validated(ContactUpdate, body)
        async with request.app[DB].write() as session:
            await directory_service.update_contact(
                session, _contact_id(request), change, by=_by(request, ws)
            )
    except PreservationError as exc:
        if exc.status not in (409, 422):
            raise
        errors = FormErrors.of(exc.errors or [FieldError(field="contact-form", message=exc.detail)])
        return await _contact_page(request, ws, errors=errors, values=values, status=exc.status)
    directory_cache(request.app).invalidate()
    raise see_other(f"/directory/contacts/{_contact_id(request)}?done=saved")


def register(app: web.Application) -> None:
    from preservation.web.api.directory import DIRECTORY

    if DIRECTORY not in app:
        app[PAGES_DIRECTORY] = DirectoryCache()
    app.router.add_get("/directory", search)
    app.router.add_get("/directory/changes", changes_page)
    app.router.add_get("/directory/providers/{slug}", provider_page)
    app.router.add_post("/directory/providers/{slug}", provider_post)
    app.router.add_get(r"/directory/contacts/{id:\d{1,10}}", contact_page)
    app.router.add_post(r"/directory/contacts/{id:\d{1,10}}", contact_post)
