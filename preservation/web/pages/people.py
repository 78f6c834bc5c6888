"""The unit's people, for its supervisors: who may sign in, with which role; add a person
(their enrolment link is shown once), change a role, disable or enable, and reset a lost
password or authenticator (a new enrolment link). The same use cases as `preservation user`.

A supervisor grants the roles of access/people.py UNIT_ROLES and manages only people holding
them, never their own account; the other roles are granted on the command line."""

from __future__ import annotations

import logging

from aiohttp import web

from preservation.access import people
from preservation.errors import FieldError, Forbidden, InvalidInput, PreservationError
from preservation.storage.models import Unit
from preservation.web import sessions
from preservation.web.keys import CLOCK, DB, SETTINGS
from preservation.web.pages.base import current, posted, render, see_other
from preservation.web.pages.forms import FormErrors
from preservation.web.sessions import WebSession

log = logging.getLogger(__name__)
MANAGERS = ("supervisor", "admin")
FIELDS = ("user", "display_name", "function", "role")


async def _manager(request: web.Request) -> WebSession:
    ws = await current(request)
    if ws.principal.role not in MANAGERS:
        raise Forbidden("only a supervisor manages the unit's people")
    return ws


def enrolment_url(request: web.Request, value: str) -> str:
    base = request.app[SETTINGS].public_url
    path = f"/enrol/{value}"
    return f"{base}{path}" if base else sessions.absolute_url(request, path)


async def _page(
    request: web.Request,
    ws: WebSession,
    *,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    link: tuple[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    now = request.app[CLOCK].now()
    async with request.app[DB].read() as db_session:
        found = await people.list_people(db_session, now=now, unit_id=ws.principal.unit_id)
    return render(
        request,
        "people.html",
        {
            "people": found,
            "errors": errors or FormErrors(),
            "values": values or {"user": "", "display_name": "", "function": "", "role": "officer"},
            "roles": [str(r) for r in people.UNIT_ROLES],
            "link": link,
            "done": request.query.get("done", ""),
        },
        status=status,
    )


async def people_page(request: web.Request) -> web.StreamResponse:
    ws = await _manager(request)
    return await _page(request, ws)


async def add(request: web.Request) -> web.StreamResponse:
    ws = await _manager(request)
    form = await posted(request, ws)
    values = {f: str(form.get(f, "")) for f in FIELDS}
    now = request.app[CLOCK].now()
    try:
        if values["role"] not in people.UNIT_ROLES:
            raise InvalidInput("role", "a supervisor grants " + " or ".join(people.UNIT_ROLES))
        async with request.app[DB].write() as db_session:
            unit = await db_session.get(Unit, ws.principal.unit_id)
            assert unit is not None
            added = await people.add_person(
                db_session,
                unit=unit.name,
                name=values["user"],
                role=values["role"],
                display_name=values["display_name"],
                function=values["function"],
                now=now,
                enrolment_hours=request.app[SETTINGS].enrolment_hours,
                create_unit=False,
            )
    except PreservationError as exc:
        if exc.status not in (409, 422):
            raise
        errors = exc.errors or [FieldError(field="user", message=exc.detail)]
        return await _page(request, ws, errors=FormErrors.of(errors), values=values, status=422)
    log.info("person added", extra={"action": "pages.person_added", "by": ws.principal.actor})
    assert added.enrolment is not None and added.user.login is not None
    link = (added.user.login, enrolment_url(request, added.enrolment))
    return await _page(request, ws, link=link)


async def _target(request: web.Request, ws: WebSession, db_session):  # type: ignore[no-untyped-def]
    user = await people.find_person(
        db_session, request.match_info["name"], unit_id=ws.principal.unit_id
    )
    assert ws.principal.user_id is not None
    people.may_manage(ws.principal.role, ws.principal.user_id, user)
    return user


async def set_role(request: web.Request) -> web.StreamResponse:
    ws = await _manager(request)
    form = await posted(request, ws)
    role = str(form.get("role", ""))
    if role not in people.UNIT_ROLES:
        raise Forbidden(f"the {role or 'empty'} role is granted on the command line")
    async with request.app[DB].write() as db_session:
        user = await _target(request, ws, db_session)
        await people.set_role(db_session, user=user, role=role)
    raise see_other("/unit/people?done=role")


async def disable(request: web.Request) -> web.StreamResponse:
    ws = await _manager(request)
    await posted(request, ws)
    async with request.app[DB].write() as db_session:
        user = await _target(request, ws, db_session)
        await people.disable_person(db_session, user=user, now=request.app[CLOCK].now())
    log.info("person disabled", extra={"action": "pages.person_disabled", "by": ws.principal.actor})
    raise see_other("/unit/people?done=disabled")


async def enable(request: web.Request) -> web.StreamResponse:
    ws = await _manager(request)
    await posted(request, ws)
    async with request.app[DB].write() as db_session:
        user = await _target(request, ws, db_session)
        await people.enable_person(db_session, user=user)
    raise see_other("/unit/people?done=enabled")


async def reset(request: web.Request) -> web.StreamResponse:
    ws = await _manager(request)
    await posted(request, ws)
    async with request.app[DB].write() as db_session:
        user = await _target(request, ws, db_session)
        value = await people.reset_person(
            db_session,
            user=user,
            now=request.app[CLOCK].now(),
            hours=request.app[SETTINGS].enrolment_hours,
        )
        name = user.login or user.name
    log.info("person reset", extra={"action": "pages.person_reset", "by": ws.principal.actor})
    return await _page(request, ws, link=(name, enrolment_url(request, value)))


def register(app: web.Application) -> None:
    app.router.add_get("/unit/people", people_page)
    app.router.add_post("/unit/people", add)
    app.router.add_post("/unit/people/{name}/role", set_role)
    app.router.add_post("/unit/people/{name}/disable", disable)
    app.router.add_post("/unit/people/{name}/enable", enable)
    app.router.add_post("/unit/people/{name}/reset", reset)
