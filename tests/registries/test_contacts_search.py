from __future__ import annotations

import pytest

from contacts.models import ContactCreate
from contacts.search import ContactIndex, country_names
from contacts.seed import load_seed


@pytest.fixture(scope="module")
def index() -> ContactIndex[ContactCreate]:
    extra = [
        ContactCreate(
            country="DE",
            authority="Zentrale Ansprechstelle Cybercrime Köln",
            network="ZAC",
            phones=["+49 221 000000"],
            emails=["zac@example.org"],
            demo=True,
        ),
    ]
    return ContactIndex([*load_seed(), *extra])


def test_by_country_puts_the_24_7_contact_first(index):
    found = index.by_country("de")
    assert [c.network for c in found] == ["24/7", "ZAC"]
    assert index.by_country("Germany") == found
    assert index.by_country("JP") == []


def test_by_country_rejects_a_non_country(index):
    with pytest.raises(ValueError):
        index.by_country("Atlantis")


@pytest.mark.parametrize(
    ("q", "country"),
    [
        ("Brazil", "BR"),
        ("brasil", "BR"),  # typo / local spelling
        ("Netherlands", "NL"),
        ("netherland", "NL"),
        ("Ireland", "IE"),
        ("gb", "GB"),
        ("United Kingdom", "GB"),
        ("poc-fr@example.org", "FR"),
        ("india", "IN"),
    ],
)
def test_search_free_text(index, q, country):
    results = index.search(q)
    assert results and results[0][0].country == country


def test_search_accent_and_case_insensitive(index):
    contact, score = index.search("zentrale ansprechstelle cybercrime koln")[0]
    assert contact.network == "ZAC" and score == 100.0
    assert index.search("KÖLN")[0][0].network == "ZAC"


def test_search_within_country(index):
    results = index.search("fictional", country="DE")
    assert results and all(c.country == "DE" for c, _ in results)
    assert index.search("Brazil", country="DE") == []


def test_search_without_text_lists_the_country(index):
    results = index.search(country="uk")
    assert [(c.country, s) for c, s in results] == [("GB", 100.0)]
    everyone = index.search(None, limit=100)
    assert len(everyone) == len(index)
    assert [c.country for c, _ in everyone] == sorted(c.country for c, _ in everyone)


def test_search_scores_descend_and_limit(index):
    results = index.search("example", limit=4)
    assert len(results) <= 4
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)


def test_search_bad_country(index):
    with pytest.raises(ValueError):
        index.search("x", country="ZZ")


def test_search_limit_zero(index):
    assert index.search("Brazil", limit=0) == []


def test_country_names():
    assert "United Kingdom" in country_names("GB")
    assert country_names("ZZ") == []
