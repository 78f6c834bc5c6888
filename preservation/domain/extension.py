"""When an extension request is offered, and which kind (pure: no I/O, no clock).

- A renewal, where the instrument or the provider's policy gives one and one is left: 18 U.S.C.
  § 2703(f)(2) ("extended for an additional 90-day period upon a renewed request"), a provider's
  published extensions (X asks for them at least 7 days before expiry). The last day for it is
  the expiry less the longer of the instrument's and the provider's lead time.
- A fresh preservation request naming the previous one, where there is no extension (Budapest
  Art. 29 has none; a provider's policy without extensions; the 24/7 point of contact outside
  the Convention): to be sent before the expiry.
- Nothing for an EPOC-PR (the issuing authority extends it with Annex VI: requests/epoc.py), an
  emergency, a request not sent yet, a preservation held until the MLA decision, or one closed.

A reminder offers the document when it falls due by the last day and before the expiry
(`offered_by`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from dateutil.relativedelta import relativedelta

from preservation.domain import deadlines as dl
from preservation.domain.lifecycle import Status

RENEWAL = "renewal"
FRESH = "fresh"
#: Statuses in which the preservation is running (and can be extended or renewed).
RUNNING = frozenset({Status.SENT, Status.PRESERVED, Status.MLA_SENT})
NO_EXTENSION_DOCUMENT = frozenset({"eu-epoc-pr"})


@dataclass(frozen=True, kw_only=True)
class ExtensionOffer:
    kind: Literal["renewal", "fresh"]
    #: The preservation's current end.
    expires_at: datetime
    #: The last instant the document can go out: the expiry less the lead time.
    last_day: datetime
    lead_days: int
    #: The extension's length in days (a renewal), or 0.
    days: int
    #: The provision or policy that gives the extension ("" for a fresh request).
    citation: str


def extension_offer(inp: dl.DeadlineInput) -> ExtensionOffer | None:
    """The extension document the request can be followed by now, or None."""
    regime, provider, ev = inp.regime, inp.provider, inp.events
    if regime.emergency or regime.key in NO_EXTENSION_DOCUMENT or ev.status not in RUNNING:
        return None
    plan = dl.plan_deadlines(inp)
    if plan.expires_at is None or plan.held_until_decision:
        return None
    if any(e.granted_at is None for e in ev.extensions):
        return None  # one is asked and not confirmed: wait for its answer
    if plan.extensions_left > 0:
        lead = max(regime.extension_lead_days, (provider and provider.extension_lead_days) or 0)
        days = regime.extension_days
        citation = regime.extension_citation
        if regime.period_from_provider and provider is not None:
            days = provider.extension_days or days
            citation = regime.basis
        elif provider is not None and provider.extension_days:
            days = min(days, provider.extension_days) if days else provider.extension_days
        return ExtensionOffer(
            kind=RENEWAL,
            expires_at=plan.expires_at,
            last_day=plan.expires_at - relativedelta(days=lead),
            lead_days=lead,
            days=days,
            citation=citation,
        )
    return ExtensionOffer(
        kind=FRESH,
        expires_at=plan.expires_at,
        last_day=plan.expires_at,
        lead_days=0,
        days=0,
        citation="",
    )


def offered_by(offer: ExtensionOffer | None, due_at: datetime) -> bool:
    """A reminder due at `due_at` offers the extension document: it falls due by the last day
    for it, and before the expiry (at the expiry it is too late)."""
    return offer is not None and due_at <= offer.last_day and due_at < offer.expires_at
