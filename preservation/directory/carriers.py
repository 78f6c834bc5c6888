"""Telecom operators and Internet access providers: who had this IP address at that instant,
and how a request reaches them from abroad.

Operators and ISPs answer the authorities of their own State; a request from abroad reaches them
through that State's 24/7 point of contact (Budapest Convention Art. 35), unless the directory's
row says the operator takes foreign requests itself. ``carrier_route`` decides that route and
says why; ``ip_country`` gives the State an IP address is registered in, offline.

``ip_country`` reads the Regional Internet Registries' delegation data shipped inside the
``iptocc`` wheel (AFRINIC, APNIC, ARIN, LACNIC, RIPE NCC; no network, no file at run time). It
gives the country the registry assigned the block to, which is the holder's country: the State
whose point of contact can reach the holder, not where the device stood.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import replace
from datetime import date
from importlib import metadata
from typing import Any

from contacts.models import Contact
from preservation.directory.routing import Route, decide_route
from providers.models import Provider

__all__ = ["CARRIER_CATEGORIES", "carrier_route", "ip_country", "ip_data_version", "is_carrier"]

#: Provider categories that are network operators.
CARRIER_CATEGORIES = frozenset({"telecom", "isp"})
_LABELS = {"telecom": "telecom operator", "isp": "Internet access provider"}


@functools.cache
def ip_data_version() -> str:
    """The version of the shipped delegation data (the ``iptocc`` release, refreshed from the
    registries' files). Read once: the package metadata is read from disk (0.8 ms)."""
    try:
        return metadata.version("iptocc")
    except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
        return "unknown"


def ip_country(address: str) -> str | None:
    """ISO 3166-1 alpha-2 code of the State the address's block is registered in, or None
    (private, reserved or unallocated space, or not an address)."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    if not ip.is_global:
        return None
    from iptocc import country_code

    code = country_code(str(ip))
    if not isinstance(code, str) or len(code) != 2 or not code.isalpha():
        return None
    code = code.upper()
    # "EU" and "AP" are registry-wide blocks, not States.
    return None if code in ("EU", "AP", "ZZ") else code


def is_carrier(provider: Provider | Any) -> bool:
    return (getattr(provider, "category", None) or "") in CARRIER_CATEGORIES


def carrier_route(
    *,
    provider: Provider | None,
    contacts: list[Contact],
    country: str | None,
    copy_to_poc: bool,
    today: date,
    staleness_days: int,
    with_views: bool = True,
    **more: Any,
) -> Route | None:
    """The route to a telecom operator or ISP (pure): its State's 24/7 point of contact, with
    the reason; None when ``provider`` is not one, or its row says it takes requests from
    foreign authorities directly (then ``decide_route`` applies as for any provider).

    ``country`` is the operator's State (its row's ``country``, or the State of the IP address);
    further keywords go to ``decide_route`` (the instruments, when the caller decides them)."""
    if provider is None or not is_carrier(provider) or provider.accepts_foreign_direct is True:
        return None
    base = decide_route(
        provider=None,
        contacts=contacts,
        country=country,
        copy_to_poc=copy_to_poc,
        today=today,
        staleness_days=staleness_days,
        with_views=with_views,
        **more,
    )
    what = _LABELS.get(str(provider.category), "network operator")
    said = (
        " (its own guidelines say so)"
        if provider.accepts_foreign_direct is False
        else " (its guidelines read do not say otherwise)"
    )
    lead = (
        f"{provider.name} is a {what}: operators take requests from abroad through their "
        f"State's 24/7 point of contact{said}"
    )
    if base.to:
        why = (
            f"{lead}; send to the 24/7 point of contact of {country} (Budapest Convention Art. 35)."
        )
    elif country:
        why = f"{lead}, and no 24/7 point of contact that accepts preservation requests is on file for {country}."
    else:
        why = f"{lead}, and the directory does not know its State."
    view = None
    if with_views:
        from providers.models import provider_public

        view = provider_public(provider, today=today, max_age_days=staleness_days).model_dump(
            mode="json"
        )
    return replace(base, why=why, provider=view)
