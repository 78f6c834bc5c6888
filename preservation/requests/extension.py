"""The extension request drafted from the record: a renewal where the instrument or the
provider's policy gives one (18 U.S.C. § 2703(f)(2); a provider's published extensions), a fresh
preservation request naming the previous one where there is none (Budapest Art. 29: a new
request under Art. 29(1), laid out as T-CY(2018)11's "extension of previous request").

It is the preservation letter's content model with a `previous` block (documents/letter.py):
the same recipient, identifiers, facts and contacts, so nothing is re-typed. When it is offered,
and until when, is domain/extension.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from preservation.documents import i18n
from preservation.domain.extension import FRESH, ExtensionOffer, extension_offer
from preservation.errors import Conflict
from preservation.requests.letters import letter_context_for, recipients_of
from preservation.requests.reminder_plan import deadline_input
from preservation.runtime.context import Context
from preservation.storage.models import PreservationRequest, Unit


async def offer_for(
    session: AsyncSession, req: PreservationRequest, *, ctx: Context
) -> ExtensionOffer | None:
    """The extension document `req` can be followed by now (None: not offered)."""
    if (getattr(req, "kind", None) or "preservation") != "preservation":
        return None
    try:
        inp = await deadline_input(session, req, ctx=ctx)
    except Exception:  # noqa: BLE001 - an instrument no longer configured: nothing to offer
        return None
    return extension_offer(inp)


async def extension_context(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    ctx: Context,
    lang: str | None = None,
    recipient: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The extension request for `req` as `recipient` (default: the main addressee) gets it,
    in `lang` (default: the request's letter language). Conflict when none is offered."""
    offer = await offer_for(session, req, ctx=ctx)
    if offer is None:
        raise Conflict(
            "no extension request is offered for this request: it is not running (not sent,"
            " held until the MLA decision, closed), an extension is awaiting its answer, or it"
            " is an EPOC-PR (Annex VI) or an emergency"
        )
    unit = await session.get(Unit, req.unit_id)
    assert unit is not None
    lang = lang or req.lang or i18n.SOURCE
    _ = i18n.words(lang)
    if recipient is None:
        recipient = next(
            (r for r in recipients_of(req) if r.get("role") in ("provider", "poc")), None
        )
    renewal: dict[str, Any] = {"kind": offer.kind}
    if offer.kind != FRESH:
        citation = offer.citation
        instrument = (recipient or {}).get("instrument") or {}
        if instrument.get("key") == "provider-policy" and instrument.get("citation"):
            citation = instrument["citation"]  # the provider's own policy, with its source
        renewal.update({"days": offer.days, "citation": citation})
    previous = {
        "reference": req.reference,
        "sent": _.instant(req.sent_at, unit.timezone) if req.sent_at else "",
        "preserved": _.instant(req.preserved_at, unit.timezone) if req.preserved_at else "",
        "their_reference": req.provider_reference,
        "expires": _.instant(offer.expires_at, unit.timezone),
        "last_day": _.instant(offer.last_day, unit.timezone),
        "last_day_utc": offer.last_day.isoformat(),
        "renewal": renewal,
    }
    return await letter_context_for(
        session,
        req,
        regimes=ctx.regimes,
        now=ctx.clock.now(),
        recipient=recipient,
        lang=lang,
        previous=previous,
    )
