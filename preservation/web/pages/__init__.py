"""The pages: server-rendered HTML for people (dashboard, request form and record, directory,
unit profile, sign-in).

Owns the page handlers, their templates (web/templates) and static files (web/static). Each page
module exposes `register(app)`; `setup_pages` registers them from one table, so no page module
imports another's handlers except through `base` (shared rendering, session and error helpers).
May import everything below the web layer and `preservation.web` helpers; nothing imports it but
`preservation.web.app`."""

from __future__ import annotations

from aiohttp import web

from preservation.web.pages import (
    dashboard,
    directory,
    documents,
    emergency,
    enrol,
    mail,
    oidc,
    people,
    profile,
    request_list,
    requests,
    signin,
    unit,
)
from preservation.web.pages.base import STATIC, page_middleware, setup_jinja

#: Every page module, in the order its routes are registered.
PAGES = (
    signin,
    oidc,
    enrol,
    dashboard,
    request_list,
    emergency,
    documents,
    requests,
    mail,
    directory,
    unit,
    people,
    profile,
)


def setup_pages(app: web.Application) -> None:
    """Register the pages, their static files and their error handling on `app`."""
    setup_jinja(app)
    app.middlewares.append(page_middleware)
    for page in PAGES:
        page.register(app)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
