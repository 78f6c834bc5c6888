"""Look-up from an identifier: its type, normalised form, provider, country, the country's points
of contact and the route (``routing.route_request``).

How each type finds its provider and country:

- ``email``, ``url``, ``domain``: the host, then each parent domain down to the registered
  domain, against the providers' domains (``mail.google.com`` -> Google); the country is the
  provider's country of establishment.
- ``account``: the platform names the provider by slug, name, alias or domain
  (``instagram`` -> Meta). The platform comes from the ``platform`` argument or, when that is
  absent, from a ``platform:handle`` identifier (``instagram:some.handle``).
- ``phone``: no provider; the country is the number's (phonenumbers' region of the number).
- ``ipv4``, ``ipv6``: no provider; the country is the State the registries assigned the
  address's block to (``carriers.ip_country``, offline): the holder (an ISP or operator) takes
  requests from abroad through that State's 24/7 point of contact.
- ``imei``, ``mac``: neither a provider nor a country (``why`` says what to do).

A provider that is a telecom operator or an ISP is reached through its State's point of contact
(``carriers.carrier_route``) unless its row says it takes foreign requests itself.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel

from contacts.models import ContactPublic
from contacts.search import country_names
from preservation.directory.carriers import carrier_route, ip_country, ip_data_version
from preservation.directory.routing import decide_route
from preservation.directory.snapshot import Snapshot
from preservation.errors import InvalidInput
from providers.matching import host_of
from providers.models import Provider, ProviderPublic

__all__ = ["IDENTIFIER_TYPES", "IdentifierView", "LookupResult", "RouteView", "lookup"]

#: Identifier types the look-up accepts (the values of ``identifiers.IdentifierType``).
IDENTIFIER_TYPES = (
    "email", "url", "domain", "phone", "ipv4", "ipv6", "account", "imei", "mac", "crypto"
)  # fmt: skip
IdentifierTypeName = Literal[
    "email", "url", "domain", "phone", "ipv4", "ipv6", "account", "imei", "mac", "crypto"
]

# "instagram:some.handle" (not "https://...", not an IPv6 address).
_PLATFORM_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ._-]{0,62}):(?!//)(\S.*)$")


class IdentifierView(BaseModel):
    type: IdentifierTypeName
    normalized: str
    #: The platform of an account identifier, as given; null for other types.
    platform: str | None = None


class RouteView(BaseModel):
    channel: Literal["portal", "email", "poc"]
    #: Portal URL or e-mail address; empty when the directory knows nobody to send to.
    to: str
    #: Ids of the points of contact to copy.
    copy_to: list[int]
    why: str


class LookupResult(BaseModel):
    identifier: IdentifierView
    provider: ProviderPublic | None
    #: The requested country: the provider's country, or a phone number's country.
    country: str | None
    contacts: list[ContactPublic]
    route: RouteView


def _country_label(code: str) -> str:
    names = country_names(code)
    return f"{code} ({names[-1] if names else code})"


def _ip_why(country: str | None, has_contact: bool) -> str:
    if country is None:
        return (
            "The address is in no State's registered space (private, reserved or unallocated): "
            "find who holds it from the network where it was seen."
        )
    told = (
        f"send to the 24/7 point of contact of {country} (Budapest Convention Art. 35)."
        if has_contact
        else f"no 24/7 point of contact that accepts preservation requests is on file for {country}."
    )
    return (
        f"The regional Internet registries assigned this address's block to "
        f"{_country_label(country)} (delegation data {ip_data_version()}; the holder's "
        "country, not where the device was). Who had the address at that instant is known to "
        "the operator or ISP holding the block (the registry's WHOIS names it), and operators "
        f"take requests from abroad through their State's 24/7 point of contact: {told}"
    )


def split_account(identifier: str, platform: str | None) -> tuple[str, str | None, bool]:
    """(value, platform, prefixed): the platform from ``platform:handle`` when none is given
    and the prefix names a provider of the directory (or the type is an account)."""
    if platform is not None and platform.strip():
        return identifier, platform.strip(), False
    m = _PLATFORM_PREFIX.match(identifier)
    if m is None:
        return identifier, None, False
    return m.group(2).strip(), m.group(1).strip(), True


def lookup(
    snap: Snapshot,
    *,
    identifier: str,
    type: str | None = None,
    platform: str | None = None,
    copy_to_poc: bool,
    today: date,
    max_age_days: int,
    region: str | None = None,
) -> dict[str, Any]:
    """What the directory snapshot says about ``identifier`` (no I/O), as JSON-ready data in
    the shape of ``LookupResult``: 422 naming ``identifier`` (or ``platform``) when it cannot
    be read as the given or detected type. ``region`` (the unit's country) reads a national
    phone number ("0151 12345678") as one of that country."""
    from preservation.domain import identifiers

    if not identifier.strip():
        raise InvalidInput("identifier", "is empty")
    value, plat, prefixed = split_account(identifier, platform)
    kind = type
    #: The value as normalised while its type was told (None: normalise it below).
    told: str | None = None
    if kind is None:
        if prefixed and snap.providers.by_platform(plat or "") is not None:
            kind = "account"
        else:
            value, plat = identifier, platform
            detected = identifiers.detect(identifier, region=region)
            if detected is None:
                raise InvalidInput(
                    "identifier",
                    "cannot tell what kind of identifier this is: give type= "
                    f"({', '.join(IDENTIFIER_TYPES)})",
                )
            kind, told = str(detected[0].value), detected[1]
    if kind not in IDENTIFIER_TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(IDENTIFIER_TYPES)}")
    if kind != "account":
        value, plat = identifier, None
    elif not plat:
        raise InvalidInput(
            "platform",
            "an account needs its platform: platform=instagram, or identifier=instagram:handle",
        )
    normalized = told or identifiers.normalize(
        identifiers.IdentifierType(kind), value, field="identifier", platform=plat, region=region
    )
    if kind == "crypto":
        plat = identifiers.crypto_chain(normalized)  # the chain travels as the platform

    provider: Provider | None = None
    country: str | None = None
    note = ""
    if kind in ("email", "url", "domain"):
        provider = snap.providers.by_domain(normalized)
        if provider is None:
            host = host_of(normalized) or normalized
            note = f"No provider in the directory serves {host}. "
    elif kind == "account":
        provider = snap.providers.by_platform(plat or "")
        if provider is None:
            note = f"No provider in the directory runs the platform {plat!r}. "
    elif kind in ("ipv4", "ipv6"):
        country = ip_country(normalized)
    elif kind == "phone":
        region = phonenumbers.region_code_for_number(phonenumbers.parse(normalized, None))
        if region and region.isalpha() and len(region) == 2:
            country = region
            note = f"The number is from {_country_label(region)}; it names no provider. "
        else:
            note = "The number belongs to no single country. "
    if provider is not None:
        country = provider.country

    contacts = snap.contacts_for_country(country)
    args: dict[str, Any] = {
        "provider": provider,
        "contacts": contacts,
        "country": country,
        "copy_to_poc": copy_to_poc,
        "today": today,
        "staleness_days": max_age_days,
        "with_views": False,
    }
    route = carrier_route(**args) or decide_route(**args)
    why = note + route.why
    if kind in ("ipv4", "ipv6"):
        why = _ip_why(country, bool(route.to))
    elif kind in ("imei", "mac"):
        what = "An IMEI" if kind == "imei" else "A MAC address"
        why = (
            f"{what} identifies a device, not a provider or a country: send to the 24/7 point "
            "of contact of the country whose operators or providers are concerned."
        )
    elif kind == "crypto":
        why = (
            f"A {plat or 'cryptocurrency'} address names no provider or country: the exchange "
            "or wallet service that holds it is found from the chain (a blockchain explorer, "
            "the exchange's attribution); send there, or to its State's 24/7 point of contact."
        )
    # JSON-ready data in the shape of LookupResult (the response model of the endpoint): the
    # provider's and contacts' views are made once per snapshot and day, not per look-up.
    return {
        "identifier": {"type": kind, "normalized": normalized, "platform": plat},
        "provider": (
            snap.provider_json(provider, today=today, max_age_days=max_age_days)
            if provider is not None
            else None
        ),
        "country": country,
        "contacts": [
            snap.contact_json(c, today=today, max_age_days=max_age_days) for c in contacts
        ],
        "route": {
            "channel": route.channel,
            "to": route.to,
            "copy_to": list(route.copy_to),
            "why": why,
        },
    }
