"""The route and the instrument are decided together, per recipient (directory/routing.py with
domain/instruments.py): a table of the cases a prosecutor would check, each row asserting every
recipient's instrument and the citation its letter carries."""

from __future__ import annotations

from datetime import date

import pytest

from contacts.models import Contact
from preservation.directory.routing import Laws, decide_route
from preservation.domain import instruments as inst
from preservation.errors import InvalidInput
from preservation.settings import load_regimes, load_treaties
from providers.models import Provider

REGIMES = load_regimes()
TREATIES = load_treaties()
TODAY = date(2026, 12, 4)

ART29 = "Convention on Cybercrime (ETS No. 185), Art. 29(1)"


def provider(slug: str, country: str, accepts: bool | None, *, portal: bool = True) -> Provider:
    return Provider(
        slug=slug,
        name=slug.title(),
        country=country,
        portal_url=f"https://le.{slug}.test/" if portal else None,
        le_email=None if portal else f"lert@{slug}.test",
        accepts_foreign_direct=accepts,
        source={
            "url": f"https://{slug}.test/law-enforcement",
            "title": "LE guide",
            "kind": "provider",
        },
        verified_on=date(2026, 12, 1),
    )


def poc(country: str, cid: int) -> Contact:
    return Contact(
        id=cid,
        country=country,
        authority=f"{country} 24/7 point of contact",
        network="24/7",
        emails=[f"poc@{country.lower()}.test"],
        accepts_preservation=True,
        verified_on=date(2026, 12, 1),
    )


def route(unit: str | None, prov: Provider | None, country: str, *, requested: str | None = None):  # type: ignore[no-untyped-def]
    return decide_route(
        provider=prov,
        contacts=[poc(country, 7)],
        country=country,
        copy_to_poc=True,
        today=TODAY,
        staleness_days=365,
        laws=Laws(regimes=REGIMES, treaties=TREATIES, unit_country=unit, requested=requested),
    )


US_DIRECT = provider("snapish", "US", True)
US_CLOSED = provider("googlish", "US", False)
US_UNKNOWN = provider("appleish", "US", None)
IE_CLOSED = provider("irishco", "IE", False)
DE_MAIL = provider("gmxish", "DE", True, portal=False)
#: A provider that names its legal representative in the Union (the EPOC-PR addressee).
US_EU_REP = provider("metaish", "US", True)
US_EU_REP.eu_representative = {"name": "Metaish Ireland Ltd", "address": "Dublin", "country": "IE"}

# unit, provider, requested State, asked for -> [(role, instrument key, text in its citation)]
CASES = [
    pytest.param(
        "DE",
        US_DIRECT,
        "US",
        None,
        [
            ("provider", "provider-policy", "Snapish's published policy"),
            ("copy", "budapest-art29", ART29),
        ],
        id="foreign unit, US provider taking foreign requests: its policy; Art. 29 to the US PoC",
    ),
    pytest.param(
        "US",
        US_DIRECT,
        "US",
        None,
        [("provider", "us-2703f", "18 U.S.C. § 2703(f)(1)")],
        id="US unit, US provider: 2703(f), a governmental entity's request, nobody in copy",
    ),
    pytest.param(
        "DE",
        US_CLOSED,
        "US",
        None,
        [("poc", "budapest-art29", ART29)],
        id="provider refusing foreign requests: Art. 29 through the US PoC",
    ),
    pytest.param(
        "DE",
        US_UNKNOWN,
        "US",
        None,
        [("poc", "budapest-art29", ART29)],
        id="provider whose practice is unknown: the PoC",
    ),
    pytest.param(
        "DE",
        IE_CLOSED,
        "IE",
        None,
        [("poc", "poc-cooperation", "police co-operation")],
        id="requested State not a Party (Ireland): no Art. 29",
    ),
    pytest.param(
        "RU",
        US_CLOSED,
        "US",
        None,
        [("poc", "poc-cooperation", "police co-operation")],
        id="requesting State not on the Parties list: no Art. 29",
    ),
    pytest.param(
        "DE",
        US_DIRECT,
        "US",
        "budapest-art29",
        [("poc", "budapest-art29", ART29)],
        id="Art. 29 asked for: State to State even where the provider takes requests",
    ),
    pytest.param(
        "DE",
        US_EU_REP,
        "US",
        "eu-epoc-pr",
        [("provider", "eu-epoc-pr", "Regulation (EU) 2023/1543")],
        id="EU State and a provider in the Union: EPOC-PR to its representative alone",
    ),
    pytest.param(
        "DE",
        DE_MAIL,
        "DE",
        None,
        [("provider", "domestic", "Art. 16(2)")],
        id="provider in the unit's own State: a domestic order",
    ),
    pytest.param(
        None,
        US_DIRECT,
        "US",
        None,
        [
            ("provider", "provider-policy", "published policy"),
            ("copy", "poc-cooperation", "police co-operation"),
        ],
        id="unit country not set: no treaty can be cited",
    ),
]


@pytest.mark.parametrize(("unit", "prov", "country", "asked", "expected"), CASES)
def test_instrument_of_every_recipient(unit, prov, country, asked, expected) -> None:  # type: ignore[no-untyped-def]
    r = route(unit, prov, country, requested=asked)
    got = [(x.role, x.instrument.key, x.instrument.citation) for x in r.recipients]
    assert [(role, key) for role, key, _ in got] == [(role, key) for role, key, _ in expected]
    for (_, _, citation), (_, _, needle) in zip(got, expected, strict=True):
        assert needle in citation
    assert r.instrument is not None and r.instrument.key == expected[0][1]
    for x in r.recipients:
        assert x.instrument.why  # every choice says why
    # A letter straight to a provider from outside its State never cites Art. 29 or § 2703(f).
    for x in r.recipients:
        if x.role == "provider" and unit != prov.country:
            assert "29" not in x.instrument.citation and "2703" not in x.instrument.citation


def test_why_names_the_parties_question() -> None:
    r = route("DE", IE_CLOSED, "IE")
    assert "IE is not a Party" in r.recipients[0].instrument.why
    r = route("RU", US_CLOSED, "US")
    assert "not on the list of Parties" in r.recipients[0].instrument.why


def check(
    key: str, *, unit: str | None, direct: bool, country: str = "US", rep: object = "NL"
) -> None:
    inst.check_requested(
        key,
        regimes=REGIMES,
        unit_country=unit,
        direct=direct,
        provider=inst.ProviderFacts(
            name="Snapish",
            country="US",
            accepts_foreign_direct=True,
            eu_representative={"name": "Snapish B.V.", "country": rep} if rep else None,
        ),
        requested_country=country,
        treaties=TREATIES,
    )


@pytest.mark.parametrize(
    ("key", "unit", "direct", "country", "reason"),
    [
        ("us-2703f", "DE", True, "US", "2711(4)"),
        ("eu-epoc-pr", "DK", True, "US", "Denmark (DK) is a Member State not bound"),
        ("eu-epoc-pr", "US", True, "US", "bound by Regulation"),
        ("eu-epoc-pr", None, True, "US", "the unit's country is not set"),
        ("cets224-art9", "DE", False, "US", "not in force"),
        ("budapest-art29", "DE", False, "IE", "IE is not a Party"),
        ("provider-policy", "DE", False, "US", "does not take requests directly"),
        ("nonsense", "DE", False, "US", "unknown instrument"),
    ],
)
def test_an_instrument_that_does_not_fit_is_refused_naming_regime(
    key, unit, direct, country, reason
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as info:
        check(key, unit=unit, direct=direct, country=country)
    assert info.value.field == "regime" and reason in str(info.value)


@pytest.mark.parametrize(
    ("rep", "reason"),
    [
        (None, "no designated establishment or legal representative in the Union on file"),
        ("DE", "is in the unit's own State (DE)"),
        ("DK", "not a Member State bound"),
    ],
)
def test_an_epoc_pr_needs_an_addressee_in_another_bound_member_state(rep, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as info:
        check("eu-epoc-pr", unit="DE", direct=True, rep=rep)
    assert info.value.field == "regime" and reason in str(info.value)


def test_an_epoc_pr_goes_to_the_representative_through_the_national_system() -> None:
    r = route("DE", US_EU_REP, "US", requested="eu-epoc-pr")
    assert [(x.role, x.channel, x.name) for x in r.recipients] == [
        ("provider", "eu-system", "Metaish Ireland Ltd")
    ]
    assert "Art. 19(1)" in r.why and "no point of contact is copied" in r.why
    assert route("DE", US_DIRECT, "US", requested="eu-epoc-pr").recipients == ()


@pytest.mark.parametrize(
    ("key", "unit", "direct"),
    [
        ("us-2703f", "US", True),
        ("budapest-art29", "DE", False),
        ("provider-policy", "DE", True),
        ("eu-epoc-pr", "DE", True),
    ],
)
def test_an_instrument_that_fits_passes(key, unit, direct) -> None:  # type: ignore[no-untyped-def]
    check(key, unit=unit, direct=direct)


def test_cets224_is_modelled_not_in_force_and_never_chosen() -> None:
    assert REGIMES["cets224-art9"].in_force is False
    assert TREATIES["cets224"].status("JP") == "party"
    chosen = {x.instrument.key for case in CASES for x in route(*case.values[:3]).recipients}
    assert "cets224-art9" not in chosen


def test_parties_file_names_a_source_for_every_state() -> None:
    budapest = TREATIES["budapest"]
    assert budapest.status("US") == "party" and budapest.status("DE") == "party"
    assert budapest.status("IE") == "not_party"
    assert budapest.status("RU") == "unknown"  # named in no document read: never assumed
    assert budapest.complete is False and budapest.as_of is not None


# --- identifiers the letters name ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "platform", "warned"),
    [
        ("jack", "x", False),
        ("jack", "twitter", False),
        ("a very long handle!", "x", True),
        ("ok.handle_1", "instagram", False),
        ("bad handle", "instagram", True),
        ("someone#1234", "discord", True),
        ("123456789012345678", "discord", False),
        ("12345", "discord", True),
        ("durov", "telegram", False),
        ("ab", "telegram", True),
    ],
)
def test_platform_handle_syntax(value: str, platform: str, warned: bool) -> None:
    from preservation.domain.identifiers import normalize_identifier

    got = normalize_identifier("account", value, field="f", platform=platform)
    assert bool(got.notes) is warned, got.notes


def test_ipv4_mapped_ipv6_in_mixed_notation() -> None:
    from preservation.domain.identifiers import normalize

    assert normalize("ipv6", "::ffff:c633:6409", field="f") == "::ffff:198.51.100.9"
    assert normalize("ipv6", "2001:DB8::1", field="f") == "2001:db8::1"


def test_a_date_alone_is_read_on_the_safe_side() -> None:
    from preservation.domain.dates import safe_start_of_day

    us = safe_start_of_day("2026-12-01", country="US", field="preserved_at")
    assert us.utc.isoformat() == "2026-12-01T05:00:00+00:00"  # New York: the earliest midnight
    anywhere = safe_start_of_day("2026-12-01", country=None, field="preserved_at")
    assert anywhere.utc.isoformat() == "2026-11-30T10:00:00+00:00"  # UTC+14
    assert "safe side" in us.note
