from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import JSON

from providers.models import (
    NOTIFIES_USER,
    Provider,
    ProviderCreate,
    ProviderPublic,
    ProviderUpdate,
    domain_name,
    provider_public,
)


def valid(**overrides) -> dict:
    data = {
        "slug": "example-mail",
        "name": "Example Mail",
        "aliases": ["ExMail"],
        "domains": ["example-mail.com"],
        "source": "https://example-mail.com/law-enforcement",
        "verified_on": "2026-11-24",
    }
    data.update(overrides)
    return data


def test_create_normalises():
    p = ProviderCreate(
        **valid(
            slug=" Example-Mail ",
            domains=["Example-Mail.COM.", "exmail.com", "example-mail.com", "bücher.de"],
            aliases=[" Ex  Mail ", "Ex Mail"],
            country="united states",
            le_email="LE@Example-Mail.com",
            notifies_user="ALWAYS",
            entity_by_region={" EEA ": " Example Ireland Ltd "},
            portal_url="",
        )
    )
    assert p.slug == "example-mail"
    assert p.domains == ["example-mail.com", "exmail.com", "xn--bcher-kva.de"]
    assert p.aliases == ["Ex Mail"]
    assert p.country == "US"
    assert p.le_email == "LE@example-mail.com"
    assert p.notifies_user == "always"
    assert p.entity_by_region == {"EEA": "Example Ireland Ltd"}
    assert p.portal_url is None
    assert p.accepts_foreign_direct is None and p.preservation_days is None


def test_defaults_mean_unknown():
    p = ProviderCreate(slug="a", name="A")
    assert p.notifies_user == "unknown"
    assert p.accepts_foreign_direct is None
    assert p.aliases == [] and p.domains == [] and p.source is None
    assert p.entities == [] and p.facts_from == {} and p.category == "other"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Has Space"),
        ("slug", "-lead"),
        ("slug", "trail-"),
        ("slug", "a" * 65),
        ("name", ""),
        ("domains", ["https://example.com/path"]),
        ("domains", ["localhost"]),
        ("domains", ["exa mple.com"]),
        ("aliases", [""]),
        ("country", "Narnia"),
        ("portal_url", "lers.example.com"),
        ("portal_url", "ftp://example.com"),
        ("source", "see the web site"),
        ("le_email", "nobody"),
        ("notifies_user", "sometimes"),
        ("preservation_days", 0),
        ("extension_days", -5),
        ("max_extensions", -1),
        ("extension_lead_days", 400),
        ("entity_by_region", {"EEA": ""}),
        ("entity_by_region", {"EEA": 5}),
        ("accepts_foreign_direct", "maybe"),
    ],
)
def test_create_rejects_and_names_field(field, value):
    with pytest.raises(ValidationError) as info:
        ProviderCreate(**valid(**{field: value}))
    assert {str(e["loc"][0]) for e in info.value.errors()} == {field}


def test_notifies_user_values():
    assert NOTIFIES_USER == ("never", "unless_asked", "always", "unknown")
    for value in NOTIFIES_USER:
        assert ProviderCreate(**valid(notifies_user=value)).notifies_user == value


def test_update_is_partial_and_has_no_slug():
    u = ProviderUpdate(preservation_days=90, domains=["NEW.example-mail.com"])
    assert u.model_dump(exclude_unset=True) == {
        "preservation_days": 90,
        "domains": ["new.example-mail.com"],
    }
    assert "slug" not in ProviderUpdate.model_fields
    with pytest.raises(ValidationError):
        ProviderUpdate(notifies_user="often")


def test_domain_name():
    assert domain_name("WA.ME.") == "wa.me"
    with pytest.raises(ValueError):
        domain_name("-bad-.com")


def test_public_view_computes_stale():
    row = Provider.model_validate(ProviderCreate(**valid()).model_dump())
    view = provider_public(row, today=date(2026, 12, 1), max_age_days=30)
    assert isinstance(view, ProviderPublic) and view.stale is False and view.slug == "example-mail"
    assert provider_public(row, today=date(2027, 12, 1), max_age_days=30).stale is True
    row.verified_on = None
    assert provider_public(row, today=date(2026, 12, 1), max_age_days=30).stale is True


def test_table_shape():
    table = Provider.__table__
    assert table.name == "provider"
    assert [c.name for c in table.primary_key.columns] == ["slug"]
    for name in ("aliases", "domains", "entity_by_region"):
        assert isinstance(table.c[name].type, JSON)
    assert table.c.entity_by_region.nullable is True
    # the document is in source_doc; the column older nodes read keeps its URL
    assert isinstance(table.c.source_doc.type, JSON) and table.c.source.nullable is False
    assert table.c.accepts_foreign_direct.nullable is True
    assert table.c.notifies_user.nullable is False
