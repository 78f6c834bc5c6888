"""What a request must hold before it is submitted: the checklist items, and the errors that name the missing fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preservation.errors import FieldError
from preservation.storage.models import (
    PreservationRequest,
)


@dataclass(frozen=True, kw_only=True)
class CheckItem:
    key: str
    label: str
    #: The request fields to fill in when the item is missing (named in the 422).
    fields: tuple[str, ...]
    required: bool = True


CHECKS = (
    CheckItem(
        key="basic_facts",
        label="Basic facts of the investigation: the offence and a short summary",
        fields=("offence", "summary"),
    ),
    CheckItem(
        key="data_description",
        label="A precise description of the data: each identifier, with its dates, times and time zones",
        fields=("identifiers",),
    ),
    CheckItem(
        key="relevance",
        label="Why the data are relevant to the investigation",
        fields=("relevance",),
    ),
    CheckItem(
        key="necessity",
        label="Why the data must be preserved now (Convention on Cybercrime Art. 29(2)(e))",
        fields=("necessity",),
    ),
    CheckItem(
        key="custodian",
        label="The custodian of the data: the provider as a legal entity, or the requested State",
        fields=("provider",),
        required=False,
    ),
    CheckItem(
        key="mla_to_follow",
        label="A statement that a mutual legal assistance request for disclosure will follow",
        fields=("mla_to_follow",),
    ),
    CheckItem(
        key="confidentiality",
        label="The need for confidentiality: the user is not to be notified",
        fields=("confidential",),
        required=False,
    ),
    CheckItem(
        key="urgency_reason",
        label="The reason for urgency (the request is marked urgent)",
        fields=("urgency_reason",),
    ),
    CheckItem(
        key="requested_state",
        label="The requested country (or a provider whose country is known)",
        fields=("country",),
    ),
    CheckItem(
        key="contact_details",
        label="Contact details of the unit: official e-mail and telephone (unit profile)",
        fields=("unit.email", "unit.phone"),
    ),
    CheckItem(
        key="requesting_state",
        label="The requesting State: the unit's country (unit profile)",
        fields=("unit.country",),
    ),
)


#: What an emergency disclosure request must hold (requests/emergency.py): its facts are
#: checked when it is made; the rest here, before it is sent.
EMERGENCY_CHECKS = (
    CheckItem(
        key="emergency_facts",
        label="The emergency: the threat, why it cannot wait, the data needed",
        fields=("emergency.threat", "emergency.why_now", "emergency.data_needed"),
    ),
    CheckItem(
        key="callback_phone",
        label="The officer's direct line, for the provider to call back",
        fields=("emergency.callback_phone",),
    ),
    CheckItem(
        key="data_description",
        label="The identifiers the data are about, with their dates, times and time zones",
        fields=("identifiers",),
    ),
    CheckItem(
        key="requested_state",
        label="The requested country (or a provider whose country is known)",
        fields=("country",),
    ),
    CheckItem(
        key="contact_details",
        label="Contact details of the unit: official e-mail and telephone (unit profile)",
        fields=("unit.email", "unit.phone"),
    ),
    CheckItem(
        key="requesting_state",
        label="The requesting State: the unit's country (unit profile)",
        fields=("unit.country",),
    ),
)


def emergency_checklist(
    req: PreservationRequest, *, identifiers: int, unit: Any, provider_country: str | None
) -> dict[str, Any]:
    """The checklist of an emergency disclosure request (no preservation period, no necessity
    of preservation: the facts of the emergency instead)."""
    facts = getattr(req, "emergency", None) or {}
    ok = {
        "emergency_facts": all(
            str(facts.get(k) or "").strip() for k in ("threat", "why_now", "data_needed")
        ),
        "callback_phone": bool(str(facts.get("callback_phone") or "").strip()),
        "data_description": identifiers > 0,
        "requested_state": bool(req.country or provider_country),
        "requesting_state": bool(getattr(unit, "country", None)),
        "contact_details": bool(unit.email.strip() and unit.phone.strip()),
    }
    items = [
        {"key": c.key, "label": c.label, "ok": ok[c.key], "required": c.required}
        for c in EMERGENCY_CHECKS
    ]
    missing = [c.key for c in EMERGENCY_CHECKS if c.required and not ok[c.key]]
    return {"complete": not missing, "missing": missing, "items": items}


def checklist(
    req: PreservationRequest, *, identifiers: int, unit: Any, provider_country: str | None
) -> dict[str, Any]:
    """The contents Art. 29(2) of the Convention on Cybercrime asks of a preservation request
    ((a) the requesting authority and State, (b) offence and facts, (c) the data and their
    relevance, (d) the custodian, (e) the necessity, (f) the MLA request to follow) with the
    UNODC practitioners' tips (confidentiality, urgency, contact details), for the request as it
    stands. An emergency disclosure request has its own (`emergency_checklist`)."""
    if getattr(req, "kind", "preservation") == "emergency":
        return emergency_checklist(
            req, identifiers=identifiers, unit=unit, provider_country=provider_country
        )
    ok = {
        "basic_facts": bool(req.offence.strip() and req.summary.strip()),
        "data_description": identifiers > 0,
        "relevance": bool(req.relevance.strip()),
        "necessity": bool((req.necessity or "").strip()),
        "custodian": bool(req.provider),
        "mla_to_follow": req.mla_to_follow,
        "confidentiality": req.confidential,
        "urgency_reason": (not req.urgent) or bool(req.urgency_reason.strip()),
        "requested_state": bool(req.country or provider_country),
        "requesting_state": bool(getattr(unit, "country", None)),
        "contact_details": bool(unit.email.strip() and unit.phone.strip()),
    }
    items = [
        {"key": c.key, "label": c.label, "ok": ok[c.key], "required": c.required} for c in CHECKS
    ]
    missing = [c.key for c in CHECKS if c.required and not ok[c.key]]
    return {"complete": not missing, "missing": missing, "items": items}


def missing_errors(req: PreservationRequest, check: dict[str, Any]) -> list[FieldError]:
    """One error per field to fill in, for a 422 on submit."""
    emergency = getattr(req, "kind", "preservation") == "emergency"
    by_key = {c.key: c for c in (EMERGENCY_CHECKS if emergency else CHECKS)}
    errors = []
    for key in check["missing"]:
        item = by_key[key]
        for name in item.fields:
            if key == "basic_facts" and getattr(req, name).strip():
                continue
            errors.append(FieldError(field=name, message=f"required to submit: {item.label}"))
    return errors
