from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import JSON, UniqueConstraint

from contacts.models import (
    Contact,
    ContactCreate,
    ContactPublic,
    ContactUpdate,
    contact_public,
    is_stale,
    natural_key,
)

TODAY = date(2026, 11, 24)


def valid(**overrides) -> dict:
    data = {
        "country": "DE",
        "authority": "Bundeskriminalamt, SO 41",
        "phones": ["+49 30 000000"],
        "emails": ["poc@example.org"],
        "languages": ["de", "en"],
        "verified_on": "2026-11-01",
    }
    data.update(overrides)
    return data


def error_fields(exc: ValidationError) -> set[str]:
    return {str(e["loc"][0]) for e in exc.errors()}


def test_create_normalises():
    c = ContactCreate(
        **valid(
            country="germany",
            authority="  Bundeskriminalamt,   SO 41 ",
            phones=["0049 30 000000", "+49 30 000000", "+1 (202) 555-0142"],
            emails=["POC@Example.ORG"],
            languages=["German", "EN", "eng"],
        )
    )
    assert c.country == "DE"
    assert c.authority == "Bundeskriminalamt, SO 41"
    assert c.phones == ["+4930000000", "+12025550142"]  # E.164, repeats dropped
    assert c.emails == ["POC@example.org"]
    assert c.languages == ["de", "en"]
    assert c.network == "24/7" and c.hours == "24/7"
    assert c.accepts_preservation is True and c.demo is False
    assert c.verified_on == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("given", "code"),
    [("de", "DE"), ("DEU", "DE"), ("UK", "GB"), ("EL", "GR"), ("India", "IN"), ("in", "IN")],
)
def test_country_forms(given, code):
    assert ContactCreate(**valid(country=given)).country == code


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "XX"),
        ("country", ""),
        ("country", "Atlantis"),
        ("authority", ""),
        ("authority", "   "),
        ("phones", ["030 000000"]),  # not international
        ("phones", ["+49 12"]),
        ("phones", ["+1 202 000 0000"]),  # possible length, not valid
        ("phones", ["not a number"]),
        ("phones", "+49 30 000000"),  # not a list
        ("emails", ["not-an-address"]),
        ("emails", ["poc@example.invalid"]),  # special-use domain
        ("languages", ["Klingonese"]),
        ("verified_on", "yesterday"),
        ("network", ""),
    ],
)
def test_create_rejects_and_names_field(field, value):
    with pytest.raises(ValidationError) as info:
        ContactCreate(**valid(**{field: value}))
    assert error_fields(info.value) == {field}


def test_error_names_the_bad_item():
    with pytest.raises(ValidationError) as info:
        ContactCreate(**valid(phones=["+49 30 000000", "12"]))
    assert "item 1" in info.value.errors()[0]["msg"]


def test_update_is_partial_and_validated():
    u = ContactUpdate(phones=["+44 20 7946 0142"], notes=" call first ")
    assert u.model_dump(exclude_unset=True) == {"phones": ["+442079460142"], "notes": "call first"}
    assert ContactUpdate().model_dump(exclude_unset=True) == {}
    with pytest.raises(ValidationError) as info:
        ContactUpdate(country="ZZ")
    assert error_fields(info.value) == {"country"}
    with pytest.raises(ValidationError) as info:
        ContactUpdate(emails=["@"])
    assert error_fields(info.value) == {"emails"}


@pytest.mark.parametrize(
    ("verified_on", "max_age", "stale"),
    [
        (None, 365, True),
        (date(2026, 11, 24), 0, False),
        (date(2026, 11, 23), 0, True),
        (date(2025, 11, 24), 365, False),  # exactly the limit: still fresh
        (date(2025, 11, 23), 365, True),
        (date(2027, 1, 1), 30, False),  # a future date is not stale
    ],
)
def test_is_stale(verified_on, max_age, stale):
    assert is_stale(verified_on, TODAY, max_age) is stale


def test_is_stale_refuses_negative_age():
    with pytest.raises(ValueError):
        is_stale(TODAY, TODAY, -1)


def test_public_view_computes_stale():
    row = Contact.model_validate(ContactCreate(**valid()).model_dump())
    row.id = 7
    fresh = contact_public(row, today=TODAY, max_age_days=180)
    assert isinstance(fresh, ContactPublic)
    assert fresh.id == 7 and fresh.stale is False and fresh.phones == ["+4930000000"]
    assert contact_public(row, today=date(2027, 6, 1), max_age_days=180).stale is True
    assert set(fresh.model_dump()) >= {
        "id",
        "country",
        "authority",
        "network",
        "phones",
        "emails",
        "hours",
        "languages",
        "accepts_preservation",
        "notes",
        "verified_on",
        "stale",
    }


def test_natural_key():
    assert natural_key(ContactCreate(**valid(country="de"))) == ("DE", "Bundeskriminalamt, SO 41")


def test_table_shape():
    table = Contact.__table__
    assert table.name == "contact"
    assert [c.name for c in table.primary_key.columns] == ["id"]
    for name in ("phones", "emails", "languages"):
        assert isinstance(table.c[name].type, JSON)
        assert table.c[name].nullable is False
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    assert [(u.name, [c.name for c in u.columns]) for u in uniques] == [
        ("uq_contact_country_authority", ["country", "authority"])
    ]
    assert table.c.country.index is True
    assert table.c.verified_on.nullable is True
