"""The transitions after sending over HTTP: acknowledge, extend, mla, close, and the record of a
portal hand-off; the recipients' delivery state. Each POST honours Idempotency-Key: a repeat
with the same key and body returns the first answer and changes nothing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from preservation.access.auth import REQUEST_ROLES
from preservation.requests import actions
from preservation.requests import recipients as recipients_view
from preservation.requests.schemas import RequestPublic
from preservation.web.api.requests import context_of
from preservation.web.endpoints import Api, Call
from preservation.web.idempotent import Work, respond
from preservation.web.keys import DB

api = Api()
ROLES = {str(r) for r in REQUEST_ROLES}
TAG = "requests"
TRANSITION_ERRORS = (400, 401, 403, 404, 409, 422)


async def idempotent(call: Call, *, scope: str, work: Work) -> web.Response:
    ctx = context_of(call.request)

    async def after() -> None:
        ctx.wake()

    return await respond(call, scope=scope, work=work, after=after)


def _scope(call: Call, action: str) -> str:
    return f"POST /api/v1/requests/{call.params['id']}/{action}"


@api.route(
    "POST",
    "/api/v1/requests/{id}/acknowledge",
    summary="Record the provider's acknowledgement (preservation, extension or MLA receipt)",
    tag=TAG,
    body=actions.AcknowledgeIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def acknowledge(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "acknowledge"),
        work=lambda s: actions.acknowledge(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/extend",
    summary="Record that an extension of the preservation was requested",
    tag=TAG,
    body=actions.ExtendIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def extend(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "extend"),
        work=lambda s: actions.extend(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/mla",
    summary="Record that the formal MLA request was sent",
    tag=TAG,
    body=actions.MlaIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def mla(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "mla"),
        work=lambda s: actions.mla(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/mla-received",
    summary="Record that the requested State confirmed receipt of the MLA request",
    tag=TAG,
    body=actions.MlaReceivedIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def mla_received(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "mla-received"),
        work=lambda s: actions.mla_received(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/close",
    summary="Close a preservation request with its outcome",
    tag=TAG,
    body=actions.CloseIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def close(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=_scope(call, "close"),
        work=lambda s: actions.close(
            s, ctx=ctx, principal=call.principal, request_id=call.params["id"], data=call.body
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/recipients/{recipient_id}/submitted",
    summary="Record that the request was filed in the provider's portal",
    tag=TAG,
    body=actions.SubmittedIn,
    response=RequestPublic,
    roles=ROLES,
    errors=TRANSITION_ERRORS,
    idempotent_key=True,
)
async def portal_submitted(call: Call) -> web.Response:
    ctx = context_of(call.request)
    return await idempotent(
        call,
        scope=f"{_scope(call, 'recipients')}/{call.params['recipient_id']}/submitted",
        work=lambda s: actions.portal_submitted(
            s,
            ctx=ctx,
            principal=call.principal,
            request_id=call.params["id"],
            recipient_id=call.params["recipient_id"],
            data=call.body,
        ),
    )


@api.route(
    "POST",
    "/api/v1/requests/{id}/follow-up",
    summary="After an emergency: make the preservation request for the same identifiers",
    tag=TAG,
    response=RequestPublic,
    status=201,
    roles=ROLES,
    errors=(401, 403, 404, 409, 422),
    idempotent_key=True,
)
async def follow_up(call: Call) -> web.Response:
    """The preservation request (a draft, to check and submit) that follows an emergency
    disclosure request: 201 when made, 200 with the same draft when it was made before."""
    from preservation.requests import emergency, idempotency
    from preservation.web.idempotent import REPLAYED, raw_json
    from preservation.web.keys import CLOCK

    ctx = context_of(call.request)
    key = idempotency.check_key(call.request.headers.get(idempotency.HEADER))

    async def run(session: Any) -> tuple[Any, int]:
        public, made = await emergency.follow_up_in_session(
            session, ctx=ctx, principal=call.principal, request_id=call.params["id"]
        )
        return public.model_dump(mode="json"), 201 if made else 200

    outcome = await idempotency.run(
        call.request.app[DB],
        user_id=call.principal.user_id,
        scope=_scope(call, "follow-up"),
        key=key,
        body=await raw_json(call.request) if key is not None else None,
        now=call.request.app[CLOCK].now(),
        work=run,
    )
    headers = {REPLAYED: "true"} if outcome.replayed else {}
    return web.json_response(outcome.body, status=outcome.status, headers=headers)


@api.route(
    "GET",
    "/api/v1/requests/{id}/recipients",
    summary="Show each recipient's delivery state and the portal hand-off tasks",
    tag=TAG,
    response=recipients_view.RecipientList,
    roles=ROLES,
    errors=(401, 403, 404),
)
async def recipients(call: Call) -> recipients_view.RecipientList:
    ctx = context_of(call.request)
    async with call.request.app[DB].read() as session:
        return await recipients_view.recipients(
            session, ctx=ctx, principal=call.principal, request_id=call.params["id"]
        )
