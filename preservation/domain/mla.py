"""The formal MLA request drafted from a preservation record: what it needs that the record
does not hold, and the checks practitioners' guidance asks for (pure: no I/O, no clock).

The draft never invents: a field neither the record nor the officer gave is listed as missing
and printed as "to be completed". The officer's additions are `MlaDraft` (stored on the request,
requests/mla.py).

Where the fields come from:
- T-CY(2018)10, "MLA request for subscriber information under Article 31" (Council of Europe,
  adopted 9 July 2018; rm.coe.int/template-article31-mla-subscriber/1680a273d9, read through
  the search tool 2026-12-04, fields 1 to 11 only: the rest of the form could not be read):
  1 date, 2 reference / case number, 3 request status ("follow up to previous preservation
  request"), 5 requesting authority, 6 contact for additional confirmation, 7 investigative /
  operational authority in charge of the case, 8 prosecution office or court in charge,
  9 previous MLA request, 10 previous preservation request (reference, who requested it, who
  executed it, channel), 11 domestic legal basis.
- UNODC CASC "Basic tips for investigators and prosecutors for requesting electronic/digital
  data/evidence from foreign jurisdictions" (2014): the gravity of the
  offence, more evidence for content than for subscriber data, certification for admissibility,
  confidentiality, urgency, contact details, translation quality.
- Budapest Convention Art. 29(2): offence, facts, the data and their relation to the offence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

#: Fields the officer adds, in the order of the form.
TEXT_FIELDS = (
    "requested_authority",
    "treaty_basis",
    "requesting_authority",
    "requesting_person",
    "requesting_phone",
    "requesting_email",
    "contact_name",
    "contact_title",
    "contact_phone",
    "contact_email",
    "prosecution_office",
    "prosecution_case",
    "court",
    "court_case",
    "decisions",
    "domestic_basis",
    "legal_classification",
    "max_penalty",
    "probable_cause",
    "certification_how",
    "confidentiality_reason",
)
#: Certification of the evidence for admissibility: wanted (say how) or not needed.
CERTIFICATION = ("wanted", "not_needed")
#: What the draft cannot go without (beyond the record's own fields).
REQUIRED = (
    "requested_authority",
    "treaty_basis",
    "requesting_authority",
    "legal_classification",
    "max_penalty",
    "certification",
)
#: The record's fields the draft prints (Art. 29(2) and the guidance); empty ones are missing.
RECORD_REQUIRED = ("offence", "summary", "relevance", "country", "identifiers", "data_categories")
CONTENT = "content"


@dataclass(frozen=True, kw_only=True)
class Threshold:
    """A requested State's practice below which it generally declines a request, as a document
    read here states it (cited, never assumed)."""

    country: str
    amount: Decimal
    currency: str
    source: str
    quote: str


#: Only what a document read states: UNODC CASC, "Basic tips for investigators and prosecutors
#: for requesting electronic/digital data/evidence from foreign jurisdictions" (2014).
THRESHOLDS = {
    "US": Threshold(
        country="US",
        amount=Decimal(5000),
        currency="USD",
        source=(
            "UNODC, Basic tips for investigators and prosecutors for requesting"
            " electronic/digital data/evidence from foreign jurisdictions (CASC initiative, 2014)"
        ),
        quote=(
            "the U.S. will generally decline to execute any request involving less than to"
            " USD 5,000 in damages"
        ),
    )
}


@dataclass(frozen=True, kw_only=True)
class MlaDraft:
    """What the officer added to the draft (every field optional; empty means not given)."""

    texts: Mapping[str, str] = field(default_factory=dict)
    #: Per data category of the record: what exactly is asked ("subscriber": "name, address,
    #: payment details and login IP addresses from 2026-10-01 to 2026-11-20").
    assistance: Mapping[str, str] = field(default_factory=dict)
    certification: str = ""
    damages_amount: Decimal | None = None
    damages_currency: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MlaDraft:
        data = data or {}
        amount = data.get("damages_amount")
        try:
            parsed = Decimal(str(amount)) if amount not in (None, "") else None
        except InvalidOperation:
            parsed = None
        return cls(
            texts={k: str(data.get(k) or "").strip() for k in TEXT_FIELDS},
            assistance={
                str(k): str(v).strip()
                for k, v in (data.get("assistance") or {}).items()
                if str(v or "").strip()
            },
            certification=str(data.get("certification") or ""),
            damages_amount=parsed,
            damages_currency=str(data.get("damages_currency") or "").upper(),
        )

    def text(self, name: str) -> str:
        return str(self.texts.get(name) or "")


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A warning from the guidance: a code the documents word, and its values."""

    code: str
    values: Mapping[str, str] = field(default_factory=dict)


def missing(draft: MlaDraft, *, record: Mapping[str, Any]) -> list[str]:
    """The fields the draft lacks, record's first ("offence"), then the officer's
    ("mla.requested_authority"), in the order the document prints them."""
    out = [name for name in RECORD_REQUIRED if not record.get(name)]
    for name in REQUIRED:
        if name == "certification":
            if draft.certification not in CERTIFICATION:
                out.append("mla.certification")
            elif draft.certification == "wanted" and not draft.text("certification_how"):
                out.append("mla.certification_how")
        elif not draft.text(name):
            out.append(f"mla.{name}")
    return out


def findings(
    draft: MlaDraft, *, requested_state: str | None, data_categories: Sequence[str]
) -> list[Finding]:
    """The guidance's warnings for this draft (none is a refusal: the issuing authority
    decides)."""
    out: list[Finding] = []
    if CONTENT in data_categories and not draft.text("probable_cause"):
        out.append(Finding(code="content_without_probable_cause"))
    threshold = THRESHOLDS.get((requested_state or "").upper())
    if threshold is not None:
        values = {
            "threshold": str(threshold.amount),
            "currency": threshold.currency,
            "source": threshold.source,
            "quote": threshold.quote,
        }
        if draft.damages_amount is None:
            out.append(Finding(code="damages_not_stated", values=values))
        elif draft.damages_currency != threshold.currency:
            out.append(
                Finding(
                    code="damages_other_currency",
                    values={**values, "given": draft.damages_currency or "?"},
                )
            )
        elif draft.damages_amount < threshold.amount:
            out.append(
                Finding(
                    code="damages_below_threshold",
                    values={**values, "amount": str(draft.damages_amount)},
                )
            )
    return out
