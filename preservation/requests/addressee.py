"""The addressee a request's identifiers name, when the officer named none (issue 21).

The directory already knows who holds what: an e-mail address, a URL or a domain belongs to the
provider serving its domain, an account to the provider running its platform; an IP address is
held where its block is registered, a phone number in the country of its number (the same
reading as GET /api/v1/lookup, directory/lookup.py). When the officer names neither a provider
nor a requested State, a request takes them from its identifiers if they agree, and says so in
its warnings; when they disagree it takes nothing and says which identifiers point where, so the
officer chooses (each provider needs its own request). Nothing is guessed beyond what the
directory and the numbering plan say. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers

from preservation.directory.carriers import ip_country
from providers.matching import host_of


@dataclass(frozen=True)
class Addressee:
    #: The provider's slug, when the identifiers that name one all name it.
    provider: str | None = None
    #: The requested State, when no provider is named and the addresses and numbers agree.
    country: str | None = None
    warnings: tuple[str, ...] = ()


def owner_of(index: Any, row: Any) -> Any:
    """The directory's provider of an identifier row: an e-mail address's, URL's or domain's by
    its domain, an account's by its platform (None for the rest, or when none serves it)."""
    kind = str(getattr(row, "type", ""))
    value = str(getattr(row, "normalized", None) or getattr(row, "value", "") or "")
    if kind == "email" and "@" in value:
        return index.by_domain(value.rsplit("@", 1)[1])
    if kind in ("url", "domain"):
        host = host_of(value)
        return index.by_domain(host) if host else None
    if kind == "account" and getattr(row, "platform", None):
        return index.by_platform(str(row.platform))
    return None


def _country(row: Any) -> str | None:
    kind = str(getattr(row, "type", ""))
    value = str(getattr(row, "normalized", "") or "")
    if kind in ("ipv4", "ipv6"):
        return ip_country(value)
    if kind == "phone":
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(value, None))
        except phonenumbers.NumberParseException:
            return None
        return region if region and region.isalpha() and len(region) == 2 else None
    return None


def _named(groups: dict[str, list[int]], label: dict[str, str]) -> str:
    return "; ".join(
        f"{label[key]} ({', '.join(f'identifiers[{i}]' for i in positions)})"
        for key, positions in groups.items()
    )


def addressee_of(index: Any, rows: Sequence[Any]) -> Addressee:
    """The provider (or, lacking one, the State) `rows` name, given the directory's provider
    index. Rows have type, normalized, platform and position (identifier_values)."""
    providers: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    countries: dict[str, list[int]] = {}
    for row in rows:
        position = int(getattr(row, "position", 0))
        owner = owner_of(index, row) if index is not None else None
        if owner is not None:
            providers.setdefault(owner.slug, []).append(position)
            names[owner.slug] = owner.name
            continue
        country = _country(row)
        if country:
            countries.setdefault(country, []).append(position)
    if len(providers) == 1:
        slug, positions = next(iter(providers.items()))
        first = ", ".join(f"identifiers[{i}]" for i in positions)
        return Addressee(
            provider=slug,
            warnings=(
                f"provider: {names[slug]}, from {first} (the directory's domains and platforms);"
                " name another provider if the data is held elsewhere",
            ),
        )
    if len(providers) > 1:
        return Addressee(
            warnings=(
                "provider: the identifiers belong to several providers: "
                f"{_named(providers, names)}; name the addressee, and send each provider its"
                " own request",
            )
        )
    if len(countries) == 1:
        code, positions = next(iter(countries.items()))
        first = ", ".join(f"identifiers[{i}]" for i in positions)
        return Addressee(
            country=code,
            warnings=(
                f"country: {code}, from {first} (where the address block is registered or the"
                " number issued); name the requested State if the data is held elsewhere",
            ),
        )
    if len(countries) > 1:
        return Addressee(
            warnings=(
                "country: the identifiers point to several States: "
                f"{_named(countries, {c: c for c in countries})}; name the requested State",
            )
        )
    return Addressee()
