"""Quarantined mail: replies that could not be matched to a request (requests/messages.py).

A unit's quarantine is what was addressed to the unit (its profile e-mail among the recipients)
but answers none of its requests: its supervisors see it (page /mail, GET /api/v1/mail/quarantine)
and attach each message to one of the unit's requests (audited on that request, with the
proposal read from it) or dismiss it (kept, with who and why). Mail addressed to no unit waits at
the operator's (`preservation mail quarantine`), who hands it to a unit (`preservation mail
assign ID --unit NAME`): the operator sees only sender, subject and size in that list, and a
unit's supervisors decide what it is."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal, Role
from preservation.errors import Conflict, Forbidden, InvalidInput, NotFound
from preservation.requests import messages
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.storage.models import MailMessage, PreservationRequest, Unit

log = logging.getLogger(__name__)
LIMIT = 200


class QuarantinedPublic(messages.MessagePublic):
    #: The envelope recipients (who the MTA delivered it to).
    recipients: list[str]
    #: Why it was not attached, when there is more to say than "no match".
    note: str


class QuarantineList(BaseModel):
    items: list[QuarantinedPublic]


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The unit's request to attach the message to: its id or its reference (PR-2026-000123).
    request: str = Field(min_length=1, max_length=40)
    note: str = Field("", max_length=1000)


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Why it is set aside (kept on the message).
    note: str = Field(min_length=1, max_length=1000)


def _supervisor(principal: Principal) -> None:
    if principal.role != Role.supervisor:
        raise Forbidden("the unit's quarantined mail is for its supervisors")


def _public(row: MailMessage) -> QuarantinedPublic:
    base = messages.to_public(row).model_dump(by_alias=False)
    return QuarantinedPublic(**base, recipients=list(row.recipients or []), note=row.note)


async def list_quarantine(session: AsyncSession, *, principal: Principal) -> QuarantineList:
    """The unit's quarantined mail, newest first (supervisors)."""
    _supervisor(principal)
    rows = (
        await session.execute(
            select(MailMessage)
            .where(MailMessage.unit_id == principal.unit_id, MailMessage.state == "quarantined")
            .order_by(MailMessage.id.desc())
            .limit(LIMIT)
        )
    ).scalars()
    return QuarantineList(items=[_public(r) for r in rows])


async def _quarantined(
    session: AsyncSession, *, unit_id: int | None, message_id: int | str
) -> MailMessage:
    try:
        mid = int(message_id)
    except (TypeError, ValueError):
        raise NotFound("no such message") from None
    row = (
        await session.execute(select(MailMessage).where(MailMessage.id == mid).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.direction != "in" or row.unit_id != unit_id:
        raise NotFound("no such message")
    if row.state != "quarantined":
        raise Conflict(f"message {mid} is {row.state}, not quarantined")
    return row


async def _request_of(
    session: AsyncSession, principal: Principal, value: str
) -> PreservationRequest:
    value = value.strip()
    if messages.REFERENCE.fullmatch(value):
        rid = (
            await session.execute(
                select(PreservationRequest.id).where(
                    PreservationRequest.reference == value.upper(),
                    PreservationRequest.unit_id == principal.unit_id,
                )
            )
        ).scalar_one_or_none()
        if rid is None:
            raise InvalidInput("request", f"the unit has no request {value.upper()}")
        value = str(rid)
    try:
        return await load_request(session, principal=principal, request_id=value)
    except NotFound:
        raise InvalidInput("request", "the unit has no such request") from None


async def attach(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    message_id: int | str,
    data: AttachIn,
) -> messages.MessagePublic:
    """A supervisor attaches a quarantined message to one of the unit's requests (audited on
    the request as "message_attached", with what the message proposes)."""
    _supervisor(principal)
    row = await _quarantined(session, unit_id=principal.unit_id, message_id=message_id)
    req = await _request_of(session, principal, data.request)
    await messages.attach_row(
        session,
        row,
        req,
        ctx=ctx,
        actor=principal.actor,
        action="message_attached",
        matched_by="",
        note=data.note.strip(),
    )
    log.info(
        "quarantined mail attached",
        extra={"action": "mail.attached_by_hand", "mail_id": row.id, "request_id": req.id},
    )
    return messages.to_public(row)


async def dismiss(
    session: AsyncSession, *, principal: Principal, message_id: int | str, data: DismissIn
) -> QuarantinedPublic:
    """A supervisor sets a quarantined message aside (kept, with who and why)."""
    _supervisor(principal)
    row = await _quarantined(session, unit_id=principal.unit_id, message_id=message_id)
    row.state = "dismissed"
    row.handled_by = principal.actor[:200]
    row.note = data.note.strip()
    await session.flush()
    log.info("quarantined mail dismissed", extra={"action": "mail.dismissed", "mail_id": row.id})
    return _public(row)


# --- the operator's quarantine (no unit known): the command line ---------------------------------


async def operator_quarantine(session: AsyncSession) -> list[MailMessage]:
    """Mail addressed to no unit, newest first."""
    return list(
        (
            await session.execute(
                select(MailMessage)
                .where(MailMessage.unit_id.is_(None), MailMessage.state == "quarantined")
                .order_by(MailMessage.id.desc())
                .limit(LIMIT)
            )
        ).scalars()
    )


async def assign(
    session: AsyncSession, *, message_id: int | str, unit: str, actor: str, now: datetime
) -> MailMessage:
    """Hand a message of the operator's quarantine to a unit's quarantine."""
    unit_row = (await session.execute(select(Unit).where(Unit.name == unit))).scalar_one_or_none()
    if unit_row is None:
        raise InvalidInput("--unit", f"no unit named {unit!r}")
    row = await _quarantined(session, unit_id=None, message_id=message_id)
    row.unit_id = unit_row.id
    row.handled_by = actor[:200]
    row.note = f"handed to {unit_row.name} by {actor} at {now.isoformat()}"
    await session.flush()
    log.info(
        "quarantined mail assigned",
        extra={"action": "mail.assigned", "mail_id": row.id, "unit_id": unit_row.id},
    )
    return row
