"""Identifier or request -> provider, country, route (asks providers/ and contacts/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact, contact_public
from preservation.directory.snapshot import contacts_for_country, get_provider
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
    )


def decide_route(
    *,
    provider: Provider | None,
    contacts: list[Contact],
    country: str | None,
    copy_to_poc: bool,
    today: date,
    staleness_days: int,
    with_views: bool = True,
) -> Route:
    """``route_request`` on rows already read (pure): ``contacts`` are the country's, those
    accepting preservation requests first, then by id (the directory snapshot gives them so).
    ``with_views=False`` leaves ``Route.provider`` and ``Route.contacts`` empty (a caller that
    renders its own views saves the work)."""
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
    direct = (
        provider is not None
        and provider.accepts_foreign_direct is True
        and (provider.portal_url or provider.le_email)
    )
    if direct:
        assert provider is not None
        if provider.portal_url:
            channel, to = "portal", provider.portal_url
            how = f"through its law-enforcement portal ({provider.portal_url})"
        else:
            channel, to = "email", provider.le_email or ""
            how = f"at its law-enforcement address ({provider.le_email})"
        recipients = [Recipient(role="provider", channel=channel, to=to, name=provider.name)]
        copies = usable if copy_to_poc else []
        recipients += [
            Recipient(
                role="copy", channel="email", to=_first(c.emails), name=c.authority, contact_id=c.id
            )
            for c in copies
        ]
        why = (
            f"{provider.name} takes preservation requests from foreign authorities directly, {how}"
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
    if provider is None:
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
    if usable:
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
