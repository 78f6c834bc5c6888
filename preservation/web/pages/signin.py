"""Sign-in and sign-out: the page session's start and end.

A person signs in with name, password and code (access/signin.py); an account without a
password may still use an API token while `token_signin` is on; OpenID Connect sign-in is in
web/pages/oidc.py. Every way ends in `begin_session`."""

from __future__ import annotations

import logging

from aiohttp import web

from preservation.access.auth import Principal, principal_for_token
from preservation.access.signin import DEVICE_DAYS, Policy, device_hash, sign_in
from preservation.errors import Forbidden
from preservation.storage.models import User
from preservation.web import sessions
from preservation.web.auth import LIMITER, FailureLimiter, client_address
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import (
    REQUEST_ROLE_NAMES,
    current,
    posted,
    redirect,
    render,
    safe_next,
)

log = logging.getLogger(__name__)
DEVICE_COOKIE = "pd_device"
#: Failed sign-ins per minute from one remembered browser (its person's lock does not apply).
DEVICE_LIMITER = web.AppKey("device_limiter", FailureLimiter)


async def signin_form(request: web.Request) -> web.StreamResponse:
    return _signin_page(request, error="", status=200)


def _signin_page(
    request: web.Request,
    *,
    error: str,
    status: int,
    field: str = "",
    user: str = "",
    next_path: str | None = None,
) -> web.Response:
    import secrets

    settings = request.app[SETTINGS]
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        {
            "signin_csrf": token,
            "next": safe_next(next_path if next_path is not None else request.query.get("next")),
            "error": error,
            "field": field,
            "user": user,
            "token_signin": settings.token_signin,
            "oidc_label": settings.oidc_label if settings.oidc_enabled else "",
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
    if "token" in form and "user" not in form:
        return await _token_signin(request, form, address)
    settings = request.app[SETTINGS]
    now = request.app[CLOCK].now()
    login = str(form.get("user", "")).strip()[:64]
    next_path = str(form.get("next", ""))
    device = request.cookies.get(DEVICE_COOKIE, "")[:100]
    device_key = f"device:{device_hash(device)}" if device else ""
    if device_key:
        request.app[DEVICE_LIMITER].check(device_key)
    outcome = await sign_in(
        request.app[DB],
        login=login,
        password=str(form.get("password", ""))[:1001],
        code=str(form.get("otp", ""))[:40],
        device=device,
        now=now,
        policy=Policy(
            lock_after=settings.signin_lock_after, lock_minutes=settings.signin_lock_minutes
        ),
    )
    if outcome.principal is None:
        limiter.fail(address)
        if device_key:
            request.app[DEVICE_LIMITER].fail(device_key)
        log.info(
            "sign-in refused",
            extra={"action": "pages.signin.refused", "locked": outcome.locked_until is not None},
        )
        return _signin_page(
            request,
            error=outcome.message,
            status=401,
            field=outcome.field,
            user=login,
            next_path=next_path,
        )
    response = await begin_session(request, outcome.principal, next_path, how="password")
    if outcome.device:
        sessions.set_cookie(
            response, request, DEVICE_COOKIE, outcome.device, max_age=DEVICE_DAYS * 86400
        )
    return response


async def _token_signin(request: web.Request, form, address: str) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    """The sign-in of accounts without a password (see `token_signin`)."""
    limiter = request.app[LIMITER]
    token = str(form.get("token", "")).strip()
    now = request.app[CLOCK].now()
    principal = None
    if request.app[SETTINGS].token_signin and token and len(token) <= 200:
        async with request.app[DB].read() as db_session:
            principal = await principal_for_token(db_session, token, now=now)
            owner = await db_session.get(User, principal.user_id) if principal else None
        if owner is not None and (owner.password_hash or owner.oidc_subject):
            # A person with a password (or single sign-on) uses it, and their second factor.
            principal = None
    if principal is None:
        limiter.fail(address)
        log.info("sign-in refused", extra={"action": "pages.signin.refused"})
        return _signin_page(
            request,
            error="That token is not valid (or it was revoked), or its owner signs in with a"
            " name and password.",
            status=401,
            field="token",
            next_path=str(form.get("next", "")),
        )
    return await begin_session(request, principal, str(form.get("next", "")), how="token")


async def begin_session(
    request: web.Request, principal: Principal, next_path: str, *, how: str
) -> web.Response:
    """Start a page session for `principal` and send the browser on (303)."""
    now = request.app[CLOCK].now()
    async with request.app[DB].write() as db_session:
        value, _ = await sessions.start_session(db_session, principal=principal, now=now)
    log.info(
        "signed in",
        extra={
            "action": "pages.signin",
            "user": principal.actor,
            "role": principal.role,
            "how": how,
        },
    )
    target = safe_next(next_path)
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
    app[DEVICE_LIMITER] = FailureLimiter(5)
    app.router.add_get("/signin", signin_form)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
