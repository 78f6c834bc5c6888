"""The formal MLA request drafted from the preservation record: its content model (one dict, the
JSON form; documents/ renders it as text, HTML, PDF and DOCX) and the officer's additions.

Everything the record holds is carried over (no re-typing): the preservation block (our
reference, the date sent, the date preserved, the provider's or point of contact's reference,
who executed it, the channel and the instrument), the identifiers with their instants, the
offence, the facts, the link between the data and the offence, the data categories,
confidentiality and urgency, the unit and the officer. What the record cannot know (the
requested central authority, the treaty, the legal classification and maximum penalty, the
prosecutor or court, certification...) the officer adds on a form, stored as
`preservation_request.mla_draft`; whatever is still missing is listed and printed as "to be
completed", never invented (domain/mla.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from babel.numbers import list_currencies
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.access.people import signatory
from preservation.documents import i18n
from preservation.documents.letter import CATEGORY_LABELS, identifier_items, unit_view
from preservation.documents.mla_wording import (
    FIELD_LABELS,
    channel_text,
    finding_text,
    placeholder,
)
from preservation.documents.wording import cite
from preservation.domain import mla as rules
from preservation.domain.regimes import Regime
from preservation.domain.text import MultiLine, SingleLine
from preservation.errors import Conflict, InvalidInput
from preservation.requests import audit, delivery
from preservation.requests.letters import custodian_entity, provider_view, recipients_of
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.storage.models import (
    OutboxMessage,
    PreservationRequest,
    RequestIdentifier,
    Unit,
    User,
)

#: Instruments after which no MLA request is drafted here: an EPOC-PR is followed by a European
#: Production Order (Annex V, requests/epoc.py); an emergency by its own preservation request.
NO_MLA = frozenset({"eu-epoc-pr"})


def requested_state(req: PreservationRequest) -> str | None:
    """The requested State: as the officer gave it, else as the route found it (the
    provider's or the identifiers' country)."""
    return req.country or (req.route or {}).get("country") or None


def has_mla(req: PreservationRequest) -> bool:
    """Whether the record is followed by a formal MLA request drafted here."""
    return (getattr(req, "kind", None) or "preservation") == "preservation" and (
        req.regime not in NO_MLA
    )


# --- the officer's additions -----------------------------------------------------------------


class MlaDraftIn(BaseModel):
    """`PUT /api/v1/requests/{id}/mla-draft`: what the officer adds to the MLA request drafted
    from the record. Every field is optional (the draft lists what is still missing); the body
    replaces the previous one."""

    model_config = ConfigDict(extra="forbid")

    #: The requested State's central (or competent) authority the MLA request goes to.
    requested_authority: MultiLine = Field("", max_length=1000)
    #: The treaty or arrangement the request rests on (e.g. a bilateral MLA treaty, or the
    #: Convention on Cybercrime, Art. 31, between Parties).
    treaty_basis: SingleLine = Field("", max_length=500)
    #: The judicial authority issuing the request (prosecutor's office, court) and its contact.
    requesting_authority: SingleLine = Field("", max_length=300)
    requesting_person: SingleLine = Field("", max_length=200)
    requesting_phone: SingleLine = Field("", max_length=60)
    requesting_email: SingleLine = Field("", max_length=320)
    #: Whom to call should the requesting authority's confirmation be needed (T-CY field 6).
    contact_name: SingleLine = Field("", max_length=200)
    contact_title: SingleLine = Field("", max_length=200)
    contact_phone: SingleLine = Field("", max_length=60)
    contact_email: SingleLine = Field("", max_length=320)
    #: Prosecution office or court in charge, their case numbers, their decisions (T-CY 8).
    prosecution_office: SingleLine = Field("", max_length=300)
    prosecution_case: SingleLine = Field("", max_length=200)
    court: SingleLine = Field("", max_length=300)
    court_case: SingleLine = Field("", max_length=200)
    decisions: MultiLine = Field("", max_length=4000)
    #: The domestic legal basis of the request (T-CY 11).
    domestic_basis: MultiLine = Field("", max_length=2000)
    #: The offence's legal classification (the provisions) and the maximum penalty.
    legal_classification: MultiLine = Field("", max_length=2000)
    max_penalty: SingleLine = Field("", max_length=300)
    #: Per data category of the record: exactly what is asked.
    assistance: dict[Literal["subscriber", "identifying", "traffic", "content"], MultiLine] = Field(
        default_factory=dict
    )
    #: Why there is probable cause to believe the content is evidence of the offence (content
    #: needs more than subscriber data: UNODC's tips).
    probable_cause: MultiLine = Field("", max_length=8000)
    #: The damage caused, with its ISO 4217 currency (the gravity of the offence).
    damages_amount: Decimal | None = Field(None, ge=0, le=Decimal("1e15"), decimal_places=2)
    damages_currency: str = Field("", max_length=3)
    #: Certification of the evidence for use in court: "wanted" (say how) or "not_needed".
    certification: Literal["", "wanted", "not_needed"] = ""
    certification_how: MultiLine = Field("", max_length=2000)
    confidentiality_reason: MultiLine = Field("", max_length=2000)

    @field_validator("assistance")
    @classmethod
    def _assistance_size(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if len(text) > 4000:
                raise ValueError(f"assistance.{key}: at most 4000 characters")
        return value

    @field_validator("damages_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.strip().upper()
        if not value:
            return value
        if value not in list_currencies():
            raise ValueError("an ISO 4217 currency code (USD, EUR...)")
        return value


class MissingField(BaseModel):
    #: "offence" (the record's), "mla.requested_authority" (the officer's additions).
    field: str
    label: str


class MlaDraftPublic(BaseModel):
    """The officer's additions as stored, what the draft still lacks, and the guidance's
    warnings."""

    fields: dict[str, Any]
    missing: list[MissingField]
    warnings: list[str]
    complete: bool


# --- the content model -----------------------------------------------------------------------


def _record_facts(req: PreservationRequest, identifiers: list[Any]) -> dict[str, Any]:
    return {
        "offence": req.offence,
        "summary": req.summary,
        "relevance": req.relevance,
        "country": requested_state(req),
        "identifiers": identifiers,
        "data_categories": list(req.data_categories or []),
    }


def assess(req: PreservationRequest, identifiers: list[Any], lang: str = i18n.SOURCE) -> dict:
    """{"missing": [{"field", "label"}], "warnings": [text], "complete"} of the draft as it
    stands, in `lang`."""
    _ = i18n.words(lang)
    draft = rules.MlaDraft.from_json(req.mla_draft)
    gaps = rules.missing(draft, record=_record_facts(req, identifiers))
    found = rules.findings(
        draft,
        requested_state=requested_state(req),
        data_categories=list(req.data_categories or []),
    )
    return {
        "missing": [{"field": f, "label": _(FIELD_LABELS[f])} for f in gaps],
        "warnings": [finding_text(f, _) for f in found],
        "complete": not gaps,
    }


async def _preservation_block(
    session: AsyncSession, req: PreservationRequest, *, unit: Unit, _: i18n.Words
) -> dict[str, Any]:
    """T-CY(2018)10 field 10: the preservation request this MLA request follows."""
    executed = []
    rows = list(
        (
            await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.request_id == req.id)
                .order_by(OutboxMessage.id)
            )
        ).scalars()
    )
    recipients = (
        [
            {
                "role": r.role,
                "channel": r.channel,
                "to": r.to,
                "name": r.recipient_name,
                "instrument": r.instrument,
                "status": r.status,
            }
            for r in rows
        ]
        if rows
        else recipients_of(req)
    )
    for r in recipients:
        instrument = r.get("instrument") or {}
        executed.append(
            {
                "role": r.get("role"),
                "name": r.get("name") or r.get("to") or "",
                "to": r.get("to") or "",
                "channel": channel_text(r.get("channel") or "", _),
                "instrument": {
                    "key": instrument.get("key") or "",
                    # In the document's language (a citation of config/regimes.toml, or the
                    # provider's policy with its source).
                    "citation": cite(instrument.get("citation") or "", _),
                },
            }
        )
    return {
        "reference": req.reference,
        "case_reference": req.case_reference,
        "sent": _.instant(req.sent_at, unit.timezone) if req.sent_at else "",
        "preserved": _.instant(req.preserved_at, unit.timezone) if req.preserved_at else "",
        "their_reference": req.provider_reference,
        "recipients": executed,
        "expires": _.instant(req.expires_at, unit.timezone) if req.expires_at else "",
        "expiry_rule": req.expiry_rule,
        "held_until_decision": req.held_until_decision,
        "extensions": len(req.extensions or []),
        "mla_sent": _.instant(req.mla_sent_at, unit.timezone) if req.mla_sent_at else "",
        "mla_reference": req.mla_reference,
    }


async def mla_context(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    regimes: dict[str, Regime],
    now: datetime,
    lang: str | None = None,
) -> dict[str, Any]:
    """The MLA request drafted from the record, in `lang` (default: the requested State's
    language where a catalogue exists, else English). Also its JSON form."""
    assert req.id is not None
    if not has_mla(req):
        raise Conflict(
            "no MLA request is drafted for this request: an EPOC-PR is followed by a European"
            " Production Order (Annex V), an emergency by its preservation request"
        )
    requested = requested_state(req)
    lang = lang or i18n.default_language(requested)
    _ = i18n.words(lang)
    unit = await session.get(Unit, req.unit_id)
    assert unit is not None
    creator = await session.get(User, req.created_by)
    rows = list(
        (
            await session.execute(
                select(RequestIdentifier)
                .where(RequestIdentifier.request_id == req.id)
                .order_by(RequestIdentifier.position)
            )
        ).scalars()
    )
    provider = await provider_view(session, req.provider)
    if provider is not None:
        provider["entity"] = custodian_entity(provider, region=getattr(unit, "country", None))
    draft = rules.MlaDraft.from_json(req.mla_draft)
    state = assess(req, rows, lang)
    gaps = {m["field"] for m in state["missing"]}

    # Where the draft needs a field nobody gave: the "to be completed" mark, never a value.
    todo = {
        name.removeprefix("mla."): placeholder(FIELD_LABELS[name], _)
        for name in gaps
        if name in FIELD_LABELS
    }

    categories = list(req.data_categories or [])
    regime = regimes.get(req.regime)
    damages = ""
    if draft.damages_amount is not None and draft.damages_currency:
        damages = _.money(draft.damages_amount, draft.damages_currency)
    return {
        "document": "mla_request",
        "lang": lang,
        "lang_name": _.language_name(lang),
        "draft": True,
        "reference": req.reference,
        "case_reference": req.case_reference,
        "date": _.date(now, unit.timezone),
        "date_utc": now.isoformat(),
        "requested_state": {"code": requested, "name": _.country(requested)},
        "requested_authority": draft.text("requested_authority"),
        "treaty_basis": draft.text("treaty_basis"),
        "requesting": {
            "authority": draft.text("requesting_authority"),
            "person": draft.text("requesting_person"),
            "phone": draft.text("requesting_phone"),
            "email": draft.text("requesting_email"),
        },
        "contact": {
            "name": draft.text("contact_name"),
            "title": draft.text("contact_title"),
            "phone": draft.text("contact_phone"),
            "email": draft.text("contact_email"),
        },
        "unit": unit_view(unit),
        "officer": signatory(creator),
        "timezone": unit.timezone,
        "prosecution": {
            "office": draft.text("prosecution_office"),
            "case": draft.text("prosecution_case"),
            "court": draft.text("court"),
            "court_case": draft.text("court_case"),
            "decisions": draft.text("decisions"),
        },
        "domestic_basis": draft.text("domestic_basis"),
        "preservation": await _preservation_block(session, req, unit=unit, _=_),
        "regime": {"key": req.regime, "name": regime.name if regime else req.regime},
        "offence": req.offence,
        "legal_classification": draft.text("legal_classification"),
        "max_penalty": draft.text("max_penalty"),
        "summary": req.summary,
        "relevance": req.relevance,
        "necessity": req.necessity,
        "custodian": (provider or {}).get("name") or "",
        "identifiers": identifier_items(rows, _),
        "assistance": [
            {
                "category": c,
                "label": _(CATEGORY_LABELS[c]) if c in CATEGORY_LABELS else c,
                "detail": draft.assistance.get(c, ""),
            }
            for c in categories
        ],
        "probable_cause": draft.text("probable_cause"),
        "content_asked": rules.CONTENT in categories,
        "damages": damages,
        "certification": {
            "wanted": draft.certification == "wanted",
            "not_needed": draft.certification == "not_needed",
            "how": draft.text("certification_how"),
        },
        "confidential": req.confidential,
        "confidentiality_reason": draft.text("confidentiality_reason"),
        "urgent": req.urgent,
        "urgency_reason": req.urgency_reason,
        "todo": todo,
        "missing": state["missing"],
        "warnings": state["warnings"],
        "complete": state["complete"],
        "fields": dict(req.mla_draft or {}),
    }


# --- use cases -------------------------------------------------------------------------------


def _stored(data: MlaDraftIn) -> dict[str, Any]:
    out = data.model_dump(mode="json")
    out["assistance"] = {k: v for k, v in (out.get("assistance") or {}).items() if v.strip()}
    return {k: v for k, v in out.items() if v not in ("", None, {})}


async def get_mla_draft(
    session: AsyncSession, *, principal: Principal, request_id: int | str, lang: str = "en"
) -> MlaDraftPublic:
    req = await load_request(session, principal=principal, request_id=request_id)
    return await _public(session, req, lang=lang)


async def _public(session: AsyncSession, req: PreservationRequest, *, lang: str) -> MlaDraftPublic:
    if not has_mla(req):
        raise Conflict("no MLA request is drafted for this request")
    rows = list(
        (
            await session.execute(
                select(RequestIdentifier.id).where(RequestIdentifier.request_id == req.id)
            )
        ).scalars()
    )
    state = assess(req, rows, lang)
    return MlaDraftPublic(
        fields=dict(req.mla_draft or {}),
        missing=[MissingField(**m) for m in state["missing"]],
        warnings=state["warnings"],
        complete=state["complete"],
    )


async def save_mla_draft(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    data: MlaDraftIn,
) -> MlaDraftPublic:
    """Store what the officer adds to the MLA request (replacing the previous additions), with
    an audit event naming the fields that changed (not their values)."""
    req = await load_request(session, principal=principal, request_id=request_id)
    assert req.id is not None
    if not has_mla(req):
        raise Conflict("no MLA request is drafted for this request")
    req = await delivery.lock_request(session, req.id)
    assert req is not None
    unknown = set(data.assistance) - set(req.data_categories or [])
    if unknown:
        raise InvalidInput(
            f"assistance.{sorted(unknown)[0]}",
            "not a data category of this request: "
            + ", ".join(req.data_categories or [])
            + " (change the request's data categories first)",
        )
    before = dict(req.mla_draft or {})
    after = _stored(data)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        now = ctx.clock.now()
        req.mla_draft = after
        req.updated_at = now
        await audit.record(
            session,
            request_id=req.id,
            actor=principal.actor,
            action="mla_draft",
            now=now,
            detail={"fields": changed},
        )
        await session.flush()
    return await _public(session, req, lang=i18n.SOURCE)
