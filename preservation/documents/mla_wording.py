"""The MLA request's own words (beyond its template): the names of the fields the draft may
lack, the "to be completed" mark, and the guidance's warnings (domain/mla.py gives their codes
and values). Marked for the catalogues with N_ and translated where printed."""

from __future__ import annotations

from typing import Any

from preservation.documents.i18n import N_
from preservation.domain.mla import Finding

#: Each field the draft can lack: the record's ("offence") and the officer's ("mla....").
FIELD_LABELS = {
    "offence": N_("the offence (on the request)"),
    "summary": N_("the summary of the facts (on the request)"),
    "relevance": N_("the link between the data and the offence (on the request)"),
    "country": N_("the requested State (on the request)"),
    "identifiers": N_("the identifiers of the data (on the request)"),
    "data_categories": N_("the categories of data (on the request)"),
    "mla.requested_authority": N_("the requested authority (central authority)"),
    "mla.treaty_basis": N_("the treaty or arrangement the request rests on"),
    "mla.requesting_authority": N_("the requesting judicial authority"),
    "mla.legal_classification": N_("the legal classification of the offence"),
    "mla.max_penalty": N_("the maximum penalty"),
    "mla.certification": N_("whether the evidence must be certified"),
    "mla.certification_how": N_("how the evidence must be certified"),
}

#: How a preservation request went out (outbox channels).
CHANNEL_LABELS = {
    "email": N_("e-mail"),
    "portal": N_("law-enforcement portal"),
    "webhook": N_("web hook"),
}


def channel_text(channel: str, _: Any) -> str:
    return _(CHANNEL_LABELS[channel]) if channel in CHANNEL_LABELS else channel


def placeholder(label: str, _: Any) -> str:
    """What the draft prints where a field is missing (never an invented value)."""
    return _("[to be completed: %(what)s]", what=_(label))


def finding_text(finding: Finding, _: Any) -> str:
    """A warning from the guidance, in the document's language, citing its source."""
    v = dict(finding.values)
    if finding.code == "content_without_probable_cause":
        return _(
            "Content data are asked for and no statement of probable cause is given. UNODC's"
            " tips: to obtain content, as a general rule, more evidence must be provided than"
            " for subscriber information."
        )
    threshold = ""
    if v.get("threshold") and v.get("currency"):
        threshold = (
            _.money(v["threshold"], v["currency"])
            if hasattr(_, "money")
            else (f"{v['currency']} {v['threshold']}")
        )
    if finding.code == "damages_not_stated":
        return _(
            "The damage caused is not stated. According to %(source)s, \u201c%(quote)s\u201d:"
            " state the damage if it reaches %(threshold)s, or the other reasons for the"
            " gravity of the offence.",
            source=v["source"],
            quote=v["quote"],
            threshold=threshold,
        )
    if finding.code == "damages_other_currency":
        return _(
            "The damage is stated in %(given)s; the threshold known for the requested State is"
            " in %(currency)s (%(threshold)s, %(source)s): state it in %(currency)s as well.",
            given=v["given"],
            currency=v["currency"],
            threshold=threshold,
            source=v["source"],
        )
    if finding.code == "damages_below_threshold":
        amount = _.money(v["amount"], v["currency"]) if hasattr(_, "money") else v["amount"]
        return _(
            "The damage stated (%(amount)s) is below %(threshold)s: according to %(source)s,"
            " \u201c%(quote)s\u201d. Explain the gravity of the offence otherwise, or consider"
            " whether the request is proportionate.",
            amount=amount,
            threshold=threshold,
            source=v["source"],
            quote=v["quote"],
        )
    return finding.code
