"""The HTML pages of the unit: sign-in, dashboard, new request, request record, directory.

Server-rendered with jinja2 (aiohttp-jinja2); a little JavaScript (static/pages.js) adds the live
look-up and row cloning, and every flow works without it. The pages call the same service
functions as the JSON API: no rule lives here. `preservation.web.pages.setup_pages` registers every page module.

Errors on page routes are answered as HTML (the problem+json middleware stays in charge of /api);
a page that needs a session redirects to /signin."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
import pytz
from aiohttp import web

from preservation.access.auth import REQUEST_ROLES
from preservation.domain.text import control_problem
from preservation.errors import Forbidden, PreservationError, TooManyRequests
from preservation.storage.models import Unit
from preservation.web import sessions
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.forms import field_id
from preservation.web.sessions import WebSession

log = logging.getLogger("preservation.pages")

HERE = Path(__file__).parent.parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
JINJA = web.AppKey("pages_jinja", jinja2.Environment)
SESSION = web.RequestKey("web_session", WebSession)
UNIT_ZONE = web.RequestKey("unit_zone", str)
#: Paths that stay JSON (problem+json errors); everything else is a page.
API_PATHS = ("/api/", "/openapi.json", "/healthz", "/metrics")
REQUEST_ROLE_NAMES = frozenset(str(r) for r in REQUEST_ROLES)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SignInRequired(Exception):
    """The page needs a session."""


def is_page(path: str) -> bool:
    return not path.startswith(API_PATHS)


# --- formatting --------------------------------------------------------------------------------


def _zone(name: str | None) -> Any:
    try:
        return pytz.timezone(name or "UTC")
    except pytz.UnknownTimeZoneError:
        return pytz.UTC


def when(value: datetime | str | None, zone: str | None = "UTC", *, seconds: bool = False) -> str:
    """An instant in the unit's zone: "2026-11-24 20:23 CET"."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=pytz.UTC)
    local = value.astimezone(_zone(zone))
    fmt = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return local.strftime(fmt)


def day(value: datetime | None, zone: str | None = "UTC") -> str:
    if value is None:
        return "–"
    return value.astimezone(_zone(zone)).strftime("%d %b")


def left(value: datetime | None, now: datetime) -> str:
    """ "in 3 days", "in 5 hours", "2 days ago"."""
    if value is None:
        return ""
    delta = value - now
    past = delta < timedelta(0)
    delta = abs(delta)
    if delta >= timedelta(days=2):
        text = f"{delta.days} days"
    elif delta >= timedelta(hours=2):
        text = f"{int(delta.total_seconds() // 3600)} hours"
    else:
        text = f"{max(int(delta.total_seconds() // 60), 1)} minutes"
    return f"{text} ago" if past else f"in {text}"


def setup_jinja(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        app_key=JINJA,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        filters={"when": when, "day": day, "field_id": field_id},
    )


# --- sessions ----------------------------------------------------------------------------------


async def current(request: web.Request) -> WebSession:
    """The request's session, or SignInRequired."""
    existing = request.get(SESSION)
    if existing is not None:
        return existing
    value = request.cookies.get(sessions.SESSION_COOKIE, "")
    if not value:
        raise SignInRequired()
    now = request.app[CLOCK].now()
    idle = timedelta(minutes=request.app[SETTINGS].session_idle_minutes)
    async with request.app[DB].read() as db_session:
        found = await sessions.find_session(db_session, value=value, now=now, idle=idle)
        unit = await db_session.get(Unit, found.principal.unit_id) if found else None
    if found is None:
        raise SignInRequired()
    if found.last_used_at is None or now - found.last_used_at >= sessions.TOUCH_EVERY:
        async with request.app[DB].write() as db_session:
            await sessions.touch_session(db_session, value=value, now=now)
    request[SESSION] = found
    request[UNIT_ZONE] = unit.timezone if unit is not None else "UTC"
    return found


async def officer(request: web.Request) -> WebSession:
    """A session whose role works on requests (officer, supervisor)."""
    ws = await current(request)
    if ws.principal.role not in REQUEST_ROLE_NAMES:
        raise Forbidden(
            f"the {ws.principal.role} role keeps the directory; requests are for officers and"
            " supervisors"
        )
    return ws


async def posted(request: web.Request, ws: WebSession) -> Any:
    """The posted form, after the CSRF check (403 without the session's token)."""
    form = await request.post()
    if not sessions.csrf_ok(ws.csrf, form.get("csrf")):  # type: ignore[arg-type]
        raise Forbidden("the form's security token is missing or wrong: reload the page")
    return form


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    ws = request.get(SESSION)
    now = request.app[CLOCK].now()
    base = {
        "me": ws.principal if ws is not None else None,
        "csrf": ws.csrf if ws is not None else "",
        "path": request.path,
        "zone": request.get(UNIT_ZONE, "UTC"),
        "now": now,
        "left": lambda value: left(value, now),
    }
    body = aiohttp_jinja2.render_string(template, request, {**base, **context}, app_key=JINJA)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def see_other(location: str) -> web.HTTPSeeOther:
    """To raise: the answer to a form that worked (Post/Redirect/Get)."""
    return web.HTTPSeeOther(location=location)


def redirect(location: str) -> web.Response:
    """To return (and set cookies on): 303 See Other."""
    return web.Response(status=303, headers={"Location": location})


def safe_next(target: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if not target:
        return "/"
    if control_problem(target) is not None or any(ch.isspace() for ch in target):
        # A line break would end the Location header (aiohttp refuses it: an empty answer).
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if target.startswith("/signin") or "\\" in target:
        return "/"
    return target


# --- error pages -------------------------------------------------------------------------------

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
}


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Page routes answer in HTML: sign-in redirects, and error pages instead of problem+json."""
    if not is_page(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except SignInRequired:
        target = request.path_qs if request.method == "GET" else "/"
        location = "/signin" if target == "/" else f"/signin?next={quote(target, safe='')}"
        response = redirect(location)
        sessions.clear_cookie(response, request, sessions.SESSION_COOKIE)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_page(request, exc.status, _TITLES.get(exc.status, exc.reason), "")
    except TooManyRequests:
        raise
    except PreservationError as exc:
        return _error_page(request, exc.status, exc.title, exc.detail)


def _error_page(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    if status == 404 and not detail:
        detail = f"There is no page at {request.path}."
    if status == 405 and not detail:
        detail = f"{request.method} is not allowed here."
    return render(
        request, "error.html", {"status": status, "title": title, "detail": detail}, status=status
    )
