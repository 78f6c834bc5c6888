"""What comes back about an EPOC-PR through the national IT system, recorded by the unit in the
names of ETSI TS 104 144 V1.2.1 (domain/epoc.py NOTICES): the addressee's receipt, its "data
preserved" notice, a non-execution (Form 3, Annex III) with its reason code and the 5-day window
to answer, the end of preservation sent, a withdrawal confirmed. The service receives none of
them itself: the national system does (Regulation (EU) 2023/1543, Art. 19(1)).

Receipt and "data preserved" change the clock (domain/epoc_clock.py); the others are records,
with reminders for the non-execution window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from preservation.access.auth import Principal
from preservation.domain import epoc as rules
from preservation.domain.lifecycle import Action, Status, transition
from preservation.domain.text import MultiLine, SingleLine
from preservation.errors import Conflict
from preservation.requests import reminder_plan as reminders
from preservation.requests.actions import _WithZone, parse_instant
from preservation.requests.epoc import NOTICE_KINDS, _finish, _order, locked
from preservation.requests.schemas import RequestPublic
from preservation.runtime.context import Context

NoticeType = Literal[
    "Received", "DataPreserved", "NonExecution", "EndPreservation", "ConfirmationOfWithdrawal"
]
ReasonCode = Literal[
    "Incomplete",
    "ManifestErrors",
    "InsufficientInformation",
    "DataNotHeld",
    "DeFactoImpossibility",
    "InvalidIssuingAuthority",
    "OffenceNotCovered",
    "ServiceNotCovered",
    "ImmunitiesOrPrivileges",
    "ConflictOfLaw",
]
assert set(NoticeType.__args__) == set(rules.NOTICES)  # type: ignore[attr-defined]
assert set(ReasonCode.__args__) == set(rules.NON_EXECUTION_REASONS)  # type: ignore[attr-defined]

#: The states a notice may be recorded in: after transmission, and closed for the two that
#: follow the end.
ISSUED = (Status.SENT, Status.PRESERVED, Status.MLA_SENT)


class NoticeIn(_WithZone):
    #: The ETSI TS 104 144 name of what came back (domain/epoc.py NOTICES).
    type: NoticeType
    #: When it happened (the national system's date); default: now.
    at: str | None = Field(None, min_length=1, max_length=64)
    #: NonExecution: the Annex III reason, in the ETSI reason codes.
    reason: ReasonCode | None = None
    #: What the notice says (the addressee's explanation, affected data categories ...).
    details: MultiLine = Field("", max_length=4000)
    #: DataPreserved: the addressee's reference.
    provider_reference: SingleLine = Field("", max_length=200)

    @model_validator(mode="after")
    def _reason(self) -> NoticeIn:
        if self.type == "NonExecution" and self.reason is None:
            raise ValueError("reason: a non-execution notice names its Annex III reason code")
        if self.type != "NonExecution" and self.reason is not None:
            raise ValueError("reason: only a non-execution notice has a reason code")
        return self


async def record_notice(
    session: Any,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: NoticeIn,
) -> RequestPublic:
    """POST /api/v1/requests/{id}/epoc-pr/notices: record what the national IT system reports.
    409 where the state does not fit it (nothing transmitted; an end or withdrawal of an order
    not closed), saying why."""
    now = ctx.clock.now()
    req = await locked(session, principal=principal, request_id=request_id)
    order = await _order(session, req, now=now)
    old = req.status
    status = Status(old)
    closed = status is Status.CLOSED
    if data.type in ("EndPreservation", "ConfirmationOfWithdrawal"):
        if not closed or order.end_notice is None:
            raise Conflict(
                f"a {data.type} notice follows the end of the order: close the request first"
                " (it drafts the end-of-preservation notice, Art. 11(3))"
            )
        if data.type == "ConfirmationOfWithdrawal" and req.outcome != "withdrawn":
            raise Conflict("the request was not closed as withdrawn")
    elif status not in ISSUED:
        raise Conflict(
            f"request {req.reference} is {old}: a {data.type} notice comes after the EPOC-PR was"
            " transmitted (POST .../epoc-pr/transmitted)"
        )
    at = parse_instant(
        data.at,
        field="at",
        tz=data.tz,
        dst=data.dst,
        now=now,
        not_before=req.sent_at or req.created_at,
    )
    notice: dict[str, Any] = {
        "type": data.type,
        "at": at.isoformat(),
        "recorded_at": now.isoformat(),
        "by": principal.actor,
        "meaning": rules.NOTICES[data.type],
    }
    if data.details.strip():
        notice["details"] = data.details.strip()
    if data.type == "Received":
        if req.received_at is not None:
            raise Conflict(f"the receipt was already recorded ({req.received_at.isoformat()})")
        req.received_at = at
    elif data.type == "DataPreserved":
        req.status = transition(old, Action.ACKNOWLEDGE).value
        if req.preserved_at is None:
            req.preserved_at = at
        reference = data.provider_reference.strip()
        if reference:
            req.provider_reference = reference
            notice["provider_reference"] = reference
    elif data.type == "NonExecution":
        assert data.reason is not None
        respond_by = at + timedelta(days=rules.CORRECTION_DAYS)
        notice.update(
            reason=data.reason,
            reason_text=rules.NON_EXECUTION_REASONS[data.reason],
            respond_by=respond_by.isoformat(),
            window=rules.CORRECTION_SOURCE,
        )
        await _window_reminders(session, req, notice=notice, respond_by=respond_by, now=now)
    elif data.type == "EndPreservation":
        # The Art. 11(3) notice went out: the reminder in the warnings is done.
        req.warnings = [w for w in req.warnings or [] if not w.startswith("Art. 11(3):")]
    order.notices = [*order.notices, notice]
    order.updated_at = now
    if closed:
        # A record, not a transition: no state leaves closed.
        return await _record_only(session, req, ctx=ctx, principal=principal, notice=notice)
    return await _finish(
        session,
        req,
        ctx=ctx,
        principal=principal,
        action="epoc-notice",
        old=old,
        now=now,
        detail={k: v for k, v in notice.items() if k != "meaning"},
    )


async def _record_only(
    session: Any, req: Any, *, ctx: Context, principal: Principal, notice: dict[str, Any]
) -> RequestPublic:
    from preservation.requests import audit
    from preservation.requests.view import to_public

    now = ctx.clock.now()
    req.updated_at = now
    req.version += 1
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action="epoc-notice",
        now=now,
        detail={k: v for k, v in notice.items() if k != "meaning"},
    )
    await session.flush()
    return await to_public(session, req, regimes=ctx.regimes)


async def _window_reminders(
    session: Any, req: Any, *, notice: dict[str, Any], respond_by: Any, now: Any
) -> None:
    """A day before the window closes, and when it closes: the unit and the issuing authority
    must answer the non-execution (correct, clarify or withdraw) within it."""
    text = (
        f"[{req.reference}] The addressee reported it cannot execute the EPOC-PR"
        f" ({notice['reason']}: {notice['reason_text']}). Answer through the national IT system"
        f" by {respond_by:%Y-%m-%d %H:%M} UTC: correct or clarify the order, or withdraw it"
        f" ({rules.CORRECTION_SOURCE})."
    )
    stamp = f"{respond_by:%Y%m%dT%H%M%SZ}"
    rows = [
        {
            "unit_id": req.unit_id,
            "request_id": req.id,
            "kind": NOTICE_KINDS[0],
            "key": f"{req.id}:epoc_nonexecution:{label}:{stamp}",
            "due_at": due,
            "created_at": now,
            "payload": {
                "text": text,
                "subject": f"[{req.reference}] non-execution: answer by"
                f" {respond_by:%Y-%m-%d %H:%M} UTC",
            },
        }
        for label, due in (("1d", respond_by - timedelta(days=1)), ("due", respond_by))
        if due >= now
    ]
    if rows:
        await reminders.insert_reminders(session, rows)
    else:
        notice["window_passed"] = True
