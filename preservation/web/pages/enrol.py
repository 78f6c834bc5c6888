"""The enrolment page: /enrol/<link> sets a person's password and second factor (access/
enrolment.py) and shows their recovery codes once.

No session exists yet: the form's CSRF token is the sign-in form's (a random cookie and the
same value in a hidden field). The link's value is in the path; the service logs route
templates, never paths, and every page is sent with Referrer-Policy: no-referrer."""

from __future__ import annotations

import asyncio
import logging
import secrets

from aiohttp import web
from markupsafe import Markup

from preservation.access import passwords, totp
from preservation.access.enrolment import Enrolment, complete_enrolment, open_enrolment
from preservation.errors import FieldError, Forbidden, InvalidInput
from preservation.web import sessions
from preservation.web.auth import LIMITER, client_address
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import render
from preservation.web.pages.forms import FormErrors

log = logging.getLogger(__name__)


def _page(
    request: web.Request, enrolment: Enrolment, *, errors: FormErrors, status: int = 200
) -> web.Response:
    token = secrets.token_urlsafe(24)
    secret = enrolment.secret
    response = render(
        request,
        "enrol.html",
        {
            "enrolment": enrolment,
            "qr": Markup(totp.qr_svg(enrolment.uri)),  # segno's own SVG: no user text in it
            "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "errors": errors,
            "signin_csrf": token,
            "min_length": request.app[SETTINGS].password_min_length,
        },
        status=status,
    )
    sessions.set_cookie(response, request, sessions.SIGNIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def enrol_form(request: web.Request) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    async with request.app[DB].write() as db_session:
        enrolment = await open_enrolment(db_session, value=request.match_info["value"], now=now)
    return _page(request, enrolment, errors=FormErrors())


async def enrol(request: web.Request) -> web.StreamResponse:
    value = request.match_info["value"]
    form = await request.post()
    expected = request.cookies.get(sessions.SIGNIN_CSRF_COOKIE, "")
    if not expected or not sessions.csrf_ok(expected, form.get("csrf")):  # type: ignore[arg-type]
        raise Forbidden("the form's security token is missing or wrong: reload the page")
    address = client_address(request)
    limiter = request.app[LIMITER]
    limiter.check(address)
    now = request.app[CLOCK].now()
    async with request.app[DB].write() as db_session:
        enrolment = await open_enrolment(db_session, value=value, now=now)
    password = str(form.get("password", ""))
    try:
        password_hash = None
        if enrolment.needs_password:
            passwords.check_policy(
                password,
                min_length=request.app[SETTINGS].password_min_length,
                name=enrolment.login,
            )
            if password != str(form.get("password2", "")):
                raise InvalidInput("password2", "the two passwords differ")
            password_hash = await asyncio.to_thread(passwords.hash_password, password)
        async with request.app[DB].write() as db_session:
            codes = await complete_enrolment(
                db_session,
                value=value,
                password_hash=password_hash,
                code=str(form.get("otp", ""))[:40],
                now=now,
            )
    except InvalidInput as exc:
        if exc.field == "otp":
            limiter.fail(address)
        errors = FormErrors.of(exc.errors or [FieldError(field="otp", message=exc.detail)])
        return _page(request, enrolment, errors=errors, status=422)
    log.info("enrolled", extra={"action": "pages.enrolled", "user": enrolment.login})
    response = render(request, "enrol_done.html", {"codes": codes, "login": enrolment.login})
    sessions.clear_cookie(response, request, sessions.SIGNIN_CSRF_COOKIE)
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/enrol/{value}", enrol_form)
    app.router.add_post("/enrol/{value}", enrol)
