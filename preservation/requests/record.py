"""Records of what was sent elsewhere: a preservation request that a unit sent outside the
service (by its own mail, a provider's portal, a call to a 24/7 point of contact) before it used
the service, or while it was down, recorded so that its deadlines are tracked like any other.

POST /api/v1/requests with "record_only": true and "sent_at" (optionally "preserved_at" and
"provider_reference"), or `preservation request import` for many (requests/record_import.py):
- nothing is dispatched: no outbox row, no letter sent;
- the request is made as a draft by the ordinary creation path (the same checks of identifiers,
  regime, route), then moved through the lifecycle table to sent (and preserved, when the
  provider's confirmation is recorded) at the dates given;
- those dates are in the past (never in the future; a date alone is read on the safe side, the
  start of that day in the custodian's State), and preserved_at is not before sent_at;
- the deadlines and reminders run from those dates (a reminder already due is delivered at once,
  the latest of each kind only: requests/reminder_plan.py);
- the audit trail says it was recorded after the fact, and by whom ("recorded", after "create").
Events recorded later on such a request (acknowledge, extend, mla) may predate its record, never
its sending (requests/actions.py: earliest_event)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.domain.lifecycle import Action, transition
from preservation.errors import FieldError, InvalidInput
from preservation.requests import audit
from preservation.requests import reminder_plan as reminders
from preservation.requests.actions import parse_instant
from preservation.requests.create import Created, PreparedCreate, create_in_session
from preservation.requests.schemas import RequestCreate
from preservation.requests.view import to_public
from preservation.runtime.context import Context
from preservation.storage.models import PreservationRequest, Reminder

#: The fields that belong to a record of a request sent elsewhere.
RECORD_FIELDS = ("sent_at", "preserved_at", "provider_reference", "tz", "dst")


def check_fields(data: RequestCreate) -> None:
    """422 naming each field given where it does not belong (pure)."""
    errors: list[FieldError] = []
    if not data.record_only:
        for name in ("sent_at", "preserved_at", "provider_reference"):
            if getattr(data, name):
                errors.append(
                    FieldError(
                        field=name,
                        message='only for a request sent elsewhere ("record_only": true)',
                    )
                )
    else:
        if not data.sent_at:
            errors.append(
                FieldError(field="sent_at", message="is required: when the request was sent")
            )
        if data.submit:
            errors.append(
                FieldError(
                    field="submit",
                    message="a request sent elsewhere is recorded, not sent again: leave it out",
                )
            )
    if errors:
        raise InvalidInput(errors=errors)


async def record_in_session(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    data: RequestCreate,
    prepared: PreparedCreate,
    view: bool = True,
) -> Created:
    """Create the request `data` describes as sent outside the service, in the caller's
    transaction (see the module docstring). 422 naming the field for a bad date. `view=False`
    (an import, which needs only the id and reference): the answer's view is the draft's."""
    check_fields(data)
    now = prepared.now
    draft = data.model_copy(
        update={
            "record_only": False,
            "submit": False,
            "sent_at": None,
            "preserved_at": None,
            "provider_reference": "",
            "tz": None,
            "dst": None,
        }
    )
    created = await create_in_session(
        session, ctx=ctx, principal=principal, data=draft, prepared=replace(prepared, data=draft)
    )
    # populate_existing: an id freed by a rolled-back savepoint (an import's bad row) may be
    # handed out again while the session still remembers the row that had it.
    req = await session.get(PreservationRequest, created.public.id, populate_existing=True)
    assert req is not None and req.id is not None
    country = req.country or (req.route or {}).get("country")
    notes: dict[str, str] = {}
    sent_at = parse_instant(
        data.sent_at,
        field="sent_at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        country=country,
        notes=notes,
    )
    preserved_at = None
    if data.preserved_at:
        preserved_at = parse_instant(
            data.preserved_at,
            field="preserved_at",
            tz=data.tz,
            dst=data.dst,
            now=now,
            country=country,
            notes=notes,
        )
        if preserved_at < sent_at:
            raise InvalidInput("preserved_at", "is before sent_at: nothing is preserved unasked")

    old = req.status
    status = transition(transition(old, Action.SUBMIT), Action.DISPATCH)
    if preserved_at is not None:
        status = transition(status, Action.ACKNOWLEDGE)
    req.status = status.value
    req.record_only = True
    req.submitted_at = sent_at
    req.sent_at = sent_at
    req.preserved_at = preserved_at
    req.provider_reference = data.provider_reference.strip()
    req.updated_at = now
    req.version += 1
    detail: dict[str, Any] = {
        "from": old,
        "to": req.status,
        "recorded_after_the_fact": True,
        "recorded_by": principal.actor,
        "sent_at": sent_at.isoformat(),
        "preserved_at": preserved_at.isoformat() if preserved_at else None,
        "provider_reference": req.provider_reference,
        "note": "sent outside the service; nothing was dispatched by it",
    }
    if notes:
        detail["dates"] = notes
    # The plan, as `replan` would write it, without reading: a request just made has no
    # reminder rows (one multi-row INSERT: an import records hundreds).
    planned = reminders.plan_new(
        req, ctx=ctx, policy=await reminders.provider_policy(session, req.provider), now=now
    )
    rows = reminders.new_rows(unit_id=req.unit_id, request_id=req.id, planned=planned, now=now)
    if rows:
        await session.execute(insert(Reminder.__table__), rows)
    if req.expires_at is not None and req.expires_at <= now:
        warning = (
            f"counted from the dates recorded, the preservation expired on"
            f" {req.expires_at.isoformat()}: send a new preservation request if the data are"
            " still needed"
        )
        req.warnings = list(dict.fromkeys([*(req.warnings or []), warning]))
        detail["expired"] = req.expires_at.isoformat()
    await audit.record(
        session, request_id=req.id, actor=principal.actor, action="recorded", now=now, detail=detail
    )
    await session.flush()
    public = await to_public(session, req, regimes=ctx.regimes) if view else created.public
    # Reminders already due (the acknowledgement that never came, say) go out at once.
    return Created(
        public=public,
        submitted=False,
        due=req.next_reminder_at is not None and req.next_reminder_at <= now,
        directory_stale=created.directory_stale,
    )
