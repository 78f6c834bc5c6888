"""Replies come back to the case: a message taken in (by `preservation mail receive` or the LMTP
listener, dispatch/inbound.py) is matched to its request, stored, audited, and read for a
proposal; the letters we sent by e-mail are kept beside them.

Matching, in this order:
1. In-Reply-To, then References (newest first): one of our Message-IDs, <outbox-N.REF@domain>,
   stored on the outbox row N ("in-reply-to", "references");
2. a delivery report (a bounce) carrying one of our Message-IDs in the returned headers
   ("report");
3. our reference, PR-YYYY-NNNNNN, in the subject ("subject").

The unit a message was addressed to is the unit whose profile e-mail is one of its recipients:
the envelope's (LMTP RCPT, or the MTA's pipe argument) first, else Delivered-To, X-Original-To,
To and Cc. A message matched to a request of ANOTHER unit than the one it was addressed to is not
attached (one unit's mail never lands in another's file): it is quarantined at the unit it was
addressed to, which can attach it to one of its own requests.

Unmatched mail is never dropped: it is quarantined for the supervisors of the unit it was
addressed to, or, when no unit's address is among its recipients, at the operator's
(`preservation mail quarantine`, which can hand it to a unit). A message delivered twice (an MTA
retrying after a lost answer) is stored once.

Stored: sender, recipients, subject, the Date header, the text (plain part, or the HTML part as
text) cut at settings.inbound_body_chars, and the attachments as a list of names, types and sizes
(their content is not kept). A reply attached to a request is an audit event of that request, with
what the reply proposes (domain/replies.py): the provider's reference and the preservation date,
which an officer confirms with the ordinary acknowledgement. Nothing here changes a deadline."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.domain import replies
from preservation.requests import audit, delivery, mailparse
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.settings import load_reply_patterns
from preservation.storage.models import MailMessage, OutboxMessage, PreservationRequest, Unit

log = logging.getLogger(__name__)

MAIL_ACTOR = "system:mail"
REFERENCE = re.compile(r"\bPR-\d{4}-\d{6}\b", re.IGNORECASE)
_OUR_ID = re.compile(r"^<?outbox-(\d{1,18})\.", re.IGNORECASE)
SHORT = 1000


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Match:
    request: PreservationRequest
    outbox_id: int | None
    matched_by: str


async def _by_message_id(session: AsyncSession, ids: Sequence[str]) -> OutboxMessage | None:
    for value in ids:
        m = _OUR_ID.match(value)
        if m is None:
            continue
        row = await session.get(OutboxMessage, int(m.group(1)))
        if row is not None and row.message_id.strip("<>").lower() == value.strip("<>").lower():
            return row
    return None


async def match(session: AsyncSession, message: EmailMessage) -> Match | None:
    """The request `message` answers, and how that was found (see the module docstring)."""
    in_reply_to = mailparse.MSG_IDS.findall(mailparse.header(message, "In-Reply-To"))
    references = list(reversed(mailparse.MSG_IDS.findall(mailparse.header(message, "References"))))
    for how, ids in (
        ("in-reply-to", in_reply_to),
        ("references", references),
        ("report", mailparse.reported_ids(message)),
    ):
        row = await _by_message_id(session, ids)
        if row is not None:
            req = await session.get(PreservationRequest, row.request_id)
            if req is not None:
                return Match(request=req, outbox_id=row.id, matched_by=how)
    for reference in REFERENCE.findall(mailparse.header(message, "Subject")):
        req = (
            await session.execute(
                select(PreservationRequest).where(
                    PreservationRequest.reference == reference.upper()
                )
            )
        ).scalar_one_or_none()
        if req is not None:
            return Match(request=req, outbox_id=None, matched_by="subject")
    return None


async def addressed_unit(
    session: AsyncSession, message: EmailMessage, envelope: Sequence[str]
) -> int | None:
    """The one unit whose profile e-mail is among the recipients (envelope first), or None."""
    for candidates in (
        [a.strip().lower() for a in envelope if "@" in a],
        mailparse.addresses(message, "Delivered-To", "X-Original-To", "To", "Cc"),
    ):
        if not candidates:
            continue
        units = (
            await session.execute(
                select(Unit.id).where(func.lower(Unit.email).in_(set(candidates)), Unit.email != "")
            )
        ).scalars()
        found = set(units)
        if len(found) == 1:
            return found.pop()
    return None


# --- proposals ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _patterns_from(path: Path) -> tuple[replies.ReplyPattern, ...]:
    return load_reply_patterns(path)


def patterns_of(ctx: Context) -> tuple[replies.ReplyPattern, ...]:
    return _patterns_from(ctx.settings.reply_patterns_path)


def proposal_for(
    row: MailMessage, req: PreservationRequest, *, ctx: Context
) -> dict[str, Any] | None:
    """What the reply `row` proposes for `req` (JSON), or None."""
    sender_domain = row.from_addr.rpartition("@")[2]
    found = replies.propose(
        subject=row.subject,
        text=row.text,
        sender_domain=sender_domain,
        patterns=patterns_of(ctx),
        not_before=req.sent_at or req.submitted_at or req.created_at,
        not_after=row.at or ctx.clock.now(),
        exclude=[req.reference, req.case_reference],
    )
    return found.as_json() if found is not None else None


# --- taking a message in -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Received:
    #: attached | quarantined | duplicate
    state: str
    message: int | None
    request_id: int | None = None
    unit_id: int | None = None
    matched_by: str = ""


def dedupe_key(message: EmailMessage, raw: bytes) -> str:
    ids = mailparse.MSG_IDS.findall(mailparse.header(message, "Message-ID"))
    if ids:
        return "in:" + hashlib.sha256(ids[0].lower().encode("utf-8")).hexdigest()
    return "in:raw:" + hashlib.sha256(raw).hexdigest()


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def _store(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert one mail_message row; None when its dedupe key is already stored."""
    stmt = (
        _insert(session)(MailMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(MailMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def audit_detail(row: MailMessage, proposal: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "message": row.id,
        "from": row.from_addr[:200],
        "subject": row.subject[:200],
        "matched_by": row.matched_by,
        "attachments": len(row.attachments or []),
        "truncated": row.truncated,
        "proposal": proposal,
    }


async def attach_row(
    session: AsyncSession,
    row: MailMessage,
    req: PreservationRequest,
    *,
    ctx: Context,
    actor: str,
    action: str,
    matched_by: str,
    outbox_id: int | None = None,
    note: str = "",
) -> None:
    """Attach `row` to `req` with its proposal, and audit it (the caller's transaction)."""
    assert req.id is not None
    locked = await delivery.lock_request(session, req.id)
    assert locked is not None
    row.request_id = req.id
    row.unit_id = req.unit_id
    row.state = "attached"
    row.matched_by = matched_by
    if outbox_id is not None:
        row.outbox_id = outbox_id
    row.proposal = proposal_for(row, locked, ctx=ctx)
    if actor != MAIL_ACTOR:
        row.handled_by = actor[:200]
        row.note = note
    await session.flush()
    detail = audit_detail(row, row.proposal)
    if note:
        detail["note"] = note[:500]
    await audit.record(
        session, request_id=req.id, actor=actor, action=action, now=ctx.clock.now(), detail=detail
    )


async def receive(
    session: AsyncSession,
    *,
    ctx: Context,
    raw: bytes,
    envelope_recipients: Sequence[str] = (),
) -> Received:
    """Take in one message (RFC 5322 bytes) in the caller's transaction: UnreadableMail when it
    is not one; otherwise it is attached, quarantined, or recognised as already stored."""
    settings = ctx.settings
    message = mailparse.parse(raw, max_bytes=settings.inbound_max_bytes)
    now = ctx.clock.now()
    key = dedupe_key(message, raw)
    existing = (
        await session.execute(
            select(MailMessage.id, MailMessage.state, MailMessage.request_id).where(
                MailMessage.dedupe_key == key
            )
        )
    ).one_or_none()
    if existing is not None:
        return Received(state="duplicate", message=existing[0], request_id=existing[2])
    text = mailparse.body_text(message)
    limit = settings.inbound_body_chars
    senders = mailparse.addresses(message, "From") or mailparse.addresses(message, "Sender")
    values: dict[str, Any] = {
        "unit_id": None,
        "request_id": None,
        "outbox_id": None,
        "direction": "in",
        "state": "quarantined",
        "matched_by": "",
        "dedupe_key": key,
        "message_id": mailparse.clean(mailparse.header(message, "Message-ID"), SHORT),
        "from_addr": mailparse.clean(
            senders[0] if senders else mailparse.header(message, "From"), SHORT
        ),
        "to_addrs": mailparse.clean(", ".join(mailparse.addresses(message, "To", "Cc")), 4000),
        "recipients": [mailparse.clean(r, 320) for r in list(envelope_recipients)[:50]],
        "subject": mailparse.clean(mailparse.header(message, "Subject"), SHORT),
        "sent_at": mailparse.sent_at(message),
        "at": now,
        "text": mailparse.clean(text, limit),
        "truncated": len(text) > limit,
        "size": len(raw),
        "attachments": mailparse.attachments_of(message),
        "proposal": None,
        "handled_by": "",
        "note": "",
    }
    found = await match(session, message)
    unit_id = await addressed_unit(session, message, envelope_recipients)
    note = ""
    if found is not None and unit_id is not None and unit_id != found.request.unit_id:
        note = "matched a request of another unit: not attached"
        found = None
    values["unit_id"] = unit_id
    values["note"] = note
    row_id = await _store(session, values)
    if row_id is None:  # stored meanwhile by a concurrent delivery of the same message
        return Received(state="duplicate", message=None)
    row = await session.get(MailMessage, row_id)
    assert row is not None
    if found is None:
        log.warning(
            "mail quarantined",
            extra={"action": "mail.quarantined", "mail_id": row_id, "unit_id": unit_id},
        )
        return Received(state="quarantined", message=row_id, unit_id=unit_id)
    await attach_row(
        session,
        row,
        found.request,
        ctx=ctx,
        actor=MAIL_ACTOR,
        action="message_received",
        matched_by=found.matched_by,
        outbox_id=found.outbox_id,
    )
    log.info(
        "mail attached",
        extra={
            "action": "mail.attached",
            "mail_id": row_id,
            "request_id": found.request.id,
            "matched_by": found.matched_by,
        },
    )
    return Received(
        state="attached",
        message=row_id,
        request_id=found.request.id,
        unit_id=found.request.unit_id,
        matched_by=found.matched_by,
    )


async def record_sent(
    session: AsyncSession,
    *,
    row: OutboxMessage,
    message_id: str,
    sender: str,
    subject: str,
    text: str,
    now: datetime,
    body_chars: int,
) -> None:
    """Keep a copy of a letter sent by e-mail (the caller's transaction: the delivery's)."""
    await _store(
        session,
        {
            "unit_id": row.unit_id,
            "request_id": row.request_id,
            "outbox_id": row.id,
            "direction": "out",
            "state": "sent",
            "matched_by": "",
            "dedupe_key": f"out:{row.id}",
            "message_id": mailparse.clean(message_id, SHORT),
            "from_addr": mailparse.clean(sender, SHORT),
            "to_addrs": mailparse.clean(row.to, 4000),
            "recipients": [row.to],
            "subject": mailparse.clean(subject, SHORT),
            "sent_at": now,
            "at": now,
            "text": mailparse.clean(text, body_chars),
            "truncated": len(text) > body_chars,
            "size": len(text.encode("utf-8")),
            "attachments": [],
            "proposal": None,
            "handled_by": "",
            "note": "",
        },
    )


# --- reading -----------------------------------------------------------------------------------


class AttachmentPublic(BaseModel):
    filename: str
    content_type: str
    size: int


class ProposalPublic(BaseModel):
    #: The provider's own reference, as read from the reply.
    provider_reference: str | None
    #: When the provider preserved the data, read on the safe side (see notes).
    preserved_at: str | None
    #: How each value was read.
    notes: list[str] = Field(default_factory=list)


class MessagePublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: int
    #: in | out
    direction: str
    from_: str = Field(alias="from")
    to: str
    subject: str
    #: When it arrived (in) or was sent (out).
    at: datetime
    #: The Date header of a reply.
    sent_at: datetime | None
    text: str
    #: The text was cut (settings.inbound_body_chars).
    truncated: bool
    attachments: list[AttachmentPublic]
    #: in-reply-to | references | report | subject | (empty: attached by a person)
    matched_by: str
    proposal: ProposalPublic | None


class MessageList(BaseModel):
    items: list[MessagePublic]


def to_public(row: MailMessage) -> MessagePublic:
    proposal = row.proposal or None
    return MessagePublic(
        id=row.id or 0,
        direction=row.direction,
        from_=row.from_addr,
        to=row.to_addrs,
        subject=row.subject,
        at=row.at,  # type: ignore[arg-type]
        sent_at=row.sent_at,
        text=row.text,
        truncated=row.truncated,
        attachments=[AttachmentPublic(**a) for a in row.attachments or []],
        matched_by=row.matched_by,
        proposal=ProposalPublic(
            provider_reference=proposal.get("provider_reference"),
            preserved_at=proposal.get("preserved_at"),
            notes=list(proposal.get("notes") or []),
        )
        if proposal and (proposal.get("provider_reference") or proposal.get("preserved_at"))
        else None,
    )


async def list_messages(
    session: AsyncSession, *, principal: Principal, request_id: int | str
) -> MessageList:
    """GET /api/v1/requests/{id}/messages: the request's correspondence, oldest first."""
    req = await load_request(session, principal=principal, request_id=request_id)
    rows = (
        await session.execute(
            select(MailMessage)
            .where(MailMessage.request_id == req.id, MailMessage.state.in_(("attached", "sent")))
            .order_by(MailMessage.at, MailMessage.id)
        )
    ).scalars()
    return MessageList(items=[to_public(r) for r in rows])


# --- who has answered ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecipientReplies:
    """A recipient of a request and whether it has answered (for the reminders)."""

    label: str
    role: str
    channel: str
    sent_at: datetime | None
    answered: bool


def _organisation(domain: str) -> str:
    """The registered part of a domain, roughly: its last two labels, or three under a short
    second-level label (police.co.uk). Enough to tell a provider's reply servers as its own."""
    labels = [x for x in domain.lower().strip(".").split(".") if x]
    keep = 3 if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def _domain_of_recipient(row: OutboxMessage) -> str:
    to = row.to.strip()
    if "@" in to:
        return to.rpartition("@")[2].strip(">").strip()
    from urllib.parse import urlsplit

    return urlsplit(to if "://" in to else f"https://{to}").hostname or ""


async def replies_by_recipient(
    session: AsyncSession, request_ids: Sequence[int]
) -> dict[int, list[RecipientReplies]]:
    """Each request's recipients (the letters delivered or handed to a portal) and whether a
    reply came from each: one that answers its Message-ID, or one from its organisation's
    domain (a provider's confirmation comes from its own mail system, not always as a reply)."""
    if not request_ids:
        return {}
    rows = (
        await session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.request_id.in_(request_ids),
                OutboxMessage.status.in_(("sent", "handoff")),
            )
            .order_by(OutboxMessage.id)
        )
    ).scalars()
    replies_in = (
        await session.execute(
            select(MailMessage.request_id, MailMessage.outbox_id, MailMessage.from_addr).where(
                MailMessage.request_id.in_(request_ids),
                MailMessage.direction == "in",
                MailMessage.state == "attached",
            )
        )
    ).all()
    answered_rows = {outbox_id for _, outbox_id, _ in replies_in if outbox_id is not None}
    sender_orgs: dict[int, set[str]] = {}
    for request_id, _, sender in replies_in:
        sender_orgs.setdefault(request_id, set()).add(_organisation(sender.rpartition("@")[2]))
    out: dict[int, list[RecipientReplies]] = {}
    for row in rows:
        domain = _domain_of_recipient(row)
        answered = row.id in answered_rows or (
            bool(domain) and _organisation(domain) in sender_orgs.get(row.request_id, set())
        )
        label = f"{row.recipient_name} <{row.to}>" if row.recipient_name else row.to
        out.setdefault(row.request_id, []).append(
            RecipientReplies(
                label=label,
                role=row.role,
                channel=row.channel,
                sent_at=row.sent_at,
                answered=answered,
            )
        )
    return out
