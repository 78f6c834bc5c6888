"""The European Preservation Order (EPOC-PR) of Regulation (EU) 2023/1543: who may issue it, to
whom it goes, and the words of the forms and of the notices that come back. Pure: no I/O.

Every statement below names the text it rests on; docs/legal.md says them in words and lists
what was looked for and not found. Texts read on 2026-12-04:

- Art. 1(1) (fra.europa.eu copy of the Official Journal text): "This Regulation lays down the
  rules under which an authority of a Member State, in criminal proceedings, may issue a European
  Production Order or a European Preservation Order and thereby order a service provider offering
  services in the Union and established in another Member State, or, if not established,
  represented by a legal representative in another Member State, to produce or to preserve
  electronic evidence regardless of the location of the data."
- Art. 3(2) (fantasticsearch.net copy of CELEX 32023R1543): "'European Preservation Order' means
  a decision which orders the preservation of electronic evidence for the purposes of a
  subsequent request for production, and which is issued or validated by a judicial authority of
  a Member State in accordance with Article 4(3), (4) and (5), and addressed to a designated
  establishment or to a legal representative of a service provider offering services in the
  Union, where that designated establishment or legal representative is located in another Member
  State bound by this Regulation".
- Art. 4(3): its English text was not found. A secondary source (Tymofeyeva, Crhák et al., "New
  Technologies in International Law") reads it: "The order can be issued or confirmed by a judge,
  a court, an investigating judge or a public prosecutor, regardless of the type of data
  requested (Art. 4:3 EPOR)." Art. 4(1), read in full, gives the same list for a production
  order for subscriber data, with validation when "any other competent authority" issues it.
- Art. 19(1): forms and data are exchanged "through a secure and reliable decentralised IT
  system": the service drafts, the national IT system transmits.
- Denmark: secondary sources only (Bird & Bird, acompli.ie: "all EU Member States (except
  Denmark)"); the recital on Denmark's position was not found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preservation.errors import InvalidInput

REGULATION = "Regulation (EU) 2023/1543"
ART_3_2 = (
    f"{REGULATION}, Art. 3(2): a European Preservation Order is 'issued or validated by a"
    " judicial authority of a Member State' and 'addressed to a designated establishment or to a"
    " legal representative of a service provider offering services in the Union, where that"
    " designated establishment or legal representative is located in another Member State bound"
    " by this Regulation'"
)
ART_1_1 = (
    f"{REGULATION}, Art. 1(1): 'an authority of a Member State, in criminal proceedings, may issue"
    " ... a European Preservation Order'"
)
DIRECTIVE = "Directive (EU) 2023/1544 (designated establishments and legal representatives)"

#: Member States bound by the Regulation: the EU less Denmark (secondary sources, read
#: 2026-12-04: "across all EU Member States (except Denmark)").
BOUND_STATES = frozenset(
    "AT BE BG HR CY CZ EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
#: Member of the Union, not bound by the Regulation.
NOT_BOUND = {"DK": "Denmark"}
EU_STATES = BOUND_STATES | frozenset(NOT_BOUND)

#: Section F/G "Type" of the authority. Art. 3(2) and 4 name judge, court, investigating judge,
#: public prosecutor; the value names of the reference implementation (its ROLE_MAPPING) were not
#: found, so these are the service's.
AUTHORITY_TYPES = {
    "judge": "Judge",
    "court": "Court",
    "investigating_judge": "Investigating judge",
    "public_prosecutor": "Public prosecutor",
}

#: The request's data categories -> the element the reference implementation reads under
#: SectionC/Evidence/DataCategories (Subscriber, UserIdentification, Traffic, Content).
DATA_CATEGORIES = {
    "subscriber": "Subscriber",
    "identifying": "UserIdentification",
    "traffic": "Traffic",
    "content": "Content",
}
CATEGORY_WORDS = {
    "subscriber": "subscriber data",
    "identifying": "data requested for the sole purpose of identifying the user",
    "traffic": "traffic data",
    "content": "content data",
}

#: Annex III (information on the impossibility to execute), in the reason codes of ETSI TS 104
#: 144 V1.2.1 clause 6.4.4 as a provider's specification quotes them ("eEvidence MVP - Product
#: Manager Specification", 2026-03-20, a public GitHub file); the meaning of each follows the
#: German text of Annex III (gesetze.legal copy) where it was read, and that specification
#: otherwise. ETSI's own text was not read.
NON_EXECUTION_REASONS = {
    "Incomplete": "it is incomplete",
    "ManifestErrors": "it contains manifest errors",
    "InsufficientInformation": "it does not contain sufficient information",
    "DataNotHeld": "it concerns data not stored by or on behalf of the provider when received",
    "DeFactoImpossibility": "other de facto impossibility not attributable to the provider",
    "InvalidIssuingAuthority": "not issued or validated by an issuing authority (Art. 4)",
    "OffenceNotCovered": "issued for an offence the Regulation does not cover",
    "ServiceNotCovered": "the service is not covered by the Regulation",
    "ImmunitiesOrPrivileges": "data protected by immunities or privileges",
    "ConflictOfLaw": "compliance would conflict with the law of a third country",
}
#: Days the issuing authority has to answer a non-execution notice, as the provider's
#: specification reads ETSI TS 104 144 ("IA has 5 days to respond"; the provider closes the case
#: when nothing comes). The Regulation's own article on it was not found.
CORRECTION_DAYS = 5
CORRECTION_SOURCE = (
    "ETSI TS 104 144 V1.2.1 as quoted in a provider's eEvidence specification (2026-03-20): the"
    " issuing authority has 5 days to respond to a non-execution notice (Form 3, Annex III)"
)

#: What comes back through the national IT system, in ETSI TS 104 144 V1.2.1 names (the same
#: specification's Tables 5.1-1 and 6.1-1): the service records them; it receives nothing itself.
NOTICES = {
    "Received": (
        "the national IT system reports the EPOC-PR delivered to the addressee (its receipt starts"
        " the 60 days, Art. 11(1)); not an ETSI notification name"
    ),
    "DataPreserved": "the addressee's preservation confirmation (POST /datapreserved)",
    "NonExecution": "Form 3 / Annex III: the addressee cannot execute (POST /nonexecution)",
    "EndPreservation": (
        "the issuing authority's end of preservation (Art. 11(3)) went out (POST /endpreservation)"
    ),
    "ConfirmationOfWithdrawal": "the addressee confirms a withdrawal (POST /confirmwithdrawal)",
}


def representative(value: Any) -> dict[str, str] | None:
    """A provider's `eu_representative` ({"name", "address", "country", "email"}) read
    defensively: the directory field may be absent, null, a dict or a model; None without a
    name."""
    if value is None:
        return None
    out: dict[str, str] = {}
    for name in ("name", "address", "country", "email"):
        raw = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
        if isinstance(raw, str) and raw.strip():
            out[name] = raw.strip()
    if "country" in out:
        out["country"] = out["country"].upper()
    return out if out.get("name") else None


def check_can_issue(
    *,
    unit_country: str | None,
    provider_name: str | None,
    eu_representative: Any,
    field_name: str = "regime",
) -> None:
    """InvalidInput naming `field_name` when no EPOC-PR can be issued: the unit's State is not
    bound (Denmark, a State outside the Union, or not set), the provider has no designated
    establishment or legal representative in the Union on file, or that addressee is not in
    another bound Member State."""
    if unit_country in NOT_BOUND:
        raise InvalidInput(
            field_name,
            f"{NOT_BOUND[unit_country]} ({unit_country}) is a Member State not bound by"
            f" {REGULATION} (the EU less Denmark: secondary sources, docs/legal.md): its"
            " authorities cannot issue an EPOC-PR; use the point of contact ('budapest-art29')"
            " or the provider's own policy",
        )
    if unit_country not in BOUND_STATES:
        raise InvalidInput(
            field_name,
            f"an EPOC-PR is issued only by an authority of a Member State bound by {REGULATION}"
            f" (the EU less Denmark; {ART_1_1}); the unit's country is"
            f" {unit_country or 'not set'}",
        )
    if provider_name is None:
        raise InvalidInput(field_name, "an EPOC-PR is addressed to a provider: name one")
    rep = representative(eu_representative)
    if rep is None:
        raise InvalidInput(
            field_name,
            f"{provider_name} has no designated establishment or legal representative in the"
            f" Union on file ({DIRECTIVE}; {ART_3_2}): the directory adds it from the provider's"
            " published designation; until then use the point of contact ('budapest-art29') or"
            " the provider's own policy",
        )
    where = rep.get("country")
    if where and where == unit_country:
        raise InvalidInput(
            field_name,
            f"{provider_name}'s addressee in the Union ({rep['name']}) is in the unit's own State"
            f" ({where}): a European Preservation Order goes to one 'located in another Member"
            f" State' ({ART_3_2}); use the domestic order",
        )
    if where and where not in BOUND_STATES:
        raise InvalidInput(
            field_name,
            f"{provider_name}'s addressee ({rep['name']}) is in {where}, not a Member State bound"
            f" by {REGULATION} ({ART_3_2})",
        )
