"""The letter's context for a request: ONE builder for the letter the dispatcher sends and the
letter the request record and `GET /api/v1/requests/{id}/letter` show, so what the unit reads is
what the provider or point of contact received (documents/letter.py turns it into text, HTML, PDF
or JSON)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.documents.letter import letter_context, render_letter
from preservation.domain.regimes import Regime
from preservation.errors import Conflict
from preservation.storage.models import PreservationRequest, RequestIdentifier, Unit, User

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
    }


def regime_of(req: PreservationRequest, regimes: dict[str, Regime]) -> Regime:
    regime = regimes.get(req.regime)
    if regime is None:
        raise Conflict(f"the regime {req.regime!r} of this request is no longer configured")
    return regime


async def letter_context_for(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    regimes: dict[str, Regime],
    now: datetime,
) -> dict[str, Any]:
    """The letter's context (also its JSON form) for `req` as it stands. The recipients are the
    route decided when it was assessed (for a submitted request: the rows it was sent to)."""

    assert req.id is not None
    regime = regime_of(req, regimes)
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
    return letter_context(
        req=req,
        identifiers=identifiers,
        unit=unit,
        regime=regime,
        recipients=[
            {k: r.get(k) for k in ("role", "channel", "to", "name")}
            for r in (req.route or {}).get("recipients", [])
        ],
        creator=creator.name if creator is not None else "",
        provider=await provider_view(session, req.provider),
        now=now,
    )


async def letter_text(
    session: AsyncSession, req: PreservationRequest, *, regimes: dict[str, Regime], now: datetime
) -> str:
    context = await letter_context_for(session, req, regimes=regimes, now=now)
    return render_letter(context, fmt="text", lang=req.lang).decode("utf-8")


async def letter_parts(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    regimes: dict[str, Regime],
    now: datetime,
) -> tuple[dict[str, Any], str, bytes | None]:
    """The letter's context (its JSON form), its text and its PDF (None when the PDF cannot be
    made here: the text body carries the whole letter anyway)."""
    context = await letter_context_for(session, req, regimes=regimes, now=now)
    text = render_letter(context, fmt="text", lang=req.lang).decode("utf-8")
    try:
        pdf: bytes | None = await asyncio.to_thread(
            render_letter, context, fmt="pdf", lang=req.lang
        )
    except Exception:  # noqa: BLE001 - a missing font must not stop an urgent request
        log.exception("PDF letter failed", extra={"action": "dispatch.pdf_failed"})
        pdf = None
    return context, text, pdf
