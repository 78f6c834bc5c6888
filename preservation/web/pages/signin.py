"""Sign-in with a token, and sign-out: the page session's start and end."""

from __future__ import annotations

import logging

from aiohttp import web

from preservation.access.auth import principal_for_token
from preservation.errors import Forbidden
from preservation.web import sessions
from preservation.web.auth import LIMITER, client_address
from preservation.web.keys import CLOCK, DB
from preservation.web.pages.base import (
    REQUEST_ROLE_NAMES,
    current,
    posted,
    redirect,
    render,
    safe_next,
)

log = logging.getLogger(__name__)


async def signin_form(request: web.Request) -> web.StreamResponse:
    return _signin_page(request, error="", status=200)


def _signin_page(request: web.Request, *, error: str, status: int) -> web.Response:
    import secrets

    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        {
            "signin_csrf": token,
            "next": safe_next(request.query.get("next")),
            "error": error,
        },
        status=status,
    )
    sessions.set_cookie(response, request, sessions.SIGNIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    expected = request.cookies.get(sessions.SIGNIN_CSRF_COOKIE, "")
    if not expected or not sessions.csrf_ok(expected, form.get("csrf")):  # type: ignore[arg-type]
        raise Forbidden("the sign-in form's security token is missing or wrong: reload the page")
    address = client_address(request)
    limiter = request.app[LIMITER]
    limiter.check(address)
    token = str(form.get("token", "")).strip()
    now = request.app[CLOCK].now()
    principal = None
    if token and len(token) <= 200:
        async with request.app[DB].read() as db_session:
            principal = await principal_for_token(db_session, token)
    if principal is None:
        limiter.fail(address)
        log.info("sign-in refused", extra={"action": "pages.signin.refused"})
        return _signin_page(
            request, error="That token is not valid (or it was revoked).", status=401
        )
    async with request.app[DB].write() as db_session:
        value, _ = await sessions.start_session(db_session, principal=principal, now=now)
    log.info(
        "signed in",
        extra={"action": "pages.signin", "user": principal.actor, "role": principal.role},
    )
    target = safe_next(str(form.get("next", "")))
    if principal.role not in REQUEST_ROLE_NAMES and target == "/":
        target = "/directory"
    response = redirect(target)
    sessions.set_cookie(
        response, request, sessions.SESSION_COOKIE, value, max_age=sessions.SESSION_HOURS * 3600
    )
    sessions.clear_cookie(response, request, sessions.SIGNIN_CSRF_COOKIE)
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    await posted(request, ws)
    async with request.app[DB].write() as db_session:
        await sessions.end_session(db_session, value=ws.value, now=request.app[CLOCK].now())
    log.info("signed out", extra={"action": "pages.signout", "user": ws.principal.actor})
    response = redirect("/signin")
    sessions.clear_cookie(response, request, sessions.SESSION_COOKIE)
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/signin", signin_form)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
