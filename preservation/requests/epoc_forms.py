"""The content of the EPOC-PR forms, drafted from the record: the Annex II certificate (Sections
A-G), Annex V (subsequent request for production issued), Annex VI (extension by 30 days) and the
end-of-preservation notice (Art. 11(3)). Each is a JSON-able dict; documents/epoc_pdf.py and
documents/epoc_xml.py render it.

What was read and what was not (docs/legal.md, "EPOC-PR"): the Annex II heading, its notice to
the addressee and the start of Section A were read verbatim (fantasticsearch.net copy of CELEX
32023R1543, 2026-12-04) and are reproduced; the titles and fields of Sections B-G were not found
in the Official Journal text. Their content follows what the reference implementation's open
mapping code reads from its input (SectionB/EmergencyCase and Addressee, SectionC/Evidence with
Identifier{Id, Type, Value, DateTimeRange} and DataCategories, SectionF/Type and the issuing
authority's details, SectionG/Type and Details) and the parallel Annex I (EPOC) read at
eumonitor.eu. The texts of Annexes V and VI were not found: their fields follow Art. 11 and a
provider's mock of Forms 5 and 6 (secondary), and say so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from preservation.domain import epoc as rules
from preservation.domain import epoc_clock
from preservation.domain.lifecycle import Status
from preservation.errors import Conflict
from preservation.storage.epoc import EpocOrder
from preservation.storage.models import PreservationRequest, RequestIdentifier, Unit

TITLE = (
    "EUROPEAN PRESERVATION ORDER CERTIFICATE (EPOC-PR) FOR THE PRESERVATION OF ELECTRONIC EVIDENCE"
)
#: The Annex II notice to the addressee, as read (fantasticsearch.net, 2026-12-04).
NOTICE = (
    "Under Regulation (EU) 2023/1543 of the European Parliament and of the Council the addressee"
    " of this European Preservation Order Certificate (EPOC-PR) must, without undue delay after"
    " receiving the EPOC-PR, preserve the data requested. The preservation must cease after 60"
    " days, unless extended by the issuing authority by an additional 30 days, or the issuing"
    " authority confirms that a subsequent request for production has been issued. If the issuing"
    " authority confirms within those time periods that a subsequent request for production has"
    " been issued, the addressee must preserve the data for as long as necessary to produce the"
    " data once the subsequent request for production is received. The addressee must take"
    " necessary measures to ensure the confidentiality, secrecy and integrity of the EPOC-PR and"
    " of the data preserved."
)
SOURCES = [
    "https://eur-lex.europa.eu/legal-content/EN/TXT/HTML/?uri=CELEX:32023R1543",
    "https://fantasticsearch.net/law/eu/en?article=1&id=mG0lZpsB1anJoctM1I2V",
]
READ_NOTE = (
    "Section A's heading and first fields and the notice above were read in the Annex II text;"
    " the titles and fields of Sections B-G were not found in the Official Journal text and"
    " follow the reference implementation's input shape (SectionB/EmergencyCase,"
    " SectionC/Evidence, SectionF/Type, SectionG/Details) and the parallel Annex I (EPOC)."
)
TRANSMISSION = (
    "Transmitted through the decentralised IT system by the national IT system (Regulation (EU)"
    " 2023/1543, Art. 19(1)), not by this service."
)
PURPOSES = {
    "criminal_proceedings": "criminal proceedings",
    "custodial_sentence": (
        "the execution of a custodial sentence or a detention order following criminal proceedings"
    ),
}


def _iso(at: datetime | None, zone: str | None = None) -> str | None:
    """ISO 8601 with the offset of `zone` (the zone the instant was given in), else UTC."""
    if at is None:
        return None
    try:
        tz = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return at.astimezone(tz).isoformat()


def evidence(rows: list[RequestIdentifier]) -> list[dict[str, Any]]:
    """Section C: each identifier with its period (an instant is a period of one instant)."""
    from preservation.documents.letter import TYPE_LABELS

    out = []
    for row in rows:
        start = row.from_utc or row.at_utc
        end = row.to_utc or row.at_utc
        out.append(
            {
                "id": row.position + 1,
                "type": row.type,
                "type_label": TYPE_LABELS.get(row.type, row.type),
                "value": row.value,
                "normalized": row.normalized,
                "platform": row.platform,
                "port": row.port,
                "tz": row.tz,
                "at": _iso(row.at_utc, row.tz),
                "date_time_range": (
                    {"start": _iso(start, row.tz), "end": _iso(end, row.tz)}
                    if start is not None and end is not None
                    else None
                ),
            }
        )
    return out


def _authority(details: dict[str, Any] | None) -> dict[str, Any]:
    keys = (
        "type",
        "type_label",
        "name",
        "representative",
        "post_held",
        "file_reference",
        "address",
        "phone",
        "email",
        "languages",
    )
    d = details or {}
    return {k: d.get(k, [] if k == "languages" else "") for k in keys}


def _issued(order: EpocOrder | None) -> bool:
    return order is not None and order.validated_at is not None


def certificate(
    *,
    req: PreservationRequest,
    unit: Unit,
    identifiers: list[RequestIdentifier],
    order: EpocOrder | None,
    addressee: dict[str, Any] | None,
    provider_name: str | None,
) -> dict[str, Any]:
    """Annex II as drafted from the record: `addressee` is the order's when issued, else the
    directory's current `eu_representative` (None when there is none)."""
    issued = _issued(order)
    issuing = _authority(order.issuing_authority if order else None)
    validating = (
        _authority(order.validating_authority) if order and order.validating_authority else None
    )
    contact = {
        "name": unit.authority or unit.name,
        "address": unit.address,
        "phone": unit.phone,
        "email": unit.email,
        "contact_24_7": unit.contact_24_7,
    }
    categories = list(req.data_categories or [])
    items = evidence(identifiers)
    warnings = []
    if not issued:
        warnings.append(
            "draft: not issued; a judge or prosecutor issues or validates it (POST .../validate)"
        )
    if addressee is None:
        warnings.append("no designated establishment or legal representative in the Union on file")
    for item in items:
        if item["date_time_range"] is None:
            warnings.append(
                f"identifier {item['id']} has no period: the reference implementation's converter"
                " reads a DateTimeRange for every identifier"
            )
    signed = order.validated_at if order else None
    sections = {
        "A": {
            "title": "Issuing/validating authority",
            "issuing_state": unit.country,
            "issuing_authority": issuing["name"],
            "validating_authority": validating["name"] if validating else None,
            "file_number_issuing_authority": issuing["file_reference"] or req.case_reference,
            "file_number_validating_authority": (
                (validating["file_reference"] or req.case_reference) if validating else None
            ),
            "case_reference": req.case_reference,
            "epoc_pr_reference": req.reference,
        },
        "B": {
            "title": "Addressee",
            "addressee": addressee,
            "addressee_kind": "designated establishment or legal representative in the Union",
            "service_provider": {"slug": req.provider, "name": provider_name},
            "emergency_case": bool(order.emergency) if order else False,
            "urgency_reason": req.urgency_reason,
        },
        "C": {
            "title": "Data to be preserved: identifiers and periods",
            "evidence": items,
            "relevance": req.relevance,
        },
        "D": {
            "title": "Categories of data to be preserved",
            "categories": {
                rules.DATA_CATEGORIES[c]: c in categories for c in rules.DATA_CATEGORIES
            },
            "requested": [rules.CATEGORY_WORDS[c] for c in categories if c in rules.CATEGORY_WORDS],
        },
        "E": {
            "title": "The offence or the sentence",
            "purpose": PURPOSES.get(
                order.purpose if order else "", PURPOSES["criminal_proceedings"]
            ),
            "purpose_code": order.purpose if order else "criminal_proceedings",
            "offence": req.offence,
            "statutory_provisions": order.statutory_provisions if order else "",
            "facts": req.summary,
            "necessity": req.necessity,
        },
        "F": {
            "title": "Details of the issuing authority",
            **issuing,
            "contact_authority": contact,
            "date": _iso(signed),
            "signature": (
                f"issued in this service by {order.validated_actor}" if issued and order else None
            ),
        },
        "G": {
            "title": "Details of the validating authority (where applicable)",
            "applicable": validating is not None,
            **(validating or {}),
            "date": _iso(signed) if validating else None,
        },
    }
    return {
        "form": "EPOC-PR",
        "annex": "II",
        "title": TITLE,
        "legal_basis": "Regulation (EU) 2023/1543",
        "status": "issued" if issued else "draft",
        "request_id": req.id,
        "reference": req.reference,
        "notice_to_addressee": NOTICE,
        "sections": sections,
        "transmission": TRANSMISSION,
        "national_reference": order.national_reference if order else "",
        "warnings": warnings,
        "read": READ_NOTE,
        "sources": SOURCES,
    }


def _common(req: PreservationRequest, order: EpocOrder) -> dict[str, Any]:
    issuing = _authority(order.issuing_authority)
    return {
        "issuing_authority": issuing["name"],
        "file_number": issuing["file_reference"] or req.case_reference,
        "epoc_pr_reference": req.reference,
        "national_reference": order.national_reference,
        "epoc_pr_issued_on": _iso(order.validated_at),
        "epoc_pr_transmitted_on": _iso(order.transmitted_at),
        "addressee": order.addressee,
        "addressee_reference": req.provider_reference,
    }


ANNEX_READ = (
    "The text of this annex was not found; its fields follow Regulation (EU) 2023/1543, Art. 11"
    " and a provider's mock of the form (issuing authority, file number, date, EPOC-PR reference,"
    " the provider's reference, and the form's own facts), a secondary source."
)


def annex_v(req: PreservationRequest, order: EpocOrder | None) -> dict[str, Any]:
    """Annex V: confirmation that the subsequent request for production was issued."""
    if order is None or not order.annex_v:
        raise Conflict("Annex V has not been issued for this EPOC-PR (POST .../annex-v)")
    a = order.annex_v
    return {
        "form": "EPOC-PR",
        "annex": "V",
        "title": "Confirmation that a subsequent request for production has been issued",
        "reference": req.reference,
        "fields": {
            **_common(req, order),
            "subsequent_request": {
                "kind": a.get("production_kind"),
                "reference": a.get("production_reference"),
                "issued_on": a.get("production_issued_on"),
            },
            "issued_at": a.get("issued_at"),
            "by": a.get("by"),
            "effect": (
                "the addressee shall preserve the data as long as necessary to produce the data"
                " once the subsequent request for production is received (Art. 11(2))"
            ),
        },
        "citation": epoc_clock.CITE_HOLD,
        "transmission": TRANSMISSION,
        "read": ANNEX_READ,
    }


def annex_vi(req: PreservationRequest, order: EpocOrder | None) -> dict[str, Any]:
    """Annex VI: extension of the preservation by an additional 30 days."""
    if order is None or not order.annex_vi:
        raise Conflict("Annex VI has not been issued for this EPOC-PR (POST .../annex-vi)")
    a = order.annex_vi
    return {
        "form": "EPOC-PR",
        "annex": "VI",
        "title": "Extension of the preservation of electronic evidence by an additional 30 days",
        "reference": req.reference,
        "fields": {
            **_common(req, order),
            "issued_at": a.get("issued_at"),
            "extended_by_days": epoc_clock.EXTENSION_DAYS,
            "preservation_ends": a.get("new_expiry"),
            "reason": a.get("reason")
            or "to allow for the issuing of a subsequent request for production (Art. 11(1))",
            "by": a.get("by"),
        },
        "citation": epoc_clock.CITE_EXTENSION,
        "transmission": TRANSMISSION,
        "read": ANNEX_READ,
    }


def end_notice(req: PreservationRequest, order: EpocOrder | None) -> dict[str, Any]:
    """The issuing authority's notice that preservation is no longer necessary (Art. 11(3)):
    no form is set out for it; ETSI TS 104 144 carries it as `endpreservation` (or `withdraw`
    before execution)."""
    if req.status != Status.CLOSED or order is None or not order.end_notice:
        raise Conflict(
            "the end-of-preservation notice is drafted when a transmitted EPOC-PR is closed"
        )
    n = order.end_notice
    return {
        "form": "EPOC-PR",
        "annex": None,
        "title": "Notice: the preservation is no longer necessary",
        "reference": req.reference,
        "fields": {
            **_common(req, order),
            "kind": n.get("kind"),
            "decided_at": n.get("at"),
            "outcome": n.get("outcome"),
            "by": n.get("by"),
            "text": (
                "The issuing authority informs the addressee that the preservation of the data"
                " ordered by the EPOC-PR referred to above is no longer necessary; the obligation"
                " to preserve on the basis of that European Preservation Order ceases"
                " (Regulation (EU) 2023/1543, Art. 11(3))."
            ),
        },
        "citation": epoc_clock.CITE_END,
        "transmission": TRANSMISSION,
        "read": (
            "Art. 11(3) sets out no form for this notice; ETSI TS 104 144 (as a provider's"
            " specification quotes it) carries it as 'endpreservation', or 'withdraw' before"
            " execution."
        ),
    }


async def form_for(session: Any, *, principal: Any, request_id: int | str, kind: str) -> dict:
    """The form `kind` ("annex-ii", "annex-v", "annex-vi", "end-of-preservation") of the
    caller's unit's EPOC-PR, drafted from the record as it stands."""
    from preservation.requests.epoc import get_order
    from preservation.requests.view import load_identifiers, load_unit
    from providers.models import Provider

    req, order = await get_order(session, principal=principal, request_id=request_id)
    if kind == "annex-v":
        return annex_v(req, order)
    if kind == "annex-vi":
        return annex_vi(req, order)
    if kind == "end-of-preservation":
        return end_notice(req, order)
    assert req.id is not None
    unit = await load_unit(session, req.unit_id)
    identifiers = await load_identifiers(session, req.id)
    provider = await session.get(Provider, req.provider) if req.provider else None
    addressee = order.addressee if order is not None and order.addressee else None
    if addressee is None and provider is not None:
        addressee = rules.representative(getattr(provider, "eu_representative", None))
    return certificate(
        req=req,
        unit=unit,
        identifiers=identifiers,
        order=order,
        addressee=addressee,
        provider_name=provider.name if provider is not None else req.provider,
    )
