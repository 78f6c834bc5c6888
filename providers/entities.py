"""The custodian of a provider's data for a region: the legal entity a letter is addressed to
(pure; no I/O).

Providers keep different entities per region (TikTok: a request to the wrong entity may not be
processed). A row's ``entities`` list them as ``{"region", "name", "address"}``; ``region`` is an
ISO 3166-1 alpha-2 code, ``EEA``/``EU``, a region named by the provider ("European Region"), or
``default``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from providers.provenance import Entity

__all__ = ["EEA", "EU", "custodian", "region_matches"]

#: Member States of the European Union (ISO 3166-1 alpha-2; Greece is GR).
EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
#: The European Economic Area: the Union, Iceland, Liechtenstein and Norway.
EEA = EU | {"IS", "LI", "NO"}

# Names providers give the European region, read as the EEA (Meta's "European Region" is the
# EU, the EEA and a few more; the letter's reader sees the entity's own region name anyway).
_EUROPEAN = ("eea", "eu", "europe", "european region", "european union", "european economic area")


def _entities(provider: Any) -> list[Entity]:
    raw = (
        provider.get("entities")
        if isinstance(provider, Mapping)
        else getattr(provider, "entities", None)
    )
    out = []
    for e in raw or ():
        out.append(e if isinstance(e, Entity) else Entity.model_validate(e))
    return out


def region_matches(region: str, country: str) -> bool:
    """Whether an entity's ``region`` covers ``country`` (not ``default``: that is the fallback)."""
    r = region.strip().casefold()
    c = country.strip().upper()
    if r.upper() == c:
        return True
    if r in ("eu", "european union"):
        return c in EU
    return r in _EUROPEAN and c in EEA


def _first(entities: Iterable[Entity], test: Any) -> Entity | None:
    return next((e for e in entities if test(e)), None)


def custodian(provider: Any, region: str | None) -> Entity | None:
    """The legal entity (name and address) holding the data of users in ``region`` (an ISO
    3166-1 alpha-2 code of the user's or the requesting State's country, or ``EEA``/``EU``),
    or None when the row names no entity.

    The entity of that country first, then the European one for a country of the EEA (or for
    ``region`` ``EEA``/``EU``), then ``default``; without a region, ``default``. A region no entity
    covers, with no ``default``, gives None: never a guess between entities.
    ``provider`` is a ``Provider`` row, a ``ProviderCreate``/``ProviderPublic`` or their dict.
    """
    entities = _entities(provider)
    if not entities:
        return None
    if region:
        code = region.strip()
        upper = code.upper()
        found = _first(entities, lambda e: e.region.upper() == upper)
        if found is None and upper in EEA | {"EEA", "EU"}:
            probe = "DE" if upper in ("EEA", "EU") else upper
            found = _first(
                entities,
                lambda e: e.region.upper() not in ("DEFAULT",) and region_matches(e.region, probe),
            )
        if found is not None:
            return found
    return _first(entities, lambda e: e.region.casefold() == "default")
