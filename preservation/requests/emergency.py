"""Emergency disclosure requests (issue 20): the facts an emergency must give, the preservation
request that follows it, and the unanswered emergencies a unit sees first.

An emergency is a request of `kind` "emergency": a danger of death or serious physical injury,
why the normal process is too slow, the data needed, and the officer's direct line. It goes to
the provider's emergency channel or the requested State's 24/7 point of contact
(directory/routing.py), rests on its own instrument (domain/instruments.py `for_emergency`), is
followed up in hours (domain/deadlines.py `plan_emergency`) and is answered with `acknowledge`
(or closed). The data disclosed in an emergency usually still need the formal request to be used
in court: `follow_up` makes the preservation request for the same identifiers, as a draft."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.validation import phone_e164
from preservation.access.auth import Principal
from preservation.domain.lifecycle import Status
from preservation.errors import Conflict, FieldError, InvalidInput
from preservation.requests import audit
from preservation.requests.schemas import EmergencyIn, RequestPublic
from preservation.runtime.context import Context
from preservation.storage import partial
from preservation.storage.db import Database
from preservation.storage.models import PreservationRequest, RequestIdentifier

EMERGENCY = "emergency"
PRESERVATION = "preservation"
#: The facts an emergency must give, each named in the 422 when missing.
FACTS = {
    "threat": "the danger of death or serious physical injury: who is at risk, from what",
    "why_now": "why the normal process (preservation, then the formal request) is too slow",
    "data_needed": "the data needed and how they answer the threat",
    "callback_phone": "the officer's direct line, in international format (+...)",
}
#: An emergency still waiting for the provider's answer (recorded with `acknowledge`), or not
#: sent yet: listed first on the dashboard.
UNANSWERED = (Status.DRAFT.value, Status.QUEUED.value, Status.SENT.value)
#: At most this many on the dashboard (a unit has a handful at a time).
DASHBOARD_MAX = 20


def is_emergency(req: Any) -> bool:
    return getattr(req, "kind", PRESERVATION) == EMERGENCY


def check_facts(kind: str, emergency: EmergencyIn | None) -> dict[str, str] | None:
    """An emergency's facts, cleaned (the callback line in E.164), or None for a preservation;
    InvalidInput naming every missing or invalid field (`emergency.threat`, ...) otherwise, and
    `emergency` when facts are given for a preservation request. Pure."""
    if kind != EMERGENCY:
        if emergency is not None:
            raise InvalidInput(
                "emergency", 'only an emergency request ("kind": "emergency") has these facts'
            )
        return None
    given = emergency.model_dump() if emergency is not None else {}
    facts = {name: str(given.get(name) or "").strip() for name in FACTS}
    errors = [
        FieldError(field=f"emergency.{name}", message=f"required for an emergency request: {what}")
        for name, what in FACTS.items()
        if not facts[name]
    ]
    if facts["callback_phone"]:
        try:
            facts["callback_phone"] = phone_e164(facts["callback_phone"])
        except ValueError as exc:
            errors.append(FieldError(field="emergency.callback_phone", message=str(exc)))
    if errors:
        raise InvalidInput(errors=errors)
    return facts


def declared_detail(req: Any) -> dict[str, Any]:
    """The audit detail of the declaration: why it is an emergency, and the line to call back."""
    facts = req.emergency or {}
    return {
        "reference": req.reference,
        **{name: facts.get(name, "") for name in FACTS},
    }


# --- after the emergency: the preservation request -----------------------------------------------


def _follow_up_texts(src: PreservationRequest, sent: datetime | None) -> dict[str, str]:
    facts = src.emergency or {}
    when = f" (sent {sent:%Y-%m-%d %H:%M} UTC)" if sent else ""
    origin = f"Emergency disclosure request {src.reference}{when}: {facts.get('threat', '')}"
    return {
        "summary": "\n\n".join(p for p in (src.summary.strip(), origin) if p),
        "relevance": src.relevance.strip() or str(facts.get("data_needed", "")),
        "necessity": (
            f"The data were asked for in an emergency ({src.reference}); they must be preserved"
            " so that the formal request can obtain them in a form usable in court."
        ),
    }


async def follow_up_in_session(
    session: AsyncSession, *, ctx: Context, principal: Principal, request_id: int | str
) -> tuple[RequestPublic, bool]:
    """POST /api/v1/requests/{id}/follow-up: a preservation request (a draft, to check and
    submit) for the identifiers of the emergency request `request_id`, in the caller's
    transaction. Returns it and True when made now; a second call returns the same draft and
    False. 409 unless the request is an emergency that was submitted."""
    from preservation.requests.assessment import assess, identifier_warnings
    from preservation.requests.delivery import lock_request
    from preservation.requests.references import next_reference
    from preservation.requests.view import load_identifiers, load_request, load_unit, to_public

    src = await load_request(session, principal=principal, request_id=request_id)
    assert src.id is not None
    src = await lock_request(session, src.id) or src
    if not is_emergency(src):
        raise Conflict(f"{src.reference} is not an emergency request: nothing to follow up")
    if src.status == Status.DRAFT:
        raise Conflict(f"{src.reference} is a draft: submit the emergency request first")
    done = (src.emergency or {}).get("follow_up")
    if done:
        existing = await session.get(PreservationRequest, int(done["id"]))
        if existing is not None:
            return await to_public(session, existing, regimes=ctx.regimes), False
    now = ctx.clock.now()
    texts = _follow_up_texts(src, src.sent_at or src.submitted_at)
    new = PreservationRequest(
        reference=await next_reference(session, now=now),
        unit_id=src.unit_id,
        created_by=principal.user_id,
        status=Status.DRAFT.value,
        kind=PRESERVATION,
        case_reference=src.case_reference,
        offence=src.offence,
        summary=texts["summary"],
        relevance=texts["relevance"],
        necessity=texts["necessity"],
        regime="",
        regime_asked=False,
        country=src.country,
        provider=src.provider,
        data_categories=list(src.data_categories or []),
        confidential=src.confidential,
        mla_to_follow=True,
        lang=src.lang,
        created_at=now,
        updated_at=now,
    )
    session.add(new)
    await session.flush()
    assert new.id is not None
    rows = []
    for row in await load_identifiers(session, src.id):
        rows.append(
            RequestIdentifier(
                request_id=new.id,
                **{
                    name: getattr(row, name)
                    for name in RequestIdentifier.model_fields
                    if name not in ("id", "request_id")
                },
            )
        )
    session.add_all(rows)
    unit = await load_unit(session, new.unit_id)
    await assess(
        session,
        new,
        parsed_warnings=identifier_warnings(rows),
        identifiers=len(rows),
        unit=unit,
        ctx=ctx,
    )
    await audit.record(
        session,
        request_id=new.id,
        actor=principal.actor,
        action="create",
        now=now,
        detail={
            "reference": new.reference,
            "regime": new.regime,
            "country": new.country,
            "provider": new.provider,
            "identifiers": len(rows),
            "follows_emergency": src.reference,
        },
    )
    src.emergency = {
        **(src.emergency or {}),
        "follow_up": {"id": new.id, "reference": new.reference},
    }
    src.updated_at = now
    src.version += 1
    await audit.record(
        session,
        request_id=src.id,
        actor=principal.actor,
        action="follow_up",
        now=now,
        detail={"preservation_request": new.reference, "id": new.id},
    )
    await session.flush()
    return await to_public(
        session, new, unit_name=unit.name, identifiers=rows, regimes=ctx.regimes
    ), True


# --- what the dashboard shows first -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenEmergency:
    id: int
    reference: str
    status: str
    case_reference: str
    provider: str | None
    country: str | None
    created_at: datetime
    submitted_at: datetime | None
    next_reminder_at: datetime | None
    #: Numbers to call now, first first ({"role", "name", "phone", "hours"}).
    call: list[dict[str, str]]
    threat: str
    callback_phone: str


async def open_emergencies(db: Database, *, unit_id: int) -> list[OpenEmergency]:
    """The unit's emergency requests not answered yet (drafts too: not even sent), the oldest
    first: the dashboard lists them above everything else."""
    R = PreservationRequest
    async with db.read() as session:
        rows = (
            await session.execute(
                select(
                    R.id,
                    R.reference,
                    R.status,
                    R.case_reference,
                    R.provider,
                    R.country,
                    R.created_at,
                    R.submitted_at,
                    R.next_reminder_at,
                    R.route,
                    R.emergency,
                )
                .where(R.unit_id == unit_id, partial.is_emergency(R.kind), R.status.in_(UNANSWERED))
                .order_by(R.created_at, R.id)
                .limit(DASHBOARD_MAX)
            )
        ).all()
    return [
        OpenEmergency(
            id=r.id,
            reference=r.reference,
            status=r.status,
            case_reference=r.case_reference,
            provider=r.provider,
            country=r.country,
            created_at=r.created_at,
            submitted_at=r.submitted_at,
            next_reminder_at=r.next_reminder_at,
            call=[c for c in (r.route or {}).get("call", []) if c.get("phone")],
            threat=str((r.emergency or {}).get("threat", "")),
            callback_phone=str((r.emergency or {}).get("callback_phone", "")),
        )
        for r in rows
    ]


async def declaring_officers(session: AsyncSession, request_ids: list[int]) -> dict[int, list[str]]:
    """The e-mail of the officer who declared each emergency of `request_ids` (their follow-ups
    reach them as well as the supervisors and the alert addresses)."""
    from preservation.storage.models import User

    if not request_ids:
        return {}
    R = PreservationRequest
    rows = await session.execute(
        select(R.id, User.email)
        .join(User, User.id == R.created_by)
        .where(R.id.in_(sorted(set(request_ids))), User.email != "")
    )
    return {rid: [email] for rid, email in rows}
