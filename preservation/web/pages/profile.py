"""The person's own page: who they are here, their API tokens (made with a label and an expiry,
shown once, revoked here), and their password (changing it ends every page session)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from preservation.access import passwords
from preservation.access.people import needs_second_factor
from preservation.access.tokens import (
    change_password,
    create_own_token,
    own_tokens,
    revoke_own_token,
)
from preservation.errors import FieldError, InvalidInput
from preservation.storage.models import User
from preservation.web import sessions
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import current, posted, redirect, render, see_other
from preservation.web.pages.forms import FormErrors
from preservation.web.sessions import WebSession

log = logging.getLogger(__name__)


async def _page(
    request: web.Request,
    ws: WebSession,
    *,
    errors: FormErrors | None = None,
    new_token: str = "",
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    now = request.app[CLOCK].now()
    async with request.app[DB].read() as db_session:
        user = await db_session.get(User, ws.principal.user_id)
        tokens = await own_tokens(db_session, user_id=ws.principal.user_id, now=now)
    assert user is not None
    settings = request.app[SETTINGS]
    return render(
        request,
        "profile.html",
        {
            "person": user,
            "has_password": bool(user.password_hash),
            "second_factor": user.totp_enabled_at is not None,
            "needs_second_factor": needs_second_factor(user.role),
            "tokens": tokens,
            "new_token": new_token,
            "errors": errors or FormErrors(),
            "values": values or {"label": "", "days": str(settings.api_token_days)},
            "max_days": settings.api_token_days,
            "min_length": settings.password_min_length,
            "done": request.query.get("done", ""),
        },
        status=status,
    )


async def profile(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    return await _page(request, ws)


async def token_create(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    form = await posted(request, ws)
    values = {"label": str(form.get("label", "")), "days": str(form.get("days", ""))}
    settings = request.app[SETTINGS]
    try:
        try:
            days = int(values["days"])
        except ValueError:
            raise InvalidInput("days", "must be a whole number of days") from None
        async with request.app[DB].write() as db_session:
            token = await create_own_token(
                db_session,
                principal=ws.principal,
                label=values["label"],
                days=days,
                max_days=settings.api_token_days,
                now=request.app[CLOCK].now(),
            )
    except InvalidInput as exc:
        return await _page(request, ws, errors=FormErrors.of(exc.errors), values=values, status=422)
    log.info("token made", extra={"action": "pages.token_created", "user": ws.principal.actor})
    # Shown once, on this answer (not after a redirect: it is stored nowhere).
    return await _page(request, ws, new_token=token)


async def token_revoke(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    form = await posted(request, ws)
    async with request.app[DB].write() as db_session:
        await revoke_own_token(
            db_session,
            user_id=ws.principal.user_id,
            prefix=str(form.get("prefix", ""))[:12],
            now=request.app[CLOCK].now(),
        )
    raise see_other("/profile?done=revoked")


async def password_change(request: web.Request) -> web.StreamResponse:
    ws = await current(request)
    form = await posted(request, ws)
    new = str(form.get("new_password", ""))
    try:
        passwords.check_policy(
            new,
            min_length=request.app[SETTINGS].password_min_length,
            name=ws.principal.user_name,
        )
        if new != str(form.get("new_password2", "")):
            raise InvalidInput("new_password2", "the two passwords differ")
        new_hash = await asyncio.to_thread(passwords.hash_password, new)
        async with request.app[DB].write() as db_session:
            await change_password(
                db_session,
                user_id=ws.principal.user_id,
                current=str(form.get("current", ""))[:1001],
                new_hash=new_hash,
                now=request.app[CLOCK].now(),
            )
    except InvalidInput as exc:
        field = exc.field or "current"
        errors = FormErrors.of(
            [
                FieldError(
                    field="new_password" if field == "password" else field, message=m.message
                )
                for m in exc.errors
            ]
        )
        return await _page(request, ws, errors=errors, status=422)
    log.info("password changed", extra={"action": "pages.password", "user": ws.principal.actor})
    response = redirect("/signin")
    sessions.clear_cookie(response, request, sessions.SESSION_COOKIE)
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/profile", profile)
    app.router.add_post("/profile/tokens", token_create)
    app.router.add_post("/profile/tokens/revoke", token_revoke)
    app.router.add_post("/profile/password", password_change)
