"""The legal instrument follows the channel: which law each recipient's letter rests on.

Pure: it takes the regimes (config/regimes.toml), the treaty Parties (config/parties.toml), the
requesting unit's State and the facts of the recipient, and returns the instrument with its
citation and the reasons (`why`). The rules (docs/legal.md says them in words a prosecutor can
check):

- to the requested State's 24/7 point of contact: a request under Art. 29(1) of the Convention
  on Cybercrime (through the 24/7 Network, Art. 35) when both States are Parties; otherwise a
  request for police co-operation through the point of contact (`poc-cooperation`), said so;
- directly to a provider from outside its State: the provider's own published policy
  (`provider-policy`), never the provider State's domestic law;
- 18 U.S.C. § 2703(f) only for a requesting unit in the United States (§ 2711(4));
- a provider of the unit's own State: the unit's domestic order (`domestic`);
- the EU's EPOC-PR only when asked for, by a unit of a bound Member State;
- an instrument not in force (CETS 224) is never chosen and is refused when asked for;
- an emergency disclosure request (`for_emergency`): through a provider's emergency channel, 18
  U.S.C. § 2702(b)(8)/(c)(4) for a provider in the United States (voluntary disclosure), the
  provider's emergency policy elsewhere; through the 24/7 point of contact, CETS 224 Art. 9 once
  in force between both States, police co-operation until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from preservation.domain import epoc
from preservation.domain.regimes import Channel, Regime
from preservation.errors import InvalidInput

BUDAPEST = "budapest-art29"
PROVIDER_POLICY = "provider-policy"
POC_COOPERATION = "poc-cooperation"
US_2703F = "us-2703f"
EPOC_PR = "eu-epoc-pr"
DOMESTIC = "domestic"
US_2702_EMERGENCY = "us-2702-emergency"
PROVIDER_EMERGENCY = "provider-emergency"
POC_EMERGENCY = "poc-emergency"
CETS224_ART9 = "cets224-art9"

#: Member States bound by Regulation (EU) 2023/1543: the EU less Denmark (secondary sources read
#: 2026-12-04: "across all EU Member States (except Denmark)"; docs/legal.md).
EPOC_STATES = epoc.BOUND_STATES


@dataclass(frozen=True, kw_only=True)
class Treaty:
    """A treaty's Parties as read: a State is a Party, not a Party, or not known (the list read
    was not complete: a State named nowhere is never assumed either way)."""

    key: str
    name: str
    complete: bool
    as_of: date | None
    parties: Mapping[str, str]
    not_parties: Mapping[str, str] = field(default_factory=dict)

    def status(self, country: str | None) -> str:
        if not country:
            return "unknown"
        if country in self.parties:
            return "party"
        if country in self.not_parties or self.complete:
            return "not_party"
        return "unknown"

    def describe(self, country: str) -> str:
        status = self.status(country)
        as_of = f" (list as of {self.as_of.isoformat()})" if self.as_of else ""
        if status == "party":
            return f"{country} is a Party to the {self.name}"
        if status == "not_party":
            why = self.not_parties.get(country, "")
            return f"{country} is not a Party to the {self.name}" + (f": {why}" if why else "")
        return (
            f"{country} is not on the list of Parties to the {self.name} on file{as_of}, which"
            " is not complete: the central authority adds it there once confirmed"
        )


@dataclass(frozen=True, kw_only=True)
class ProviderFacts:
    """What the choice needs to know of a provider (from the directory)."""

    name: str
    country: str | None = None
    accepts_foreign_direct: bool | None = None
    #: Where its law-enforcement policy is published (the directory row's source).
    policy_source: str = ""
    #: Its designated establishment or legal representative in the Union (the directory's
    #: `eu_representative`, read defensively by domain/epoc.py): the addressee of an EPOC-PR.
    eu_representative: Any = None


@dataclass(frozen=True, kw_only=True)
class Instrument:
    """The instrument one recipient's letter rests on."""

    key: str
    citation: str
    why: str

    def public(self) -> dict[str, str]:
        return {"key": self.key, "citation": self.citation, "why": self.why}


def _regime(regimes: Mapping[str, Regime], key: str) -> Regime:
    return regimes[key]


def provider_policy_citation(provider: ProviderFacts) -> str:
    source = f" ({provider.policy_source})" if provider.policy_source else ""
    return f"{provider.name}'s published policy on requests from law enforcement{source}"


def for_provider(
    *,
    unit_country: str | None,
    provider: ProviderFacts,
    regimes: Mapping[str, Regime],
    requested: str | None = None,
) -> Instrument:
    """The instrument of a letter sent straight to `provider` by a unit of `unit_country`."""
    if requested == EPOC_PR:
        regime = _regime(regimes, EPOC_PR)
        return Instrument(
            key=EPOC_PR,
            citation=regime.basis,
            why=f"a European Preservation Order (EPOC-PR) asked for by a unit of {unit_country}",
        )
    if unit_country and provider.country and unit_country == provider.country:
        if unit_country in _regime(regimes, US_2703F).requesting_countries:
            regime = _regime(regimes, US_2703F)
            return Instrument(
                key=US_2703F,
                citation=regime.basis,
                why=(
                    f"a unit in the United States asks a provider in the United States: a"
                    f" governmental entity's request under {regime.basis}"
                ),
            )
        regime = _regime(regimes, DOMESTIC)
        return Instrument(
            key=DOMESTIC,
            citation=regime.basis,
            why=f"{provider.name} is in the unit's own State ({unit_country}): a domestic order",
        )
    where = f" in {provider.country}" if provider.country else ""
    return Instrument(
        key=PROVIDER_POLICY,
        citation=provider_policy_citation(provider),
        why=(
            f"a direct request to {provider.name}{where} from an authority of"
            f" {unit_country or 'another State'} rests on the provider's own published policy,"
            " not on a treaty or on the provider State's law"
        ),
    )


def for_poc(
    *,
    unit_country: str | None,
    requested_country: str | None,
    regimes: Mapping[str, Regime],
    treaties: Mapping[str, Treaty],
) -> Instrument:
    """The instrument of a letter to the 24/7 point of contact of `requested_country`."""
    budapest = _regime(regimes, BUDAPEST)
    treaty = treaties.get(budapest.parties) if budapest.parties else None
    reasons = []
    if treaty is not None and unit_country and requested_country:
        ours, theirs = treaty.status(unit_country), treaty.status(requested_country)
        if ours == "party" and theirs == "party":
            return Instrument(
                key=BUDAPEST,
                citation=budapest.basis,
                why=(
                    f"both the requesting State ({unit_country}) and the requested State"
                    f" ({requested_country}) are Parties to the {treaty.name}: a request under"
                    " Art. 29(1) through the 24/7 Network (Art. 35)"
                ),
            )
        reasons = [
            treaty.describe(c)
            for c, s in ((unit_country, ours), (requested_country, theirs))
            if s != "party"
        ]
    elif not unit_country:
        reasons = ["the unit's country (the requesting State) is not set"]
    else:
        reasons = ["the requested State is not known"]
    regime = _regime(regimes, POC_COOPERATION)
    return Instrument(
        key=POC_COOPERATION,
        citation=regime.basis,
        why="not an Art. 29 request: " + "; ".join(reasons),
    )


def for_emergency(
    *,
    unit_country: str | None,
    provider: ProviderFacts | None,
    to_provider: bool,
    requested_country: str | None,
    regimes: Mapping[str, Regime],
    treaties: Mapping[str, Treaty],
) -> Instrument:
    """The instrument of an emergency disclosure request: sent to `provider`'s emergency channel
    (`to_provider`), or to the 24/7 point of contact of `requested_country`."""
    if to_provider and provider is not None:
        if provider.country == "US":
            regime = _regime(regimes, US_2702_EMERGENCY)
            return Instrument(
                key=US_2702_EMERGENCY,
                citation=regime.basis,
                why=(
                    f"{provider.name} is a provider in the United States: in an emergency"
                    " involving danger of death or serious physical injury it may disclose"
                    f" voluntarily under {regime.basis}; the request goes to its emergency"
                    " channel, under its published emergency policy"
                ),
            )
        where = f" in {provider.country}" if provider.country else ""
        source = f" ({provider.policy_source})" if provider.policy_source else ""
        return Instrument(
            key=PROVIDER_EMERGENCY,
            citation=f"{provider.name}'s published emergency disclosure policy{source}",
            why=(
                f"an emergency request to {provider.name}{where} through its emergency channel"
                " rests on its own published policy: the provider decides whether to disclose"
            ),
        )
    art9 = regimes.get(CETS224_ART9)
    treaty = treaties.get(art9.parties) if art9 is not None and art9.parties else None
    if art9 is None or not art9.in_force:
        reasons = [
            "CETS No. 224, Art. 9 (emergency disclosure through the 24/7 Network) is not in force"
        ]
    elif treaty is None or not (unit_country and requested_country):
        reasons = ["the requesting or the requested State is not known"]
    else:
        statuses = {c: treaty.status(c) for c in (unit_country, requested_country)}
        if all(s == "party" for s in statuses.values()):
            return Instrument(
                key=CETS224_ART9,
                citation=art9.basis,
                why=(
                    f"both the requesting State ({unit_country}) and the requested State"
                    f" ({requested_country}) are Parties to the {treaty.name}: an emergency"
                    " request under Art. 9 through the 24/7 Network"
                ),
            )
        reasons = [treaty.describe(c) for c, s in statuses.items() if s != "party"]
    regime = _regime(regimes, POC_EMERGENCY)
    custodian = f" ({provider.name} has no emergency channel on file)" if provider else ""
    return Instrument(
        key=POC_EMERGENCY,
        citation=regime.basis,
        why=(
            f"an emergency request through the 24/7 point of contact{custodian}; no treaty is"
            " cited: " + "; ".join(reasons)
        ),
    )


def check_emergency_requested(
    key: str, *, chosen: Instrument, regimes: Mapping[str, Regime], field_name: str = "regime"
) -> None:
    """An instrument the officer named for an emergency request must be the one its route rests
    on (`chosen`): InvalidInput naming `field_name` otherwise, saying why."""
    regime = regimes.get(key)
    if regime is None or not regime.emergency:
        known = ", ".join(sorted(k for k, r in regimes.items() if r.emergency and r.in_force))
        what = "unknown instrument" if regime is None else "not an emergency instrument"
        raise InvalidInput(field_name, f"{what} {key!r}; emergency instruments: {known}")
    if not regime.in_force:
        raise InvalidInput(field_name, f"{regime.name} is not in force: it cannot be used yet")
    if key != chosen.key:
        raise InvalidInput(
            field_name,
            f"{key!r} does not fit this emergency request's route: it rests on {chosen.key!r}"
            f" ({chosen.why})",
        )


def check_requested(
    key: str,
    *,
    regimes: Mapping[str, Regime],
    unit_country: str | None,
    direct: bool,
    provider: ProviderFacts | None,
    requested_country: str | None,
    treaties: Mapping[str, Treaty],
    field_name: str = "regime",
) -> None:
    """An instrument the officer asked for must fit the route and the unit's State: InvalidInput
    naming `field_name` says why and what would apply. `direct` tells whether the provider takes
    the request itself (its portal or address); otherwise it goes to the point of contact."""
    regime = regimes.get(key)
    if regime is None:
        usable = (k for k, r in regimes.items() if not r.template and r.in_force)
        known = ", ".join(sorted(k for k in usable if not regimes[k].emergency))
        raise InvalidInput(field_name, f"unknown instrument {key!r}; known: {known}")
    if not regime.in_force:
        raise InvalidInput(field_name, f"{regime.name} is not in force: it cannot be used yet")
    if regime.emergency:
        raise InvalidInput(
            field_name,
            f'{key!r} is for emergency disclosure requests ("kind": "emergency"), not for'
            " a preservation request",
        )
    if regime.requesting_countries and unit_country not in regime.requesting_countries:
        instead = _what_applies(
            regimes, unit_country, direct, provider, requested_country, treaties
        )
        raise InvalidInput(
            field_name,
            f"{regime.basis} may be used only by a unit of {', '.join(regime.requesting_countries)}"
            f" (18 U.S.C. § 2711(4): a department or agency of the United States or of a State);"
            f" the unit's country is {unit_country or 'not set'}: {instead}",
        )
    if key == EPOC_PR:
        # Not bound (Denmark, outside the Union), no addressee in the Union: domain/epoc.py.
        epoc.check_can_issue(
            unit_country=unit_country,
            provider_name=provider.name if provider is not None else None,
            eu_representative=provider.eu_representative if provider is not None else None,
            field_name=field_name,
        )
    if regime.channel is Channel.POC and regime.parties:
        treaty = treaties.get(regime.parties)
        bad = [
            c
            for c in (unit_country, requested_country)
            if c and treaty is not None and treaty.status(c) != "party"
        ]
        if bad and treaty is not None:
            raise InvalidInput(
                field_name,
                "; ".join(treaty.describe(c) for c in bad)
                + f": an Art. 29 request needs both States to be Parties; use {POC_COOPERATION!r}"
                " (a request for police co-operation through the point of contact)",
            )
    if regime.channel is Channel.PROVIDER and key == PROVIDER_POLICY and not direct:
        name = provider.name if provider else "no provider"
        raise InvalidInput(
            field_name,
            f"{name} does not take requests directly from foreign authorities (or none is on"
            f" file): the request goes to the 24/7 point of contact; use {BUDAPEST!r} or"
            f" {POC_COOPERATION!r}",
        )


def _what_applies(
    regimes: Mapping[str, Regime],
    unit_country: str | None,
    direct: bool,
    provider: ProviderFacts | None,
    requested_country: str | None,
    treaties: Mapping[str, Treaty],
) -> str:
    options = []
    if direct and provider is not None:
        options.append(f"a direct request rests on the provider's policy ({PROVIDER_POLICY!r})")
    poc = for_poc(
        unit_country=unit_country,
        requested_country=requested_country,
        regimes=regimes,
        treaties=treaties,
    )
    where = f" of {requested_country}" if requested_country else ""
    options.append(f"a request through the 24/7 point of contact{where} rests on {poc.key!r}")
    return "; ".join(options)


def parse_treaties(data: Mapping[str, Any]) -> dict[str, Treaty]:
    """Treaties from the parsed config/parties.toml (strict: a malformed table is a ValueError
    naming the treaty)."""
    out = {}
    for key, table in data.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"{key}: expected a table")
        parties = table.get("parties", {})
        not_parties = table.get("not_parties", {})
        if not isinstance(parties, Mapping) or not isinstance(not_parties, Mapping):
            raise ValueError(f"{key}: parties and not_parties must be tables")
        for code, row in {**parties, **not_parties}.items():
            if not (len(code) == 2 and code.isupper()) or not isinstance(row, Mapping):
                raise ValueError(f"{key}: {code!r} must be an ISO code with a table")
            if not row.get("sources"):
                raise ValueError(f"{key}: {code} names no source")
        as_of = table.get("as_of")
        out[key] = Treaty(
            key=key,
            name=str(table.get("treaty", key)),
            complete=bool(table.get("complete", False)),
            as_of=as_of if isinstance(as_of, date) else None,
            parties={c: str(r.get("name", c)) for c, r in parties.items()},
            not_parties={c: str(r.get("why", "")) for c, r in not_parties.items()},
        )
    return out
