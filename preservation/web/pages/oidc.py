"""OpenID Connect sign-in (access/oidc.py): /signin/oidc sends the browser to the identity
provider; /signin/oidc/callback checks its answer and starts a page session.

What the browser carries between the two (state, nonce, PKCE verifier) is a short-lived
cookie on /signin/oidc, SameSite=Lax: the provider sends the browser back with a cross-site
navigation, on which a Strict cookie would not come. For the same reason the callback answers
with a page that moves on by itself (a meta refresh) rather than a redirect: the Strict session
cookie is then sent by the navigation our own page starts."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from preservation.errors import BadRequest, NotFound, PreservationError
from preservation.web import sessions
from preservation.web.auth import LIMITER, client_address
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import REQUEST_ROLE_NAMES, redirect, render, safe_next

if TYPE_CHECKING:
    from preservation.access.oidc import OidcClient

log = logging.getLogger(__name__)
#: access/oidc.py (authlib, joserfc and cryptography: some 12 MB) is imported only where single
#: sign-on is set up.
OIDC: web.AppKey[Any] = web.AppKey("oidc_client", object)
PENDING_COOKIE = "pd_oidc"
CALLBACK = "/signin/oidc/callback"


def _client(request: web.Request) -> OidcClient:
    client = request.app.get(OIDC)
    if client is None:
        raise NotFound("single sign-on is not set up here")
    return client


def _redirect_uri(request: web.Request) -> str:
    base = request.app[SETTINGS].public_url
    return f"{base}{CALLBACK}" if base else sessions.absolute_url(request, CALLBACK)


async def start(request: web.Request) -> web.StreamResponse:
    client = _client(request)
    url, pending = await client.start(
        redirect_uri=_redirect_uri(request), next_path=safe_next(request.query.get("next"))
    )
    response = redirect(url)
    value = base64.urlsafe_b64encode(pending.dump().encode()).decode()
    response.set_cookie(
        PENDING_COOKIE,
        value,
        max_age=600,
        path="/signin/oidc",
        httponly=True,
        samesite="Lax",
        secure=sessions.is_secure(request),
    )
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    client = _client(request)
    address = client_address(request)
    limiter = request.app[LIMITER]
    limiter.check(address)
    now = request.app[CLOCK].now()
    try:
        raw = request.cookies.get(PENDING_COOKIE, "")[:2000]
        from preservation.access.oidc import Pending, person_for

        try:
            pending = Pending.load(base64.urlsafe_b64decode(raw.encode()).decode())
        except ValueError:
            pending = None
        if pending is None:
            raise BadRequest("this sign-in did not start here, or took too long: start again")
        identity = await client.finish(
            query=dict(request.query), pending=pending, redirect_uri=_redirect_uri(request), now=now
        )
        async with request.app[DB].write() as db_session:
            principal = await person_for(
                db_session,
                identity,
                require_mfa=request.app[SETTINGS].oidc_require_mfa,
                now=now,
            )
            value, _ = await sessions.start_session(db_session, principal=principal, now=now)
    except PreservationError as exc:
        if exc.status < 500:
            limiter.fail(address)
        log.info(
            "single sign-on refused",
            extra={"action": "pages.signin.oidc_refused", "status": exc.status},
        )
        raise
    log.info(
        "signed in",
        extra={
            "action": "pages.signin",
            "user": principal.actor,
            "role": principal.role,
            "how": "oidc",
        },
    )
    target = pending.next
    if principal.role not in REQUEST_ROLE_NAMES and target == "/":
        target = "/directory"
    response = render(request, "signed_in.html", {"target": safe_next(target)})
    sessions.set_cookie(
        response, request, sessions.SESSION_COOKIE, value, max_age=sessions.SESSION_HOURS * 3600
    )
    response.del_cookie(PENDING_COOKIE, path="/signin/oidc")
    return response


def register(app: web.Application) -> None:
    settings = app[SETTINGS]
    if settings.oidc_enabled:
        from preservation.access.oidc import OidcClient

        app[OIDC] = OidcClient(settings)
    app.router.add_get("/signin/oidc", start)
    app.router.add_get(CALLBACK, callback)
