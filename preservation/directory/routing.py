"""Identifier or request -> provider, country, route (asks providers/ and contacts/)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact, contact_public
from preservation.directory.snapshot import contacts_for_country, get_provider
from preservation.domain import epoc as epoc_rules
from preservation.domain import instruments as inst
from preservation.domain.instruments import Instrument, ProviderFacts, Treaty
from preservation.domain.regimes import Regime
from providers.models import Provider, provider_public


@dataclass(frozen=True, kw_only=True)
class Recipient:
    #: "provider" (the provider's portal or law-enforcement address), "poc" (the requested
    #: country's 24/7 point of contact as main recipient), or "copy" (that point of contact in copy).
    role: str
    #: "email", "portal" (hand-off task for the officer) or "webhook".
    channel: str
    to: str
    name: str = ""
    contact_id: int | None = None
    #: The legal instrument this recipient's letter rests on (None when not decided: look-up).
    instrument: Instrument | None = None


@dataclass(frozen=True, kw_only=True)
class Laws:
    """What the choice of instruments needs: the regimes, the treaties' Parties, the requesting
    unit's State and the instrument the officer asked for (None: the service chooses)."""

    regimes: Mapping[str, Regime]
    treaties: Mapping[str, Treaty]
    unit_country: str | None
    requested: str | None = None
    #: "preservation", or "emergency": an emergency disclosure request goes to the provider's
    #: emergency channel or the requested State's 24/7 point of contact (`_decide_emergency`).
    kind: str = "preservation"


@dataclass(frozen=True, kw_only=True)
class Route:
    channel: str  # "portal" | "email" | "poc"
    to: str
    copy_to: tuple[int, ...] = ()
    why: str = ""
    recipients: tuple[Recipient, ...] = ()
    provider: dict[str, Any] | None = None
    country: str | None = None
    contacts: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: The main addressee's instrument (or, with nobody to send to, the one that would apply).
    instrument: Instrument | None = None
    #: Numbers to call now, first first (an emergency): [{"role", "name", "phone", "hours"}].
    call: tuple[dict[str, str], ...] = ()

    def as_public(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "to": self.to,
            "copy_to": list(self.copy_to),
            "why": self.why,
        }


def _first(values: list[str] | None) -> str:
    return values[0] if values else ""


async def route_request(
    session: AsyncSession,
    *,
    country: str | None,
    provider_slug: str | None,
    copy_to_poc: bool,
    today: date,
    staleness_days: int,
    laws: Laws | None = None,
) -> Route:
    """Decide who receives a preservation request (UNODC practitioners' guidance):

    - a provider that takes preservation requests directly from foreign authorities gets it
      through its portal (preferred: that is what such providers ask for) or its law-enforcement
      e-mail, and the requested country's 24/7 point of contact is copied (when the unit wants it);
    - otherwise the requested country's 24/7 point of contact receives it.
    """
    provider = await get_provider(session, provider_slug) if provider_slug else None
    if country is None and provider is not None:
        country = provider.country
    contacts = list(await contacts_for_country(session, country)) if country else []
    return decide_route(
        provider=provider,
        contacts=contacts,
        country=country,
        copy_to_poc=copy_to_poc,
        today=today,
        staleness_days=staleness_days,
        laws=laws,
    )


def provider_facts(provider: Provider) -> ProviderFacts:
    return ProviderFacts(
        name=provider.name,
        country=provider.country,
        accepts_foreign_direct=provider.accepts_foreign_direct,
        policy_source=_source_url(provider.source),
        eu_representative=getattr(provider, "eu_representative", None),
    )


def _source_url(source: Any) -> str:
    """The URL of a provider's source document (a dict, a model with `url`, or a plain URL)."""
    if isinstance(source, dict):
        return str(source.get("url") or "")
    if hasattr(source, "url"):
        return str(source.url or "")
    return str(source or "")


def decide_route(
    *,
    provider: Provider | None,
    contacts: list[Contact],
    country: str | None,
    copy_to_poc: bool,
    today: date,
    staleness_days: int,
    with_views: bool = True,
    laws: Laws | None = None,
) -> Route:
    """``route_request`` on rows already read (pure): ``contacts`` are the country's, those
    accepting preservation requests first, then by id (the directory snapshot gives them so).
    ``with_views=False`` leaves ``Route.provider`` and ``Route.contacts`` empty (a caller that
    renders its own views saves the work).

    With ``laws``, the route and the instruments are decided together: every recipient carries
    the instrument its letter rests on (domain/instruments.py), and an instrument the officer
    asked for steers the route (an Art. 29 request goes to the point of contact even where the
    provider takes requests itself; an EPOC-PR goes to the provider alone)."""
    if laws is not None and laws.kind == "emergency":
        route = _decide_emergency(
            provider=provider,
            contacts=contacts,
            country=country,
            today=today,
            staleness_days=staleness_days,
            with_views=with_views,
        )
        return _with_instruments(route, provider=provider, laws=laws)
    route = _decide(
        provider=provider,
        contacts=contacts,
        country=country,
        copy_to_poc=copy_to_poc,
        today=today,
        staleness_days=staleness_days,
        with_views=with_views,
        laws=laws,
    )
    return route if laws is None else _with_instruments(route, provider=provider, laws=laws)


def _with_instruments(route: Route, *, provider: Provider | None, laws: Laws) -> Route:
    facts = provider_facts(provider) if provider is not None else None

    def choose(role: str) -> Instrument:
        if laws.kind == "emergency":
            return inst.for_emergency(
                unit_country=laws.unit_country,
                provider=facts,
                to_provider=role == "provider",
                requested_country=route.country,
                regimes=laws.regimes,
                treaties=laws.treaties,
            )
        if role == "provider" and facts is not None:
            return inst.for_provider(
                unit_country=laws.unit_country,
                provider=facts,
                regimes=laws.regimes,
                requested=laws.requested,
            )
        return inst.for_poc(
            unit_country=laws.unit_country,
            requested_country=route.country,
            regimes=laws.regimes,
            treaties=laws.treaties,
        )

    recipients = tuple(replace(r, instrument=choose(r.role)) for r in route.recipients)
    main = recipients[0].instrument if recipients else choose("poc")
    return replace(route, recipients=recipients, instrument=main)


def _decide(
    *,
    provider: Provider | None,
    contacts: list[Contact],
    country: str | None,
    copy_to_poc: bool,
    today: date,
    staleness_days: int,
    with_views: bool,
    laws: Laws | None,
) -> Route:
    requested = laws.requested if laws is not None else None
    usable = [c for c in contacts if c.accepts_preservation and c.emails]
    provider_public_view = (
        provider_public(provider, today=today, max_age_days=staleness_days).model_dump(mode="json")
        if provider is not None and with_views
        else None
    )
    contact_views = tuple(
        contact_public(c, today=today, max_age_days=staleness_days).model_dump(mode="json")
        for c in (contacts if with_views else ())
    )
    epoc = requested == inst.EPOC_PR
    if epoc:
        return _decide_epoc(
            provider=provider, country=country, view=provider_public_view, contacts=contact_views
        )
    has_address = provider is not None and bool(provider.portal_url or provider.le_email)
    own_state = (
        laws is not None
        and provider is not None
        and provider.country is not None
        and provider.country == laws.unit_country
    )
    direct = has_address and (
        epoc or own_state or (provider is not None and provider.accepts_foreign_direct is True)
    )
    if requested in (inst.BUDAPEST, inst.POC_COOPERATION):
        # The officer asked for the treaty route: the point of contact, the provider named as
        # custodian in the letter.
        direct = False
    if direct:
        assert provider is not None
        if provider.portal_url:
            channel, to = "portal", provider.portal_url
            how = f"through its law-enforcement portal ({provider.portal_url})"
        else:
            channel, to = "email", provider.le_email or ""
            how = f"at its law-enforcement address ({provider.le_email})"
        recipients = [Recipient(role="provider", channel=channel, to=to, name=provider.name)]
        # An EPOC-PR goes to the provider alone: the executing State's point of contact has no
        # part in that procedure; a domestic order goes to the provider alone as well.
        copies = usable if copy_to_poc and not epoc and not own_state else []
        recipients += [
            Recipient(
                role="copy", channel="email", to=_first(c.emails), name=c.authority, contact_id=c.id
            )
            for c in copies
        ]
        if epoc:
            why = f"an EPOC-PR is addressed to {provider.name} itself, {how}"
        elif own_state:
            why = f"{provider.name} is in the unit's own State: the request goes to it {how}"
        else:
            why = (
                f"{provider.name} takes preservation requests from foreign authorities directly,"
                f" {how}"
            )
        if copies:
            why += f"; the 24/7 point of contact of {country} is copied."
        elif copy_to_poc and country:
            why += f"; no 24/7 point of contact of {country} is on file to copy."
        else:
            why += "."
        return Route(
            channel=channel,
            to=to,
            copy_to=tuple(c.id for c in copies if c.id is not None),
            why=why,
            recipients=tuple(recipients),
            provider=provider_public_view,
            country=country,
            contacts=contact_views,
        )
    if requested in (inst.BUDAPEST, inst.POC_COOPERATION):
        reason = (
            "An Art. 29 request goes from State to State"
            if requested == inst.BUDAPEST
            else ("A request through the point of contact was asked for")
        )
    elif epoc:
        reason = (
            f"{provider.name if provider else 'No provider'} has no address on file for an EPOC-PR"
        )
    elif provider is None:
        reason = "No provider is named"
    elif provider.accepts_foreign_direct is False:
        reason = (
            f"{provider.name} does not take preservation requests directly from foreign authorities"
        )
    elif provider.accepts_foreign_direct is None:
        reason = (
            f"The directory does not know whether {provider.name} takes foreign requests directly"
        )
    else:
        reason = f"{provider.name} has no portal or law-enforcement address on file"
    if usable and not epoc:
        poc = usable[0]
        why = f"{reason}: send to the 24/7 point of contact of {country} (Budapest Convention Art. 35)."
        return Route(
            channel="poc",
            to=_first(poc.emails),
            why=why,
            recipients=(
                Recipient(
                    role="poc",
                    channel="email",
                    to=_first(poc.emails),
                    name=poc.authority,
                    contact_id=poc.id,
                ),
            ),
            provider=provider_public_view,
            country=country,
            contacts=contact_views,
        )
    where = f"for {country}" if country else "(no requested country is named)"
    why = f"{reason}, and no 24/7 point of contact that accepts preservation requests is on file {where}."
    return Route(
        channel="poc",
        to="",
        why=why,
        recipients=(),
        provider=provider_public_view,
        country=country,
        contacts=contact_views,
    )


def emergency_contact(provider: Provider | None) -> dict[str, str]:
    """The provider's emergency channel as published ({"email", "portal_url", "phone"}, each
    only when given), read defensively: the directory field may be absent, null, a dict or a
    model (issue 23)."""
    raw = getattr(provider, "emergency_contact", None) if provider is not None else None
    out = {}
    for name in ("email", "portal_url", "phone"):
        value = raw.get(name) if isinstance(raw, Mapping) else getattr(raw, name, None)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def _decide_emergency(
    *,
    provider: Provider | None,
    contacts: list[Contact],
    country: str | None,
    today: date,
    staleness_days: int,
    with_views: bool,
) -> Route:
    """Where an emergency disclosure request goes (pure): the provider's emergency channel
    where the directory has one (its portal, else its e-mail; its emergency line to call now),
    otherwise the requested State's 24/7 point of contact, its telephone first. A channel that
    is only a telephone number is a call: a hand-off to the officer (channel "phone")."""
    provider_view = (
        provider_public(provider, today=today, max_age_days=staleness_days).model_dump(mode="json")
        if provider is not None and with_views
        else None
    )
    contact_views = tuple(
        contact_public(c, today=today, max_age_days=staleness_days).model_dump(mode="json")
        for c in (contacts if with_views else ())
    )
    channel_of = emergency_contact(provider)
    if provider is not None and channel_of:
        phone = channel_of.get("phone", "")
        call = ({"role": "provider", "name": provider.name, "phone": phone, "hours": ""},)
        if channel_of.get("portal_url"):
            channel, to = "portal", channel_of["portal_url"]
            how = f"its emergency portal ({to})"
        elif channel_of.get("email"):
            channel, to = "email", channel_of["email"]
            how = f"its emergency address ({to})"
        else:
            channel, to = "phone", phone
            how = f"its emergency line ({phone}): a call, confirmed in writing"
        why = f"{provider.name} publishes an emergency channel: the request goes to {how}"
        why += f"; call {phone} now." if phone and channel != "phone" else "."
        return Route(
            channel=channel,
            to=to,
            why=why,
            recipients=(Recipient(role="provider", channel=channel, to=to, name=provider.name),),
            provider=provider_view,
            country=country,
            contacts=contact_views,
            call=call if phone else (),
        )
    reason = (
        f"{provider.name} has no emergency channel on file"
        if provider is not None
        else "No provider is named"
    )
    reachable = [c for c in contacts if c.phones or c.emails]
    # A point of contact that answers around the clock first (the snapshot's order otherwise).
    reachable.sort(key=lambda c: "24/7" not in f"{c.network} {c.hours}")
    if not reachable:
        where = f"for {country}" if country else "(no requested country is named)"
        return Route(
            channel="poc",
            to="",
            why=f"{reason}, and no 24/7 point of contact is on file {where}.",
            provider=provider_view,
            country=country,
            contacts=contact_views,
        )
    poc = reachable[0]
    call = tuple(
        {"role": "poc", "name": poc.authority, "phone": p, "hours": poc.hours} for p in poc.phones
    )
    if poc.emails:
        channel, to = "email", poc.emails[0]
    else:
        channel, to = "phone", poc.phones[0]
    first = f"call {poc.phones[0]} first, " if poc.phones else ""
    why = (
        f"{reason}: the request goes to the 24/7 point of contact of {country}"
        f" ({poc.authority}): {first}"
        + (f"then send the letter to {to}." if channel == "email" else "and confirm in writing.")
    )
    return Route(
        channel="poc",
        to=to,
        why=why,
        recipients=(
            Recipient(role="poc", channel=channel, to=to, name=poc.authority, contact_id=poc.id),
        ),
        provider=provider_view,
        country=country,
        contacts=contact_views,
        call=call,
    )


#: The channel of an EPOC-PR: the decentralised IT system, through the unit's national IT system
#: (Regulation (EU) 2023/1543, Art. 19(1)). Nothing is sent by this service: the row is a hand-off.
EU_SYSTEM = "eu-system"


def _decide_epoc(
    *,
    provider: Provider | None,
    country: str | None,
    view: dict[str, Any] | None,
    contacts: tuple[dict[str, Any], ...],
) -> Route:
    """An EPOC-PR's addressee (pure): the provider's designated establishment or legal
    representative in the Union (Art. 3(2); Directive (EU) 2023/1544), reached through the
    national IT system (Art. 19(1)); the executing State's point of contact has no part in it.
    Without one on file, nobody (instruments.check_requested refuses the request first)."""
    rep = epoc_rules.representative(getattr(provider, "eu_representative", None))
    if provider is None or rep is None:
        name = provider.name if provider is not None else "No provider"
        return Route(
            channel=EU_SYSTEM,
            to="",
            why=(
                f"{name} has no designated establishment or legal representative in the Union on"
                " file: an EPOC-PR has no addressee."
            ),
            recipients=(),
            provider=view,
            country=country,
            contacts=contacts,
        )
    where = ", ".join(v for v in (rep.get("address"), rep.get("country")) if v)
    to = rep.get("email") or rep["name"]
    why = (
        f"an EPOC-PR is addressed to {provider.name}'s designated establishment or legal"
        f" representative in the Union, {rep['name']}{f' ({where})' if where else ''}; it is"
        " transmitted through the national IT system (Regulation (EU) 2023/1543, Art. 19(1)),"
        " not by this service, and no point of contact is copied."
    )
    return Route(
        channel=EU_SYSTEM,
        to=to,
        why=why,
        recipients=(Recipient(role="provider", channel=EU_SYSTEM, to=to, name=rep["name"]),),
        provider=view,
        country=country,
        contacts=contacts,
    )
