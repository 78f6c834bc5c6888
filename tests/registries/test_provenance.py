"""Where a provider's facts come from: the document shape, facts_from, the refusal of
law-enforcement addresses off the provider's own domains (look-alike pages), staleness by the
document's date as well as the reading date, and the custodian entity per region."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from providers.entities import custodian
from providers.models import ProviderCreate, provider_public, staleness
from providers.provenance import address_problems, document_date

OWN = {"url": "https://www.coinbase.com/legal/law-enforcement", "title": "LE", "kind": "provider"}


def row(**overrides: Any) -> ProviderCreate:
    data: dict[str, Any] = {
        "slug": "coinbase",
        "name": "Coinbase",
        "domains": ["coinbase.com"],
        "source": OWN,
        "verified_on": "2026-12-04",
    }
    data.update(overrides)
    return ProviderCreate.model_validate(data)


def test_source_is_a_document_and_a_bare_url_counts_as_secondary():
    p = row(source={**OWN, "published": "2024-07"})
    assert p.source.kind == "provider" and p.source.published == "2024-07"
    legacy = row(source="https://www.coinbase.com/legal/law-enforcement")
    assert legacy.source.kind == "secondary" and legacy.source.title == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", {**OWN, "kind": "blog"}),
        ("source", {**OWN, "published": "last week"}),
        ("source", {**OWN, "published": "2024-02-30"}),
        ("source", {**OWN, "url": "see the site"}),
        ("facts_from", {"colour": OWN["url"]}),
        ("category", "bank"),
        ("entities", [{"region": "EEA", "name": ""}]),
        ("emergency_contact", {"phone": "12345"}),
    ],
)
def test_bad_provenance_is_refused(field, value):
    with pytest.raises(ValidationError):
        row(**{field: value})


def test_facts_from_must_name_one_of_the_rows_documents():
    other = {"url": "https://help.coinbase.com/x", "title": "Help", "kind": "provider"}
    ok = row(other_sources=[other], facts_from={"preservation_days": other["url"]})
    assert ok.facts_from == {"preservation_days": other["url"]}
    with pytest.raises(ValidationError, match="not the source or one of other_sources"):
        row(facts_from={"preservation_days": "https://elsewhere.example/x"})


def test_a_look_alike_pages_address_is_refused():
    """A "Coinbase law enforcement request policy" on another domain asks officers to write to
    a non-Coinbase address: refused, whatever document the row names."""
    bad = row(le_email="lawenforcement@coinbase-le-requests.com")
    assert address_problems(bad) == [
        "le_email: lawenforcement@coinbase-le-requests.com is not on one of the provider's own "
        "domains"
    ]
    assert address_problems(row(portal_url="https://coinbase.lers-portal.net/")) != []
    assert address_problems(row(emergency_contact={"email": "help@gmail.com"})) != []
    assert address_problems(row(le_email="subpoenas@coinbase.com")) == []
    assert address_problems(row(portal_url="https://law.help.coinbase.com/x")) == []


def test_an_intake_platform_needs_the_providers_own_page_sending_officers_there():
    kodex = "https://app.kodex.us/coinbase/signin"
    assert address_problems(row(portal_url=kodex)) != []
    sent = row(portal_url=kodex, intake_page=OWN["url"])
    assert address_problems(sent) == []
    # the page must be the provider's own, and one of the row's documents of kind provider
    elsewhere = "https://coinbase-guide.example/le"
    stray = row(
        portal_url=kodex,
        intake_page=elsewhere,
        other_sources=[{"url": elsewhere, "title": "x", "kind": "provider"}],
    )
    assert address_problems(stray) != []


def test_addresses_from_a_secondary_document_are_refused():
    summary = {"url": "https://guides.example/coinbase", "title": "Guide", "kind": "secondary"}
    p = row(
        other_sources=[summary],
        le_email="subpoenas@coinbase.com",
        facts_from={"le_email": summary["url"], "preservation_days": summary["url"]},
        preservation_days=90,
    )
    assert address_problems(p) == [f"le_email: taken from a secondary document ({summary['url']})"]


def test_entity_by_region_follows_entities_and_older_clients_still_work():
    p = row(
        entities=[
            {"region": "EEA", "name": "Coinbase Europe Ltd", "address": "Dublin"},
            {"region": "default", "name": "Coinbase, Inc.", "address": ""},
        ]
    )
    assert p.entity_by_region == {"EEA": "Coinbase Europe Ltd", "default": "Coinbase, Inc."}
    old = row(entity_by_region={"EEA": "Coinbase Europe Ltd"})
    assert [e.model_dump() for e in old.entities] == [
        {"region": "EEA", "name": "Coinbase Europe Ltd", "address": ""}
    ]


def test_stale_by_the_reading_date_or_by_the_documents_date():
    today = date(2026, 12, 4)
    fresh = {"published": "2026-07-13"}
    assert staleness(date(2026, 12, 4), fresh, today=today, max_age_days=180) == ""
    assert "read 2026-01-01" in staleness(date(2026, 1, 1), fresh, today=today, max_age_days=180)
    assert staleness(None, fresh, today=today, max_age_days=180) == "never verified"
    # read yesterday, written in 2018: stale all the same
    old = staleness(date(2026, 12, 3), {"published": "2018"}, today=today, max_age_days=180)
    assert old.startswith("its document is dated 2018")
    assert staleness(date(2026, 12, 3), {"published": None}, today=today, max_age_days=180) == ""
    assert document_date("2014") == date(2014, 1, 1)


def test_public_view_says_why_it_is_stale():
    from providers.models import Provider

    p = row(source={**OWN, "published": "2018-05-25"})
    public = provider_public(
        Provider.model_validate(p.model_dump()), today=date(2026, 12, 4), max_age_days=180
    )
    assert public.stale is True and "2018-05-25" in public.stale_reason


TIKTOK = [
    {"region": "US", "name": "TikTok USDS Joint Venture LLC", "address": "Culver City"},
    {"region": "GB", "name": "TikTok Information Technologies UK Limited", "address": "London"},
    {"region": "EEA", "name": "TikTok Technology Limited", "address": "Dublin"},
    {"region": "default", "name": "TikTok Pte. Limited", "address": "Singapore"},
]


@pytest.mark.parametrize(
    ("region", "entity"),
    [
        ("DE", "TikTok Technology Limited"),
        ("ie", "TikTok Technology Limited"),
        ("NO", "TikTok Technology Limited"),  # EEA, not EU
        ("EEA", "TikTok Technology Limited"),
        ("GB", "TikTok Information Technologies UK Limited"),
        ("US", "TikTok USDS Joint Venture LLC"),
        ("BR", "TikTok Pte. Limited"),
        (None, "TikTok Pte. Limited"),
    ],
)
def test_custodian_by_region(region, entity):
    found = custodian({"entities": TIKTOK}, region)
    assert found is not None and found.name == entity and found.address


def test_custodian_never_guesses():
    no_default = [e for e in TIKTOK if e["region"] != "default"]
    assert custodian({"entities": no_default}, "BR") is None
    assert custodian({"entities": []}, "DE") is None
    meta = [{"region": "European Region", "name": "Meta Platforms Ireland Limited", "address": "x"}]
    assert custodian({"entities": meta}, "FR").name == "Meta Platforms Ireland Limited"
    # a DSA legal representative is not the custodian of the data
    snap = [{"region": "EU (DSA legal representative)", "name": "Snap B.V.", "address": "x"}]
    assert custodian({"entities": snap}, "NL") is None


def test_custodian_of_seed_rows():
    from providers.seed import load_seed

    seeds = {p.slug: p for p in load_seed()}
    google_de = custodian(seeds["google"], "DE")
    assert google_de.name == "Google Ireland Limited" and "Dublin" in google_de.address
    assert custodian(seeds["google"], "US").name == "Google LLC"
    assert custodian(seeds["whatsapp"], "IT").name == "WhatsApp Ireland Limited"
    assert custodian(seeds["meta"], "ES").name == "Meta Platforms Ireland Limited"
