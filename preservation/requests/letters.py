"""The letter's context for a request: ONE builder for the letter the dispatcher sends and the
letter the request record and `GET /api/v1/requests/{id}/letter` show, so what the unit reads is
what the provider or point of contact received (documents/letter.py turns it into text, HTML, PDF
or JSON)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.people import signatory
from preservation.documents.letter import letter_context, render_letter
from preservation.domain.regimes import Regime
from preservation.errors import Conflict
from preservation.runtime.offload import in_process
from preservation.storage.models import PreservationRequest, RequestIdentifier, Unit, User
from providers.entities import custodian

log = logging.getLogger(__name__)


async def provider_view(session: AsyncSession, slug: str | None) -> dict[str, Any] | None:
    """What the letter says of the provider (None when none is named or it left the directory)."""
    if not slug:
        return None
    from preservation.directory.snapshot import get_provider

    provider = await get_provider(session, slug)
    if provider is None:
        return None
    return {
        "name": provider.name,
        "country": provider.country,
        "entity_by_region": getattr(provider, "entity_by_region", None),
        "preservation_days": provider.preservation_days,
        "entities": getattr(provider, "entities", None),
    }


def custodian_entity(
    provider: dict[str, Any] | None, *, region: str | None
) -> dict[str, Any] | None:
    """The provider's legal entity for `region` (the requesting unit's country: where the users
    investigated most likely are) as the letter prints it; None when the directory names none
    (providers/entities.py: the country's entity, the European one for the EEA, the default)."""
    if not provider:
        return None
    entity = custodian(provider, region)
    if entity is None:
        by_region = provider.get("entity_by_region") or {}
        name = by_region.get(region or "") or by_region.get("default")
        return {"name": name, "address": "", "region": ""} if name else None
    return {"name": entity.name, "address": entity.address or "", "region": entity.region}


def regime_of(req: PreservationRequest, regimes: dict[str, Regime]) -> Regime:
    regime = regimes.get(req.regime)
    if regime is None:
        raise Conflict(f"the regime {req.regime!r} of this request is no longer configured")
    return regime


def recipients_of(req: PreservationRequest) -> list[dict[str, Any]]:
    """The recipients decided when the request was assessed, each with its instrument."""
    return [
        {k: r.get(k) for k in ("role", "channel", "to", "name", "instrument")}
        for r in (req.route or {}).get("recipients", [])
    ]


async def letter_context_for(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    regimes: dict[str, Regime],
    now: datetime,
    recipient: dict[str, Any] | None = None,
    lang: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The letter's context (also its JSON form) for `req` as it stands, as `recipient` gets it
    (a dict with role, channel, to, name, instrument; default: the main addressee), in `lang`
    (default: the request's). Each recipient's letter rests on its own instrument: the
    provider's under its policy, the point of contact's under Art. 29 naming the provider as
    custodian. `previous` makes it an extension request (requests/extension.py)."""

    assert req.id is not None
    everyone = recipients_of(req)
    if recipient is None:
        recipient = next((r for r in everyone if r.get("role") in ("provider", "poc")), None)
    instrument = (recipient or {}).get("instrument") or None
    regime = regimes.get(instrument["key"]) if instrument and instrument.get("key") else None
    if regime is None:
        regime = regime_of(req, regimes)
        instrument = None
    if recipient is not None and recipient.get("role") == "copy":
        # The point of contact's own letter: addressed to it, nobody in copy.
        shown = [{**recipient, "role": "poc"}]
    else:
        shown = everyone
    unit = await session.get(Unit, req.unit_id)
    creator = await session.get(User, req.created_by)
    identifiers = list(
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
    return letter_context(
        req=req,
        identifiers=identifiers,
        unit=unit,
        regime=regime,
        recipients=shown,
        # The person, as they want to be named on letters ("Nina Novak, Detective Inspector").
        creator=signatory(creator),
        provider=provider,
        now=now,
        instrument=instrument,
        lang=lang,
        previous=previous,
    )


async def letter_text(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    regimes: dict[str, Regime],
    now: datetime,
    recipient: dict[str, Any] | None = None,
) -> str:
    context = await letter_context_for(session, req, regimes=regimes, now=now, recipient=recipient)
    return render_letter(context, fmt="text", lang=req.lang).decode("utf-8")


async def letter_parts(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    regimes: dict[str, Regime],
    now: datetime,
    recipient: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str, bytes | None]:
    """The letter's context (its JSON form), its text and its PDF (None when the PDF cannot be
    made here: the text body carries the whole letter anyway)."""
    context = await letter_context_for(session, req, regimes=regimes, now=now, recipient=recipient)
    text = render_letter(context, fmt="text", lang=req.lang).decode("utf-8")
    try:
        # In the worker process, as the letter pages render it (runtime/offload.py).
        pdf: bytes | None = await in_process(render_letter, context, fmt="pdf", lang=req.lang)
    except Exception:  # noqa: BLE001 - a missing font must not stop an urgent request
        log.exception("PDF letter failed", extra={"action": "dispatch.pdf_failed"})
        pdf = None
    return context, text, pdf


def outbox_recipient(row: Any) -> dict[str, Any]:
    """An outbox row as the letter's recipient."""
    return {
        "role": row.role,
        "channel": row.channel,
        "to": row.to,
        "name": row.recipient_name,
        "instrument": row.instrument,
    }
