"""A request's correspondence (replies taken in, letters sent by e-mail) and the unit's
quarantined mail over HTTP. A reply's proposal is confirmed with the ordinary
POST /api/v1/requests/{id}/acknowledge."""

from __future__ import annotations

from preservation.access.auth import REQUEST_ROLES, Role
from preservation.requests import messages, quarantine
from preservation.web.api.requests import context_of
from preservation.web.endpoints import Api, Call
from preservation.web.keys import DB

api = Api()
ROLES = {str(r) for r in REQUEST_ROLES}
SUPERVISORS = {str(Role.supervisor)}
TAG = "mail"


@api.route(
    "GET",
    "/api/v1/requests/{id}/messages",
    summary="List a request's correspondence: replies received and letters sent by e-mail",
    tag="requests",
    response=messages.MessageList,
    roles=ROLES,
    errors=(401, 403, 404),
)
async def request_messages(call: Call) -> messages.MessageList:
    async with call.request.app[DB].read() as session:
        return await messages.list_messages(
            session, principal=call.principal, request_id=call.params["id"]
        )


@api.route(
    "GET",
    "/api/v1/mail/quarantine",
    summary="List the unit's quarantined mail (replies that matched none of its requests)",
    tag=TAG,
    response=quarantine.QuarantineList,
    roles=SUPERVISORS,
    errors=(401, 403),
)
async def list_quarantine(call: Call) -> quarantine.QuarantineList:
    async with call.request.app[DB].read() as session:
        return await quarantine.list_quarantine(session, principal=call.principal)


@api.route(
    "POST",
    "/api/v1/mail/quarantine/{id}/attach",
    summary="Attach a quarantined message to one of the unit's requests",
    tag=TAG,
    body=quarantine.AttachIn,
    response=messages.MessagePublic,
    roles=SUPERVISORS,
    errors=(400, 401, 403, 404, 409, 422),
)
async def attach(call: Call) -> messages.MessagePublic:
    ctx = context_of(call.request)
    async with call.request.app[DB].write() as session:
        return await quarantine.attach(
            session, ctx=ctx, principal=call.principal, message_id=call.params["id"], data=call.body
        )


@api.route(
    "POST",
    "/api/v1/mail/quarantine/{id}/dismiss",
    summary="Set a quarantined message aside (kept, with who and why)",
    tag=TAG,
    body=quarantine.DismissIn,
    response=quarantine.QuarantinedPublic,
    roles=SUPERVISORS,
    errors=(400, 401, 403, 404, 409, 422),
)
async def dismiss(call: Call) -> quarantine.QuarantinedPublic:
    async with call.request.app[DB].write() as session:
        return await quarantine.dismiss(
            session, principal=call.principal, message_id=call.params["id"], data=call.body
        )
