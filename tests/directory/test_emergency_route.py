"""Where an emergency disclosure request goes (directory/routing.py, pure): the provider's
emergency channel where the directory has one, otherwise the requested State's 24/7 point of
contact, its telephone first; each recipient with its instrument."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from contacts.models import Contact
from preservation.directory.routing import Laws, decide_route, emergency_contact
from preservation.settings import load_regimes, load_treaties
from providers.models import Provider

REGIMES = load_regimes()
TREATIES = load_treaties()
TODAY = date(2026, 12, 4)


def provider(slug: str, country: str, emergency: dict | None) -> Provider:
    return Provider(
        slug=slug,
        name=slug.title(),
        country=country,
        portal_url=f"https://le.{slug}.test/",
        accepts_foreign_direct=True,
        emergency_contact=emergency,
        source={"url": f"https://{slug}.test/le", "title": "LE guide", "kind": "provider"},
        verified_on=date(2026, 12, 1),
    )


def poc(country: str, *, phones: list[str], emails: list[str], cid: int = 7) -> Contact:
    return Contact(
        id=cid,
        country=country,
        authority=f"{country} 24/7 point of contact",
        network="24/7",
        phones=phones,
        emails=emails,
        accepts_preservation=True,
        verified_on=date(2026, 12, 1),
    )


def emergency_route(
    prov: Provider | None, contacts: list[Contact], country: str = "US", unit: str = "DE"
):  # type: ignore[no-untyped-def]
    return decide_route(
        provider=prov,
        contacts=contacts,
        country=country,
        copy_to_poc=True,
        today=TODAY,
        staleness_days=180,
        laws=Laws(regimes=REGIMES, treaties=TREATIES, unit_country=unit, kind="emergency"),
    )


US_POC = poc("US", phones=["+12025550100"], emails=["poc@us.example"])


@pytest.mark.parametrize(
    ("channel_of", "channel", "to"),
    [
        (
            {"portal_url": "https://le.meta.test/emergency", "phone": "+16505550199"},
            "portal",
            "https://le.meta.test/emergency",
        ),
        (
            {"email": "emergency@meta.example", "phone": "+16505550199"},
            "email",
            "emergency@meta.example",
        ),
        ({"phone": "+16505550199"}, "phone", "+16505550199"),
    ],
)
def test_the_providers_emergency_channel_where_the_directory_has_one(
    channel_of, channel, to
) -> None:  # type: ignore[no-untyped-def]
    r = emergency_route(provider("meta", "US", channel_of), [US_POC])
    assert [(x.role, x.channel, x.to) for x in r.recipients] == [("provider", channel, to)]
    # No copy to the point of contact, not its preservation address: the emergency channel only.
    assert r.copy_to == ()
    assert r.recipients[0].instrument.key == "us-2702-emergency"
    assert "2702(b)(8)" in r.recipients[0].instrument.citation
    assert [c["phone"] for c in r.call] == ["+16505550199"]
    assert "emergency" in r.why


def test_the_point_of_contact_where_the_provider_has_no_emergency_channel() -> None:
    # Google-like: a portal for preservation, no emergency channel on file.
    r = emergency_route(provider("google", "US", None), [US_POC])
    assert [(x.role, x.channel, x.to) for x in r.recipients] == [("poc", "email", "poc@us.example")]
    assert r.recipients[0].instrument.key == "poc-emergency"
    # Its telephone first: the number to call, and the first words of the reason.
    assert r.call[0]["phone"] == "+12025550100" and r.call[0]["role"] == "poc"
    assert "call +12025550100 first" in r.why
    assert "Google has no emergency channel on file" in r.why


def test_a_point_of_contact_that_only_answers_the_telephone_is_a_call() -> None:
    r = emergency_route(None, [poc("BR", phones=["+5561999990000"], emails=[])], country="BR")
    assert [(x.channel, x.to) for x in r.recipients] == [("phone", "+5561999990000")]


def test_a_point_of_contact_refusing_preservation_still_takes_emergencies() -> None:
    contact = poc("US", phones=["+12025550100"], emails=["poc@us.example"])
    contact.accepts_preservation = False
    r = emergency_route(None, [contact])
    assert r.recipients[0].to == "poc@us.example"


def test_nobody_on_file() -> None:
    r = emergency_route(provider("google", "US", None), [])
    assert r.recipients == () and "no 24/7 point of contact" in r.why


def test_the_emergency_contact_is_read_defensively() -> None:
    assert emergency_contact(None) == {}
    assert emergency_contact(SimpleNamespace()) == {}  # a directory without the field
    assert emergency_contact(SimpleNamespace(emergency_contact=None)) == {}
    assert emergency_contact(
        SimpleNamespace(
            emergency_contact=SimpleNamespace(email=" e@x.example ", portal_url=None, phone="")
        )
    ) == {"email": "e@x.example"}
    assert emergency_contact(SimpleNamespace(emergency_contact={"phone": "+1", "extra": 1})) == {
        "phone": "+1"
    }
