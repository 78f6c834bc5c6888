"""A request's assessment: its regime, language and provider checked, its route decided, and the warnings an officer should read before sending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from preservation.directory import routing
from preservation.documents.letter import available_languages
from preservation.domain import instruments
from preservation.domain.regimes import Regime
from preservation.errors import InvalidInput
from preservation.requests.addressee import owner_of
from preservation.requests.checklist import checklist
from preservation.runtime.context import Context
from preservation.settings import load_treaties
from preservation.storage.models import (
    PreservationRequest,
    Unit,
)

EPOC_STATES = instruments.EPOC_STATES


def resolve_regime(ctx: Context, key: str, *, field: str = "regime") -> Regime:
    """A usable regime: known, and not a template to be copied."""
    regime = ctx.regimes.get(key)
    known = ", ".join(sorted(k for k, r in ctx.regimes.items() if not r.template))
    if regime is None:
        raise InvalidInput(field, f"unknown regime {key!r}; known: {known}")
    if regime.template:
        raise InvalidInput(
            field, f"{key!r} is a template: copy and adapt it in the regimes file; known: {known}"
        )
    return regime


def check_lang(lang: str, *, field: str = "lang") -> str:
    languages = available_languages()
    if lang not in languages:
        raise InvalidInput(
            field, f"no letter template in {lang!r}; available: {', '.join(languages)}"
        )
    return lang


async def check_provider(
    session: AsyncSession, slug: str | None, *, field: str = "provider"
) -> Any | None:
    """The provider row of `slug` (None for None), or InvalidInput naming `field`.

    Callers keep the row for the rest of the transaction: the session's identity map holds its
    objects weakly, and a kept row spares routing and the reminder plan another SELECT."""
    if slug is None:
        return None
    from preservation.directory.snapshot import get_provider

    provider = await get_provider(session, slug)
    if provider is None:
        raise unknown_provider(slug, field=field)
    return provider


def unknown_provider(slug: str, *, field: str = "provider") -> InvalidInput:
    return InvalidInput(field, f"no provider {slug!r} in the directory (see GET /api/v1/providers)")


def regime_warnings(regime: Regime, *, country: str | None, now: datetime) -> list[str]:
    out = []
    if regime.applies_from is not None and now.date() < regime.applies_from:
        out.append(f"{regime.citation} applies only from {regime.applies_from.isoformat()}")
    if regime.template:
        out.append(
            f"{regime.key!r} is a template: the operator copies and adapts it in the regimes file"
            " (the national provision, period and renewals) before a request can rest on it"
        )
    return out


def route_warnings(route: routing.Route, *, confidential: bool, regime: Regime) -> list[str]:
    out = []
    provider = route.provider
    if provider is not None:
        name = provider.get("name") or provider.get("slug")
        if regime.emergency:
            pass  # an emergency goes to the emergency channel, whatever the preservation route
        elif provider.get("accepts_foreign_direct") is False:
            out.append(
                f"{name} does not accept preservation requests directly from foreign"
                " authorities: the request goes to the requested country's 24/7 point of contact"
            )
        elif provider.get("accepts_foreign_direct") is None:
            out.append(
                f"the directory does not say whether {name} accepts foreign requests directly:"
                " the request goes to the 24/7 point of contact"
            )
        if provider.get("stale"):
            out.append(
                f"the directory entry of {name} has not been verified recently"
                f" (verified on {provider.get('verified_on') or 'never'}): check its portal and address"
            )
        if confidential and provider.get("notifies_user") == "always":
            out.append(
                f"{name} notifies its users unless a law or court order forbids it: the"
                " confidentiality request alone may not keep the preservation from the user"
            )
        elif confidential and provider.get("notifies_user") == "unknown":
            out.append(
                f"it is not known whether {name} notifies its users: ask the requested authority"
            )
    copy_ids = set(route.copy_to)
    for contact in route.contacts:
        used = contact.get("id") in copy_ids or any(
            r.contact_id == contact.get("id") for r in route.recipients
        )
        if used and contact.get("stale"):
            out.append(
                f"the directory entry of {contact.get('authority')} ({contact.get('country')}) has"
                f" not been verified recently (verified on {contact.get('verified_on') or 'never'})"
            )
    if not route.recipients:
        out.append(f"no recipient: {route.why}")
    for r in route.recipients:
        if r.instrument is not None and r.instrument.key == instruments.POC_COOPERATION:
            out.append(f"the letter to {r.name or r.to} cites no treaty: {r.instrument.why}")
    return out


def laws_for(req: PreservationRequest, *, unit: Any, ctx: Context) -> routing.Laws:
    """What the choice of instruments needs for `req` of `unit`."""
    return routing.Laws(
        regimes=ctx.regimes,
        treaties=load_treaties(ctx.settings.parties_path),
        unit_country=getattr(unit, "country", None),
        requested=req.regime if req.regime_asked else None,
        kind=getattr(req, "kind", None) or "preservation",
    )


async def resolve_route(
    session: AsyncSession, req: PreservationRequest, *, unit: Unit, ctx: Context
) -> routing.Route:
    return await routing.route_request(
        session,
        country=req.country,
        provider_slug=req.provider,
        copy_to_poc=unit.copy_to_poc,
        today=ctx.clock.now().date(),
        staleness_days=ctx.settings.staleness_days,
        laws=laws_for(req, unit=unit, ctx=ctx),
    )


def stored_route(route: routing.Route) -> dict[str, Any]:
    return {
        **route.as_public(),
        "country": route.country,
        "provider_name": (route.provider or {}).get("name"),
        "recipients": [
            {
                "role": r.role,
                "channel": r.channel,
                "to": r.to,
                "name": r.name,
                "instrument": r.instrument.public() if r.instrument else None,
            }
            for r in route.recipients
        ],
        "instrument": route.instrument.public() if route.instrument else None,
        # An emergency's numbers to call now, first first.
        "call": [dict(c) for c in route.call],
    }


def choose_regime(
    req: PreservationRequest, route: routing.Route, *, unit: Any, ctx: Context
) -> None:
    """The request's instrument: the one the officer asked for, checked against the route and
    the unit's State (422 naming `regime`), or the main addressee's as the route decided it."""
    if getattr(req, "kind", None) == "emergency":
        chosen = route.instrument
        assert chosen is not None  # an emergency route always names the instrument
        if req.regime_asked:
            instruments.check_emergency_requested(req.regime, chosen=chosen, regimes=ctx.regimes)
        req.regime = chosen.key
        return
    if req.regime_asked:
        provider = route.provider or {}
        facts = (
            instruments.ProviderFacts(
                name=str(provider.get("name") or req.provider),
                country=provider.get("country"),
                accepts_foreign_direct=provider.get("accepts_foreign_direct"),
                eu_representative=provider.get("eu_representative"),
            )
            if req.provider
            else None
        )
        instruments.check_requested(
            req.regime,
            regimes=ctx.regimes,
            unit_country=getattr(unit, "country", None),
            direct=any(r.role == "provider" for r in route.recipients),
            provider=facts,
            requested_country=route.country,
            treaties=load_treaties(ctx.settings.parties_path),
        )
        resolve_regime(ctx, req.regime)
    elif route.instrument is not None:
        req.regime = route.instrument.key


def apply_assessment(
    req: PreservationRequest,
    route: routing.Route,
    *,
    parsed_warnings: Sequence[str],
    identifiers: int,
    unit: Any,
    ctx: Context,
) -> None:
    """Store `route`, the instrument, the checklist and the warnings of the request as it stands
    (pure)."""
    choose_regime(req, route, unit=unit, ctx=ctx)
    regime = ctx.regimes[req.regime]
    req.route = stored_route(route)
    req.checklist = checklist(
        req, identifiers=identifiers, unit=unit, provider_country=route.country
    )
    now = ctx.clock.now()
    warnings = list(parsed_warnings)
    warnings += regime_warnings(regime, country=req.country or route.country, now=now)
    warnings += route_warnings(route, confidential=req.confidential, regime=regime)
    req.warnings = list(dict.fromkeys(warnings))


async def assess(
    session: AsyncSession,
    req: PreservationRequest,
    *,
    parsed_warnings: Sequence[str],
    identifiers: int,
    unit: Unit,
    ctx: Context,
) -> routing.Route:
    """Route, checklist and warnings of the request as it stands (stored on the request)."""
    route = await resolve_route(session, req, unit=unit, ctx=ctx)
    apply_assessment(
        req,
        route,
        parsed_warnings=[*parsed_warnings, *await _owner_warnings(session, req, ctx)],
        identifiers=identifiers,
        unit=unit,
        ctx=ctx,
    )
    return route


def owner_warnings(index: Any, *, provider: str | None, rows: Sequence[Any]) -> list[str]:
    """Warnings for identifiers that belong to another provider than the addressee (by the
    directory's domains and platforms): that provider needs its own request (pure)."""
    if not provider or index is None:
        return []
    out = []
    for r in rows:
        owner = owner_of(index, r)
        value = str(getattr(r, "normalized", None) or getattr(r, "value", "") or "")
        if owner is not None and owner.slug != provider:
            out.append(
                f"identifiers[{r.position}]: {value} belongs to {owner.name}, not to the"
                f" addressee: send {owner.name} its own request for it"
            )
    return out


async def provider_index(session: AsyncSession, ctx: Context) -> Any:
    """The directory's provider index: this node's snapshot, or read now (CLI)."""
    if ctx.directory is not None:
        return await ctx.directory.index(session)
    from sqlalchemy import select

    from providers.matching import ProviderIndex
    from providers.models import Provider

    return ProviderIndex((await session.execute(select(Provider))).scalars().all())


def identifier_warnings(rows: Sequence[Any]) -> list[str]:
    """Each identifier row's warnings, named by position, for the request's warnings."""
    return [f"identifiers[{r.position}]: {w}" for r in rows for w in (r.warnings or [])]


# --- loading -----------------------------------------------------------------------------------


async def _owner_warnings(
    session: AsyncSession, req: PreservationRequest, ctx: Context
) -> list[str]:
    if not req.provider or req.id is None:
        return []
    from preservation.requests.view import load_identifiers

    rows = await load_identifiers(session, req.id)
    return owner_warnings(await provider_index(session, ctx), provider=req.provider, rows=rows)
