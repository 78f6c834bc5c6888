from __future__ import annotations

import socket

import pytest

from providers import matching
from providers.matching import ProviderIndex, host_of, registered_domain
from providers.models import Provider, ProviderCreate
from providers.seed import load_seed


@pytest.fixture(scope="module")
def index() -> ProviderIndex[ProviderCreate]:
    return ProviderIndex(load_seed())


def make(slug: str, name: str, aliases=(), domains=()) -> ProviderCreate:
    return ProviderCreate(slug=slug, name=name, aliases=list(aliases), domains=list(domains))


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("google.com", "google"),
        ("gmail.com", "google"),
        ("googlemail.com", "google"),
        ("youtube.com", "google"),
        ("youtu.be", "google"),
        ("facebook.com", "meta"),
        ("fb.com", "meta"),
        ("instagram.com", "meta"),
        ("whatsapp.com", "whatsapp"),
        ("wa.me", "whatsapp"),
        ("me.com", "apple"),
        ("mac.com", "apple"),
        ("pm.me", "proton"),
        ("protonmail.com", "proton"),
        ("gmx.net", "gmx"),
        ("web.de", "web-de"),
        ("tuta.com", "tuta"),
        ("signal.org", "signal"),
        ("outlook.com", "microsoft"),
        ("hotmail.com", "microsoft"),
        ("live.com", "microsoft"),
        ("skype.com", "microsoft"),
        ("x.com", "x"),
        ("twitter.com", "x"),
        ("t.co", "x"),
        ("t.me", "telegram"),
        ("icloud.com", "apple"),
        ("snapchat.com", "snap"),
        ("tiktok.com", "tiktok"),
        ("discord.com", "discord"),
        ("amazon.com", "amazon"),
        ("dropbox.com", "dropbox"),
        ("proton.me", "proton"),
        ("github.com", "github"),
    ],
)
def test_domain_maps_to_provider(index, value, slug):
    found = index.by_domain(value)
    assert found is not None and found.slug == slug


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("mail.google.com", "google"),  # sub-domain
        ("https://www.instagram.com/some.handle/?hl=en", "meta"),  # URL
        ("https://user:pw@WWW.Facebook.COM:443/profile.php?id=1", "meta"),
        ("suspect@gmail.com", "google"),  # e-mail address
        ("Suspect.Name@HOTMAIL.COM", "microsoft"),
        ("instagram.com/some.handle", "meta"),  # URL without scheme
        ("INSTAGRAM.COM.", "meta"),  # case, trailing dot
        ("someone.github.io", "github"),  # private suffix: registered domain is github.io
        ("console.aws.amazon.com", "amazon"),
        ("https://wa.me/15550100", "whatsapp"),
        ("alice@pm.me", "proton"),
        ("https://t.co/abc123", "x"),
    ],
)
def test_domain_forms(index, value, slug):
    found = index.by_domain(value)
    assert found is not None and found.slug == slug


@pytest.mark.parametrize(
    "value",
    [
        "example.com",
        "notgoogle.com",
        "google.com.evil.example",
        "google.com.evil.com",
        "192.0.2.7",
        "[2001:db8::1]",
        "localhost",
        "",
        "   ",
        "com",
    ],
)
def test_unknown_domains(index, value):
    assert index.by_domain(value) is None


def test_most_specific_domain_wins():
    idx = ProviderIndex(
        [make("big", "Big", domains=["big.com"]), make("sub", "Sub", domains=["mail.big.com"])]
    )
    assert idx.by_domain("x.mail.big.com").slug == "sub"
    assert idx.by_domain("www.big.com").slug == "big"
    assert idx.by_domain("mail.big.com").slug == "sub"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("instagram", "meta"),
        ("Instagram", "meta"),
        ("facebook", "meta"),
        ("WhatsApp", "whatsapp"),
        ("Messenger", "meta"),
        ("gmail", "google"),
        ("YouTube", "google"),
        ("twitter", "x"),
        ("x", "x"),
        ("snapchat", "snap"),
        ("skype", "microsoft"),
        ("instagram.com", "meta"),
        ("Télégram", "telegram"),
    ],
)
def test_by_platform(index, name, slug):
    found = index.by_platform(name)
    assert found is not None and found.slug == slug


@pytest.mark.parametrize("name", ["instagran", "", "myspace", "example.com"])
def test_by_platform_does_not_guess(index, name):
    assert index.by_platform(name) is None


def test_search_typo_faceboo_finds_meta_first(index):
    results = index.search("faceboo")
    assert results[0][0].slug == "meta"


def test_search_typo_gogle_finds_google_first(index):
    assert index.search("gogle")[0][0].slug == "google"


def test_search_accent_insensitive(index):
    provider, score = index.search("Télégram")[0]
    assert provider.slug == "telegram"
    assert score == 100.0


def test_search_alias(index):
    provider, score = index.search("instagram")[0]
    assert provider.slug == "meta" and score == 100.0


@pytest.mark.parametrize(
    ("q", "slug"),
    [
        ("instagram.com", "meta"),
        ("https://mail.google.com/", "google"),
        ("AWS", "amazon"),
        ("Proton Mail", "proton"),
    ],
)
def test_search_domain_and_alias_aware(index, q, slug):
    assert index.search(q)[0][0].slug == slug


def test_search_scores_descend_and_limit(index):
    results = index.search("mail", limit=3)
    assert 0 < len(results) <= 3
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 100 for s in scores)


@pytest.mark.parametrize("q", ["", "   ", "!!!"])
def test_search_blank(index, q):
    assert index.search(q) == []


def test_search_limit_zero(index):
    assert index.search("google", limit=0) == []


def test_exact_beats_prefix_beats_fuzzy():
    idx = ProviderIndex(
        [
            make("telegram", "Telegram"),  # one letter off "telegrm": fuzzy
            make("telegrmx", "Telegrmx Media"),  # starts with "telegrm": prefix
            make("telegrm", "Telegrm"),  # exact
        ]
    )
    results = idx.search("telegrm")
    assert [p.slug for p, _ in results] == ["telegrm", "telegrmx", "telegram"]
    scores = {p.slug: s for p, s in results}
    assert scores["telegrm"] == 100.0
    assert 86.0 <= scores["telegrmx"] < 100.0
    assert 0.0 < scores["telegram"] <= 85.0


def test_conflicting_domain_first_wins_and_is_reported():
    idx = ProviderIndex(
        [make("one", "One", domains=["shared.com"]), make("two", "Two", domains=["shared.com"])]
    )
    assert idx.by_domain("www.shared.com").slug == "one"
    assert ("shared.com", "one", "two") in idx.conflicts


def test_host_without_public_suffix_matches_exactly():
    idx = ProviderIndex([make("intra", "Intra", domains=["mail.corp"])])
    assert idx.by_domain("mail.corp").slug == "intra"
    assert idx.by_domain("x.mail.corp") is None


def test_index_accepts_table_rows():
    rows = [Provider.model_validate(p.model_dump()) for p in load_seed()]
    idx = ProviderIndex(rows)
    found = idx.by_domain("wa.me")
    assert isinstance(found, Provider) and found.slug == "whatsapp"
    assert idx.search("whatsap")[0][0] is found


def test_empty_index():
    idx: ProviderIndex[ProviderCreate] = ProviderIndex([])
    assert len(idx) == 0
    assert idx.by_domain("google.com") is None
    assert idx.search("google") == []


def test_host_of():
    assert host_of("HTTPS://Mail.Google.com:8443/x?y#z") == "mail.google.com"
    assert host_of("a.b@Example.ORG") == "example.org"
    assert host_of("bücher.de") == "xn--bcher-kva.de"
    assert host_of("") is None
    assert host_of("http://[::1") is None


def test_registered_domain():
    assert registered_domain("a.b.google.co.uk") == "google.co.uk"
    assert registered_domain("localhost") is None


def test_no_network_when_extracting(monkeypatch):
    """The bundled public suffix snapshot is used: no socket is opened, even on a fresh extractor."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    matching._extractor.cache_clear()
    try:
        idx = ProviderIndex(load_seed())
        assert idx.by_domain("a.b.google.co.uk") is None
        assert idx.by_domain("mail.google.com").slug == "google"
        assert registered_domain("x.example.co.uk") == "example.co.uk"
    finally:
        matching._extractor.cache_clear()


def test_extractor_is_built_once():
    matching._extractor.cache_clear()
    first = matching._extractor()
    ProviderIndex(load_seed()).by_domain("mail.google.com")
    assert matching._extractor() is first
    assert matching._extractor.cache_info().currsize == 1
