"""What a letter says of the law it rests on, per instrument: its legal basis, the custodian,
the period, the formal request to follow, and what else it asks for. One content model for every
format (the text, HTML and PDF templates print these paragraphs as they are).

Each sentence follows the text it cites (docs/legal.md quotes them): a Budapest request rests on
Art. 29(1) and asks for "a period not less than sixty days" (Art. 29(7)), never "for 60 days";
a direct request to a provider rests on the provider's own policy and cites no treaty and no
foreign statute."""

from __future__ import annotations

import re
from typing import Any

BUDAPEST = "budapest-art29"
PROVIDER_POLICY = "provider-policy"
POC_COOPERATION = "poc-cooperation"
US_2703F = "us-2703f"
EPOC_PR = "eu-epoc-pr"
US_2702_EMERGENCY = "us-2702-emergency"
PROVIDER_EMERGENCY = "provider-emergency"
POC_EMERGENCY = "poc-emergency"
CETS224_ART9 = "cets224-art9"
EMERGENCY_HEADING = "EMERGENCY DISCLOSURE REQUEST: DANGER OF DEATH OR SERIOUS PHYSICAL INJURY"


def custodian_text(provider: dict[str, Any] | None, *, country: str | None, _: Any = None) -> str:
    """Art. 29(2)(d): the custodian as a legal entity with its address when the directory has
    them, else the provider's name; the requested State besides."""
    _ = _ or _english
    if not provider:
        if not country:
            return ""
        shown = _.country(country) if hasattr(_, "country") else country
        return _("not identified; the data are believed to be in %(country)s", country=shown)
    entity = provider.get("entity") or {}
    name = entity.get("name") or provider.get("name") or ""
    address = entity.get("address") or ""
    text = name + (f", {address}" if address else "")
    if entity.get("region"):
        text += " " + _("(the entity for %(region)s)", region=entity["region"])
    elif provider.get("name") and name != provider.get("name"):
        text += f" ({provider['name']})"
    return text


def emergency_paragraphs(
    *, instrument: dict[str, Any], regime: Any, provider: dict[str, Any] | None
) -> dict[str, Any]:
    """An emergency disclosure letter's paragraphs: {"heading", "basis", "ask", "period" (empty:
    an emergency has no preservation period), "formal", "asks"}. The US provisions permit a
    provider to disclose voluntarily; they oblige it to nothing, and the letter says so."""
    key = instrument.get("key") or regime.key
    citation = instrument.get("citation") or regime.basis
    name = (provider or {}).get("name") or "the provider"
    us_custodian = (provider or {}).get("country") == "US"
    out: dict[str, Any] = {"heading": EMERGENCY_HEADING, "period": "", "asks": []}
    if key == US_2702_EMERGENCY:
        out["basis"] = (
            f"Basis: {citation}. These provisions permit a provider that believes, in good"
            " faith, that an emergency involving danger of death or serious physical injury to"
            " any person requires disclosure without delay to disclose communications and"
            " information relating to the emergency. We ask you to disclose voluntarily, under"
            " those provisions and your emergency disclosure policy; the facts below are given"
            " for your decision."
        )
    elif key == PROVIDER_EMERGENCY:
        out["basis"] = (
            f"Basis: this request is made to {name} under {citation}. It asks for voluntary"
            " disclosure in an emergency; it does not rest on a treaty or on the law of your"
            " State."
        )
    elif key == CETS224_ART9:
        out["basis"] = (
            f"Legal basis: {citation}: a request for the expedited disclosure of stored computer"
            " data in an emergency, through the 24/7 Network."
        )
    else:
        out["basis"] = (
            "Basis: a request for emergency police co-operation through your 24/7 point of"
            " contact. We are not aware of a treaty in force between our two States for"
            " emergency requests; we ask you to obtain the data, or to have them disclosed, as"
            " your law allows."
        )
        if us_custodian:
            out["basis"] += (
                f" The custodian, {name}, is a provider in the United States: under 18 U.S.C."
                " § 2702(b)(8) (contents) and § 2702(c)(4) (records) it may disclose voluntarily"
                " in an emergency involving danger of death or serious physical injury."
            )
    out["ask"] = (
        "We ask you to disclose without delay the data described below that relate to the"
        " emergency, and to call us on the direct line below with any question: we answer at"
        " any hour."
    )
    out["formal"] = (
        "A request for the preservation of these data and the formal legal process for their"
        " disclosure will follow, so that the data can be used in proceedings."
    )
    return out


def law_paragraphs(
    *,
    instrument: dict[str, Any],
    regime: Any,
    provider: dict[str, Any] | None,
    data_categories: list[str],
    mla_to_follow: bool,
    _: Any = None,
    renewal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The instrument's paragraphs: {"heading", "basis", "period", "formal", "asks"}, in the
    language of `_` (documents/i18n.Words; default English, the msgids themselves).

    `renewal` makes them the paragraphs of an extension request (requests/extension.py):
    {"kind": "renewal", "days": N, "citation": ...} asks to extend under the instrument's own
    extension; {"kind": "fresh"} is a new request for the same data (Budapest has no extension:
    Art. 29(7) gives a new period of not less than sixty days)."""
    if getattr(regime, "emergency", False):
        return emergency_paragraphs(instrument=instrument, regime=regime, provider=provider)
    _ = _ or _english
    key = instrument.get("key") or regime.key
    citation = cite(instrument.get("citation") or regime.basis, _)
    name = (provider or {}).get("name") or _("the provider")
    out: dict[str, Any] = {
        "heading": _("REQUEST FOR THE EXPEDITED PRESERVATION OF STORED COMPUTER DATA")
    }
    asks: list[str] = []
    if key == BUDAPEST:
        out["basis"] = _(
            "Legal basis: %(citation)s. This is a request from one Party to another for the"
            " expeditious preservation of stored computer data in respect of which we intend to"
            " submit a request for mutual assistance.",
            citation=citation,
        )
        out["period"] = _(
            "Under Art. 29(7) of the Convention, the preservation is to be for a period of not"
            " less than sixty days, to enable us to submit a request for the search or similar"
            " access, seizure or similar securing, or disclosure of the data. Following the"
            " receipt of that request, the data are to continue to be preserved pending a"
            " decision on it. Please tell us the date from which the data are preserved and how"
            " long your law allows you to keep them."
        )
        out["formal"] = _(
            "A request for mutual legal assistance for the disclosure of these data will follow:"
            " we intend to submit it (Art. 29(2)(f)). Please confirm its receipt when it reaches"
            " you: under Art. 29(7) the preservation continues from that receipt."
        )
        if "art30" in regime.asks and "traffic" in data_categories:
            asks.append(
                _(
                    "Traffic data (Art. 30(1)): if, in preserving traffic data concerning a"
                    " specific communication, you discover that a service provider in another"
                    " State was involved in its transmission, please disclose to us"
                    " expeditiously a sufficient amount of traffic data to identify that service"
                    " provider and the path through which the communication was transmitted."
                )
            )
        if "art29-6" in regime.asks:
            asks.append(
                _(
                    "Art. 29(6): if preservation will not ensure the future availability of the"
                    " data, or will threaten the confidentiality of our investigation or"
                    " otherwise prejudice it (for instance by alerting the user), please inform"
                    " us promptly so that we can decide whether the request should nevertheless"
                    " be executed."
                )
            )
    elif key == PROVIDER_POLICY:
        out["basis"] = _(
            "Basis: this request is made to %(name)s under %(citation)s. It is a request for"
            " voluntary preservation pending formal legal process; it does not rest on a treaty"
            " or on the law of your State.",
            name=name,
            citation=citation,
        )
        days = (provider or {}).get("preservation_days")
        if days:
            out["period"] = _(
                "Please preserve the data for the period your policy provides (%(days)s days"
                " according to your published policy), and tell us the date from which they are"
                " preserved and the date on which the preservation ends.",
                days=_.number(days) if hasattr(_, "number") else days,
            )
        else:
            out["period"] = _(
                "Please preserve the data for the period your policy provides, and tell us the"
                " date from which they are preserved and the date on which the preservation"
                " ends."
            )
        out["formal"] = _(
            "Formal legal process (a request for mutual legal assistance) for the disclosure of"
            " these data will follow before the end of that period."
        )
    elif key == US_2703F:
        out["basis"] = _(
            "Legal basis: %(citation)s. This request is made by a governmental entity within the"
            " meaning of 18 U.S.C. § 2711(4).",
            citation=citation,
        )
        out["period"] = _(
            "Under %(citation)s, the records are to be retained for a period of 90 days, which is"
            " to be extended for an additional 90-day period upon a renewed request.",
            citation=cite(regime.citation, _),
        )
        out["formal"] = _(
            "A court order or other process for the disclosure of these records will follow."
        )
    elif key == POC_COOPERATION:
        out["basis"] = _(
            "Basis: a request for police co-operation through your 24/7 point of contact. We are"
            " not aware of a treaty between our two States under which we could make it; we ask"
            " you to preserve the data, or to have them preserved, as your law allows."
        )
        out["period"] = _(
            "Please tell us whether the data can be preserved, from which date, and for how long"
            " your law allows you to keep them."
        )
        out["formal"] = _(
            "A request for mutual legal assistance for the disclosure of these data will follow."
        )
    elif key == EPOC_PR:
        out["heading"] = _("EUROPEAN PRESERVATION ORDER (EPOC-PR): DRAFT FOR THE ISSUING AUTHORITY")
        out["basis"] = _("Legal basis: %(citation)s.", citation=citation)
        out["period"] = _(
            "Under Art. 11(1) of Regulation (EU) 2023/1543, the obligation to preserve ceases"
            " after 60 days unless the issuing authority confirms, using the form in Annex V,"
            " that a subsequent request for production has been issued; during those 60 days"
            " the issuing authority may extend it by an additional 30-day period (Annex VI)."
        )
        out["formal"] = _("A subsequent request for production will be issued.")
    else:
        out["basis"] = _(
            "Legal basis: %(citation)s (%(name)s).", citation=citation, name=_(regime.name)
        )
        if regime.max_extensions and regime.extension_days:
            out["period"] = _(
                "Period of preservation under %(citation)s. It may be renewed: %(count)s"
                " renewal(s) of %(days)s days (%(extension)s).",
                citation=cite(regime.citation, _),
                count=regime.max_extensions,
                days=regime.extension_days,
                extension=cite(regime.extension_citation, _),
            )
        else:
            out["period"] = _(
                "Period of preservation under %(citation)s.", citation=cite(regime.citation, _)
            )
        out["formal"] = _("A request for the disclosure of these data will follow.")
    if renewal is not None:
        _renewal_paragraphs(out, renewal=renewal, key=key, regime=regime, _=_)
    if not mla_to_follow:
        out["formal"] = ""
    out["asks"] = asks
    return out


def _renewal_paragraphs(
    out: dict[str, Any], *, renewal: dict[str, Any], key: str, regime: Any, _: Any
) -> None:
    """An extension request's heading and period (the rest of the letter is the original's)."""
    if renewal.get("kind") == "renewal":
        out["heading"] = _("REQUEST FOR THE EXTENSION OF A PRESERVATION")
        if key == US_2703F:
            out["heading"] = _("RENEWED REQUEST FOR PRESERVATION UNDER 18 U.S.C. § 2703(f)(2)")
            out["period"] = _(
                "This is the renewed request of %(citation)s: please extend the retention of the"
                " records described below for an additional 90-day period.",
                citation=cite(regime.citation, _),
            )
        else:
            out["period"] = _(
                "Please extend the preservation of the data described below by %(days)s days, as"
                " %(citation)s provides, and confirm the new end date.",
                days=renewal.get("days") or "",
                citation=cite(renewal.get("citation") or "", _),
            )
    else:
        out["heading"] = _(
            "NEW REQUEST FOR THE EXPEDITED PRESERVATION OF STORED COMPUTER DATA (EXTENSION OF A"
            " PREVIOUS REQUEST)"
        )
        if key == BUDAPEST:
            out["period"] = _(
                "Art. 29 of the Convention provides no extension: this is a new request under"
                " Art. 29(1) for the same data. Under Art. 29(7), the preservation is to be for a"
                " period of not less than sixty days. Please keep the data preserved without"
                " interruption and tell us the date from which the new period runs."
            )
        else:
            out["period"] = _(
                "No extension is provided for: this is a new request for the same data. Please"
                " keep them preserved without interruption and tell us the date from which the"
                " new period runs and the date on which it ends."
            )


def cite(citation: str, _: Any) -> str:
    """A citation in the document's language: an instrument's text from config/regimes.toml
    through the catalogue; a provider's policy rebuilt around its name and source."""
    if not citation:
        return ""
    match = _POLICY.match(citation)
    if match:
        source = f" ({match['source']})" if match["source"] else ""
        return (
            _("%(name)s's published policy on requests from law enforcement", name=match["name"])
            + source
        )
    return _(citation)


_POLICY = re.compile(
    r"^(?P<name>.+?)'s published policy on requests from law enforcement(?: \((?P<source>.+)\))?$"
)


def _english(message: str, **values: object) -> str:
    return message % values if values else message
