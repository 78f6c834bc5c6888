"""The look-up finds the provider from the identifiers units meet: a table of real-looking
identifiers (mail addresses, short links, app links, profile URLs, platform handles), and two
identifiers at least for every provider of the seed that has a domain or a platform. Pure: the
look-up runs on a directory snapshot built from the seed rows (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from preservation.directory.lookup import lookup
from preservation.directory.snapshot import Snapshot
from providers.models import Provider
from providers.seed import load_seed

TODAY = date(2026, 12, 4)


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    rows = [Provider.model_validate(p.model_dump()) for p in load_seed()]
    return Snapshot.build(1, rows, [])


def found(snap: Snapshot, identifier: str) -> str | None:
    body = lookup(snap, identifier=identifier, copy_to_poc=True, today=TODAY, max_age_days=180)
    return body["provider"]["slug"] if body["provider"] else None


TABLE = [
    ("j.doe1987@gmail.com", "google"),
    ("https://youtu.be/dQw4w9WgXcQ", "google"),
    ("https://www.youtube.com/@somechannel", "google"),
    ("instagram:some.handle", "meta"),
    ("https://www.facebook.com/profile.php?id=100012345678901", "meta"),
    ("https://wa.me/4915123456789", "whatsapp"),
    ("whatsapp:+4915123456789", "whatsapp"),
    ("suspect_88@hotmail.com", "microsoft"),
    ("Someone@Outlook.com", "microsoft"),
    ("anna.b@icloud.com", "apple"),
    ("old.user@me.com", "apple"),
    ("https://x.com/somehandle/status/1790000000000000000", "x"),
    ("https://t.co/AbC123xYz", "x"),
    ("https://t.me/somechannel", "telegram"),
    ("telegram:@somehandle", "telegram"),
    ("https://www.tiktok.com/@some.user/video/7300000000000000000", "tiktok"),
    ("snapchat:some_user", "snap"),
    ("discord:someuser", "discord"),
    ("alice.secure@proton.me", "proton"),
    ("alice@pm.me", "proton"),
    ("https://someone.github.io/page", "github"),
    ("https://github.com/someone/repo", "github"),
    ("max.mustermann@gmx.net", "gmx"),
    ("max.mustermann@web.de", "web-de"),
    ("secret@tuta.com", "tuta"),
    ("https://www.reddit.com/user/someone", "reddit"),
    ("https://www.linkedin.com/in/someone-123", "linkedin"),
    ("https://www.paypal.com/paypalme/someone", "paypal"),
    ("https://www.binance.com/en/my/dashboard", "binance"),
    ("https://mega.io/file/AbCdEf#key", "mega"),
    ("https://www.twitch.tv/somestreamer", "twitch"),
    ("https://bsky.app/profile/someone.bsky.social", "bluesky"),
    ("https://vk.com/id123456", "vk"),
    ("user@yandex.com", "yandex"),
    ("someone@mail.com", "mail-com"),
    ("someone@fastmail.com", "fastmail"),
    ("https://www.ovhcloud.com/en/", "ovhcloud"),
    ("https://www.hetzner.com/", "hetzner"),
]


@pytest.mark.parametrize(("identifier", "slug"), TABLE)
def test_real_looking_identifiers_find_their_provider(snap, identifier, slug):
    assert found(snap, identifier) == slug


def identifiers_for(p: Provider) -> list[str]:
    """Identifiers as units meet them: an address or a profile URL on each domain, and the
    platform's handle form."""
    out = []
    for d in p.domains:
        if p.category == "mail":
            out.append(f"j.doe.1987@{d}")
        out.append(f"https://www.{d}/some/profile?id=12345")
        out.append(f"someone@mail.{d}")
    for name in p.platforms or ():
        out.append(f"{name}:some.user_88")
    return out


def test_every_provider_with_a_domain_or_platform_is_found_from_two_identifiers(snap):
    checked = 0
    for p in snap.providers.providers:
        ids = identifiers_for(p)
        if not ids:
            continue
        assert len(ids) >= 2, p.slug
        for identifier in ids:
            assert found(snap, identifier) == p.slug, (p.slug, identifier)
        checked += 1
    assert checked >= 148


def test_look_alikes_find_nothing(snap):
    for identifier in (
        "someone@gmail.co",
        "https://coinbase-support-le.com/x",
        "https://protnn.me/support",  # a look-alike of proton.me
        "https://whatsapp.com.evil.example/x",
    ):
        assert found(snap, identifier) is None, identifier
