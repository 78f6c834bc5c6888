from __future__ import annotations

import json
from collections import Counter
from datetime import date
from importlib import resources

from contacts.models import ContactCreate
from contacts.seed import load_seed as load_contacts
from providers.matching import ProviderIndex
from providers.models import ProviderCreate
from providers.seed import load_seed as load_providers


def raw(package: str, name: str) -> list[dict]:
    return json.loads(resources.files(package).joinpath("data", name).read_text(encoding="utf-8"))


def test_every_provider_row_validates_unchanged():
    rows = raw("providers", "providers.json")
    seeds = load_providers()
    assert len(seeds) == len(rows)
    for row, seed in zip(rows, seeds, strict=True):
        assert isinstance(seed, ProviderCreate)
        # the file is already in normal form: loading it changes nothing
        assert seed.model_dump(mode="json") == row, row["slug"]


def test_at_least_150_providers_with_unique_slugs():
    seeds = load_providers()
    assert len(seeds) >= 150
    assert len({p.slug for p in seeds}) == len(seeds)


def test_every_provider_has_a_source_url_kind_and_reading_date():
    for p in load_providers():
        assert p.source is not None, p.slug
        assert p.source.url.startswith(("https://", "http://")), p.slug
        assert p.source.kind in ("provider", "official", "secondary"), p.slug
        assert p.source.title, p.slug
        assert p.verified_on is not None and p.verified_on <= date(2026, 12, 4), p.slug
        for doc in p.other_sources:
            assert doc.kind in ("provider", "official", "secondary") and doc.title, p.slug


def test_no_field_without_a_source():
    """Each fact is from ``source`` unless ``facts_from`` names another document of the row;
    every name in ``facts_from`` is a filled field (or an item of one) and every document it
    names is among the row's documents."""
    from providers.models import FACT_FIELDS

    for p in load_providers():
        docs = {p.source.url, *(d.url for d in p.other_sources)}
        for key, url in p.facts_from.items():
            field, _, item = key.partition(":")
            assert field in FACT_FIELDS, (p.slug, key)
            value = getattr(p, field)
            assert value, (p.slug, key, "names an empty field")
            if item:
                assert item in value, (p.slug, key)
            assert url in docs, (p.slug, key, url)


def test_addresses_only_from_the_providers_own_or_official_documents():
    """A law-enforcement e-mail, portal, emergency contact, entity or EU representative comes
    from a provider or official document and sits on one of the provider's own domains (or an
    intake platform the provider's own page sends officers to)."""
    from providers.provenance import address_problems

    problems = {p.slug: address_problems(p) for p in load_providers()}
    assert {k: v for k, v in problems.items() if v} == {}


def test_verified_on_is_not_the_documents_date():
    """The reading date and the document's own date are different facts: some documents carry
    one, older than the day they were read."""
    seeds = load_providers()
    dated = [p for p in seeds if p.source.published]
    assert len(dated) >= 30
    assert any(p.source.published < "2020" for p in dated)


def test_domains_and_platform_names_unique_across_providers():
    seeds = load_providers()
    domains = Counter(d for p in seeds for d in p.domains)
    assert [d for d, n in domains.items() if n > 1] == []
    assert ProviderIndex(seeds).conflicts == []


def test_every_provider_has_a_domain_unless_none_was_read():
    # Only rows built from secondary documents that name no domain of the provider.
    assert sorted(p.slug for p in load_providers() if not p.domains) == ["bitfinex", "tether"]


def test_required_providers_present():
    slugs = {p.slug for p in load_providers()}
    assert {
        "google",
        "meta",
        "microsoft",
        "apple",
        "x",
        "snap",
        "tiktok",
        "discord",
        "telegram",
        "amazon",
        "cloudflare",
        "dropbox",
        "yahoo",
        "linkedin",
        "reddit",
        "uber",
        # issue 23: the categories units need
        "whatsapp",
        "signal",
        "viber",
        "threema",
        "wechat",
        "line",
        "kik",
        "gmx",
        "web-de",
        "tuta",
        "yandex",
        "paypal",
        "stripe",
        "revolut",
        "wise",
        "coinbase",
        "kraken",
        "okx",
        "tether",
        "ovhcloud",
        "hetzner",
        "leaseweb",
        "digitalocean",
        "godaddy",
        "tucows",
        "hostinger",
        "wix",
        "shopify",
        "epic-games",
        "riot-games",
        "mega",
        "vk",
        "bluesky",
        "nordvpn",
        "mullvad",
        "expressvpn",
        "vodafone",
        "deutsche-telekom",
        "verizon",
    } <= slugs


def test_contact_rows_validate_unchanged_and_are_all_demo():
    rows = raw("contacts", "demo_contacts.json")
    seeds = load_contacts()
    assert len(seeds) == len(rows) >= 8
    for seed in seeds:
        assert isinstance(seed, ContactCreate)
        assert seed.demo is True
        assert seed.authority.startswith("DEMO – Fictional")
        assert seed.source == "fictional demo data"
        assert all(e.endswith("@example.org") for e in seed.emails)
        assert seed.phones and seed.verified_on == date(2026, 11, 24)


def test_one_demo_contact_per_country():
    countries = [c.country for c in load_contacts()]
    assert len(countries) == len(set(countries))
    assert {"US", "DE", "GB", "FR", "BR", "IN", "NL", "IE"} <= set(countries)
