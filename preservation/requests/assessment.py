"""A request's assessment: its regime, language and provider checked, its route decided, and the warnings an officer should read before sending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from preservation.directory import routing
from preservation.documents.letter import available_languages
from preservation.domain.regimes import Regime
from preservation.errors import InvalidInput
from preservation.requests.checklist import checklist
from preservation.runtime.context import Context
from preservation.storage.models import (
    PreservationRequest,
    Unit,
)

#: Member States bound by Regulation (EU) 2023/1543: the EU less Denmark, which does not take
#: part in measures of this kind (Protocol No 22 to the Treaties) and is not bound by it.
EPOC_STATES = frozenset(
    "AT BE BG HR CY CZ EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)


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
    if country and regime.key == "us-2703f" and country != "US":
        out.append(
            f"{regime.citation} binds providers in the United States; the requested country is"
            f" {country}: check the regime"
        )
    if country and regime.key == "eu-epoc-pr" and country not in EPOC_STATES:
        out.append(
            f"{regime.citation}: an EPOC-PR is addressed to a provider's establishment in a Member"
            f" State bound by the Regulation; {country} is not one: check the regime"
        )
    return out


def route_warnings(route: routing.Route, *, confidential: bool, regime: Regime) -> list[str]:
    out = []
    provider = route.provider
    if provider is not None:
        name = provider.get("name") or provider.get("slug")
        if provider.get("accepts_foreign_direct") is False:
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
    if (
        regime.key == "budapest-art29"
        and route.country
        and not any(c.get("network") == "24/7" for c in route.contacts)
    ):
        out.append(
            f"no 24/7 point of contact of {route.country} is on file: check that {route.country}"
            " is a Party to the Convention on Cybercrime (Art. 35)"
        )
    return out


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
    )


def stored_route(route: routing.Route) -> dict[str, Any]:
    return {
        **route.as_public(),
        "country": route.country,
        "provider_name": (route.provider or {}).get("name"),
        "recipients": [
            {"role": r.role, "channel": r.channel, "to": r.to, "name": r.name}
            for r in route.recipients
        ],
    }


def apply_assessment(
    req: PreservationRequest,
    route: routing.Route,
    *,
    parsed_warnings: Sequence[str],
    identifiers: int,
    unit: Any,
    ctx: Context,
) -> None:
    """Store `route`, the checklist and the warnings of the request as it stands (pure)."""
    regime = resolve_regime(ctx, req.regime)
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
        parsed_warnings=parsed_warnings,
        identifiers=identifiers,
        unit=unit,
        ctx=ctx,
    )
    return route


def identifier_warnings(rows: Sequence[Any]) -> list[str]:
    """Each identifier row's warnings, named by position, for the request's warnings."""
    return [f"identifiers[{r.position}]: {w}" for r in rows for w in (r.warnings or [])]


# --- loading -----------------------------------------------------------------------------------
