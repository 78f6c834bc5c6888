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


def test_at_least_25_providers_with_unique_slugs():
    seeds = load_providers()
    assert len(seeds) >= 25
    assert len({p.slug for p in seeds}) == len(seeds)


def test_every_provider_has_source_and_verified_on():
    for p in load_providers():
        assert p.source.startswith("https://"), p.slug
        assert p.verified_on is not None and p.verified_on <= date(2026, 11, 24), p.slug


def test_domains_and_platform_names_unique_across_providers():
    seeds = load_providers()
    domains = Counter(d for p in seeds for d in p.domains)
    assert [d for d, n in domains.items() if n > 1] == []
    assert ProviderIndex(seeds).conflicts == []


def test_every_provider_has_a_domain():
    assert [p.slug for p in load_providers() if not p.domains] == []


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
