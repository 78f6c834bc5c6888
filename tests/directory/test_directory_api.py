"""The directory over HTTP: contacts, providers, the look-up of every identifier type, each
route, search, staleness, and the directory role's writes (roles, validation, conflicts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from contacts.models import Contact
from preservation.directory.service import load_demo_if_empty
from preservation.directory.snapshot import current_version
from preservation.web.api.directory import DIRECTORY
from preservation.web.keys import CLOCK, DB
from providers.models import Provider
from providers.seed import load_seed
from tests.conftest import assert_problem, auth

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture
async def demo(client) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as session:
        loaded = await load_demo_if_empty(session, now=client.server.app[CLOCK].now())
    assert loaded.providers == len(load_seed()) >= 150 and loaded.contacts == 8


async def get(client: Any, path: str, token: str, **params: str) -> dict[str, Any]:
    resp = await client.get(path, params=params, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def lookup(client: Any, token: str, identifier: str, **params: str) -> dict[str, Any]:
    return await get(client, "/api/v1/lookup", token, identifier=identifier, **params)


async def contact_id(client: Any, token: str, country: str) -> int:
    body = await get(client, "/api/v1/contacts", token, country=country)
    return body["items"][0]["id"]


async def count(client: Any, table: Any) -> int:
    async with client.server.app[DB].read() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


# --- reading ----------------------------------------------------------------------------------


async def test_contacts_by_country_and_text(client, tokens) -> None:
    body = await get(client, "/api/v1/contacts", tokens["officer"], country="DE")
    [de] = body["items"]
    assert de["country"] == "DE" and de["phones"] == ["+4930000000"]
    assert de["emails"] == ["poc-de@example.org"] and de["stale"] is False
    assert set(de) >= {
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
    # alpha-3 and English names are countries too; free text finds by country name
    assert (await get(client, "/api/v1/contacts", tokens["officer"], country="DEU"))["items"] == [
        de
    ]
    found = await get(client, "/api/v1/contacts", tokens["officer"], q="germany")
    assert found["items"][0]["id"] == de["id"]
    everything = await get(client, "/api/v1/contacts", tokens["officer"])
    assert len(everything["items"]) == 8


async def test_contacts_bad_country_is_422(client, tokens) -> None:
    resp = await client.get(
        "/api/v1/contacts", params={"country": "Atlantis"}, headers=auth(tokens["officer"])
    )
    await assert_problem(resp, 422, field="country")


async def test_contact_by_id_and_404(client, tokens) -> None:
    cid = await contact_id(client, tokens["officer"], "FR")
    body = await get(client, f"/api/v1/contacts/{cid}", tokens["other_officer"])
    assert body["country"] == "FR" and body["id"] == cid
    for missing in ("999999", "abc", "99999999999999999999", "0"):
        resp = await client.get(f"/api/v1/contacts/{missing}", headers=auth(tokens["officer"]))
        await assert_problem(resp, 404)


async def test_providers_list_search_and_show(client, tokens) -> None:
    body = await get(client, "/api/v1/providers", tokens["officer"])
    assert len(body["items"]) == len(load_seed())
    assert [p["slug"] for p in body["items"]] == sorted(p["slug"] for p in body["items"])
    # a typo finds Meta first; accents and case do not matter; aliases count
    assert (await get(client, "/api/v1/providers", tokens["officer"], q="faceboo"))["items"][0][
        "slug"
    ] == "meta"
    assert (await get(client, "/api/v1/providers", tokens["officer"], q="TÉLÉGRAM"))["items"][0][
        "slug"
    ] == "telegram"
    assert (await get(client, "/api/v1/providers", tokens["officer"], q="gmail"))["items"][0][
        "slug"
    ] == "google"
    google = await get(client, "/api/v1/providers/google", tokens["supervisor"])
    assert google["name"] == "Google" and "gmail.com" in google["domains"]
    assert google["stale"] is False
    assert set(google) >= {
        "slug",
        "name",
        "aliases",
        "domains",
        "country",
        "portal_url",
        "le_email",
        "accepts_foreign_direct",
        "preservation_days",
        "extension_days",
        "max_extensions",
        "notifies_user",
        "emergency",
        "verified_on",
        "source",
        "stale",
    }
    resp = await client.get("/api/v1/providers/nope", headers=auth(tokens["officer"]))
    await assert_problem(resp, 404)


async def test_contacts_search_is_accent_insensitive(client, tokens) -> None:
    resp = await client.post(
        "/api/v1/contacts",
        json={
            "country": "FR",
            "authority": "Office anti-cybercriminalité",
            "emails": ["oc@example.org"],
        },
        headers=auth(tokens["directory"]),
    )
    assert resp.status == 201, await resp.text()
    found = await get(client, "/api/v1/contacts", tokens["officer"], q="CYBERCRIMINALITE")
    assert found["items"][0]["authority"] == "Office anti-cybercriminalité"


async def test_reads_need_a_token(client) -> None:
    for path in ("/api/v1/contacts", "/api/v1/providers", "/api/v1/lookup?identifier=x@gmail.com"):
        await assert_problem(await client.get(path), 401)


# --- look-up: each identifier type ------------------------------------------------------------


@pytest.mark.parametrize("address", ["suspect@gmail.com", "Suspect@GoogleMail.com"])
async def test_lookup_email_gmail_and_googlemail_are_google(client, tokens, address) -> None:
    body = await lookup(client, tokens["officer"], address)
    assert body["identifier"]["type"] == "email"
    assert body["provider"]["slug"] == "google"
    assert body["country"] == "US"
    assert [c["country"] for c in body["contacts"]] == ["US"]
    assert all("stale" in c for c in body["contacts"]) and "stale" in body["provider"]


async def test_lookup_url(client, tokens) -> None:
    body = await lookup(client, tokens["officer"], "https://www.instagram.com/some.handle/")
    assert body["identifier"] == {
        "type": "url",
        "normalized": "https://www.instagram.com/some.handle/",
        "platform": None,
    }
    assert body["provider"]["slug"] == "meta"


async def test_lookup_domain_by_subdomain(client, tokens) -> None:
    body = await lookup(client, tokens["officer"], "Mail.Google.com")
    assert body["identifier"] == {
        "type": "domain",
        "normalized": "mail.google.com",
        "platform": None,
    }
    assert body["provider"]["slug"] == "google"
    hotmail = await lookup(client, tokens["officer"], "hotmail.com", type="domain")
    assert hotmail["provider"]["slug"] == "microsoft"


async def test_lookup_phone_gives_its_country(client, tokens) -> None:
    body = await lookup(client, tokens["officer"], "+49 30 901820")
    assert body["identifier"]["type"] == "phone"
    assert body["identifier"]["normalized"] == "+4930901820"
    assert body["provider"] is None
    assert body["country"] == "DE"
    [de] = body["contacts"]
    assert de["authority"].startswith("DEMO") and de["country"] == "DE"
    assert body["route"]["channel"] == "poc"
    assert body["route"]["to"] == "poc-de@example.org"
    assert "DE" in body["route"]["why"]


@pytest.mark.parametrize(
    ("identifier", "kind"), [("203.0.113.7", "ipv4"), ("2001:DB8:0:0::1", "ipv6")]
)
async def test_lookup_ip_in_reserved_space_has_no_country(client, tokens, identifier, kind) -> None:
    body = await lookup(client, tokens["officer"], identifier)
    assert body["identifier"]["type"] == kind
    assert body["provider"] is None and body["country"] is None and body["contacts"] == []
    assert body["route"]["channel"] == "poc" and body["route"]["to"] == ""
    assert "no State's registered space" in body["route"]["why"]
    if kind == "ipv6":
        assert body["identifier"]["normalized"] == "2001:db8::1"


@pytest.mark.parametrize(
    ("identifier", "country"),
    [
        ("217.160.0.1", "DE"),  # a block RIPE NCC assigned to a German holder
        ("8.8.8.8", "US"),  # ARIN
        ("2001:67c:2e8::2", "NL"),  # RIPE NCC's own IPv6 block
    ],
)
async def test_lookup_ip_gives_the_registered_country_and_its_point_of_contact(
    client, tokens, identifier, country
) -> None:
    """Who had an IP address at an instant is the operator's to say; from abroad, through the
    operator's State's 24/7 point of contact: the State comes from the registries' delegation
    data shipped with the service (no network)."""
    body = await lookup(client, tokens["officer"], identifier)
    assert body["provider"] is None and body["country"] == country
    assert [c["country"] for c in body["contacts"]] == [country]
    assert body["route"]["channel"] == "poc"
    assert body["route"]["to"] == f"poc-{country.lower()}@example.org"
    why = body["route"]["why"]
    assert "regional Internet registries" in why and "operator" in why and country in why


async def test_a_telecom_is_reached_through_its_states_point_of_contact(client, tokens) -> None:
    h = auth(tokens["directory"])
    telco = {
        "slug": "example-telecom",
        "name": "Example Telecom",
        "category": "telecom",
        "domains": ["example-telecom.de"],
        "country": "DE",
        "le_email": "le@example-telecom.de",
        "verified_on": "2026-11-01",
    }
    assert (await client.post("/api/v1/providers", json=telco, headers=h)).status == 201
    body = await lookup(client, tokens["officer"], "someone@example-telecom.de")
    assert body["provider"]["slug"] == "example-telecom"
    assert body["route"]["channel"] == "poc" and body["route"]["to"] == "poc-de@example.org"
    assert "telecom operator" in body["route"]["why"] and "DE" in body["route"]["why"]
    # unless the directory says it takes requests from abroad itself
    resp = await client.put(
        "/api/v1/providers/example-telecom", json={"accepts_foreign_direct": True}, headers=h
    )
    assert resp.status == 200, await resp.text()
    body = await lookup(client, tokens["officer"], "someone@example-telecom.de")
    assert body["route"]["channel"] == "email" and body["route"]["to"] == "le@example-telecom.de"


async def test_lookup_account(client, tokens) -> None:
    body = await lookup(client, tokens["officer"], "instagram:some.handle")
    assert body["identifier"] == {
        "type": "account",
        "normalized": "some.handle",
        "platform": "instagram",
    }
    assert body["provider"]["slug"] == "meta"
    same = await lookup(client, tokens["officer"], "@some.handle", platform="Instagram")
    assert same["provider"]["slug"] == "meta"
    unknown = await lookup(client, tokens["officer"], "someone", type="account", platform="myspace")
    assert unknown["provider"] is None and "myspace" in unknown["route"]["why"]


async def test_lookup_imei(client, tokens) -> None:
    body = await lookup(client, tokens["officer"], "49-015420-323751-8")
    assert body["identifier"] == {"type": "imei", "normalized": "490154203237518", "platform": None}
    assert body["provider"] is None and body["country"] is None
    assert "IMEI" in body["route"]["why"]


async def test_lookup_invalid_input_names_the_field(client, tokens) -> None:
    h = auth(tokens["officer"])
    cases = [
        ({"identifier": "???"}, "identifier"),
        ({"identifier": "someone", "type": "account"}, "platform"),
        ({"identifier": "x@gmail.com", "type": "fax"}, "query.type"),
        ({"identifier": "not a phone", "type": "phone"}, "identifier"),
        ({"identifier": "1234", "type": "imei"}, "identifier"),
        ({}, "query.identifier"),
    ]
    for params, field in cases:
        resp = await client.get("/api/v1/lookup", params=params, headers=h)
        await assert_problem(resp, 422, field=field)


# --- look-up: each route ----------------------------------------------------------------------


async def test_route_portal_with_copy_to_the_poc(client, tokens) -> None:
    us = await contact_id(client, tokens["officer"], "US")
    body = await lookup(client, tokens["officer"], "https://www.instagram.com/some.handle")
    assert body["provider"]["slug"] == "meta"
    assert body["route"] == {
        "channel": "portal",
        "to": "https://www.facebook.com/records",
        "copy_to": [us],
        "why": body["route"]["why"],
    }
    assert "Meta" in body["route"]["why"] and "copied" in body["route"]["why"]


async def test_route_copy_follows_the_units_setting(client, tokens) -> None:
    resp = await client.patch(
        "/api/v1/unit", json={"copy_to_poc": False}, headers=auth(tokens["supervisor"])
    )
    assert resp.status == 200, await resp.text()
    body = await lookup(client, tokens["officer"], "instagram:some.handle")
    assert body["route"]["channel"] == "portal" and body["route"]["copy_to"] == []
    # another unit keeps its own setting
    other = await lookup(client, tokens["other_officer"], "instagram:some.handle")
    assert other["route"]["copy_to"] != []


async def test_route_email_when_the_provider_has_only_an_address(client, tokens) -> None:
    body = await lookup(client, tokens["officer"], "https://www.cloudflare.com/x")
    assert body["provider"]["slug"] == "cloudflare"
    assert body["route"]["channel"] == "email"
    assert body["route"]["to"] == "abuse+law@cloudflare.com"


@pytest.mark.parametrize(
    ("identifier", "reason"),
    [
        ("gmx.net", "does not take"),  # not direct
        ("gmail.com", "does not know whether"),  # unknown
        ("example.net", "No provider in the directory serves example.net"),  # not in directory
    ],
)
async def test_route_poc(client, tokens, identifier, reason) -> None:
    body = await lookup(client, tokens["officer"], identifier)
    assert body["route"]["channel"] == "poc"
    assert reason in body["route"]["why"]
    if body["provider"] is not None:
        country = body["provider"]["country"].lower()
        assert body["route"]["to"] == f"poc-{country}@example.org"
        assert body["route"]["copy_to"] == []


# --- staleness --------------------------------------------------------------------------------


async def test_stale_after_the_configured_age(client, tokens, clock) -> None:
    body = await lookup(client, tokens["officer"], "someone@gmail.com")
    assert body["provider"]["stale"] is False and body["contacts"][0]["stale"] is False
    # T0 + 200 d is 2027-06-08: 186 days after the demo contacts' check (2026-11-24), 186
    # after the providers' reading (2026-12-04)
    clock.advance(timedelta(days=200))
    body = await lookup(client, tokens["officer"], "someone@gmail.com")
    assert body["provider"]["stale"] is True and body["contacts"][0]["stale"] is True
    listed = await get(client, "/api/v1/providers", tokens["officer"])
    assert all(p["stale"] for p in listed["items"])
    contacts = await get(client, "/api/v1/contacts", tokens["officer"])
    assert all(c["stale"] for c in contacts["items"])
    assert (await get(client, "/api/v1/providers/meta", tokens["officer"]))["stale"] is True


async def test_stale_when_verified_on_moves_back(client, tokens) -> None:
    resp = await client.put(
        "/api/v1/providers/meta",
        json={"verified_on": "2020-01-01"},
        headers=auth(tokens["directory"]),
    )
    assert resp.status == 200 and (await resp.json())["stale"] is True
    body = await lookup(client, tokens["officer"], "instagram:x")
    assert body["provider"]["stale"] is True
    assert (await lookup(client, tokens["officer"], "gmail.com"))["provider"]["stale"] is False


# --- the directory role's writes -----------------------------------------------------------------------

NEW_CONTACT = {
    "country": "es",
    "authority": "  Unidad   Central de Ciberdelincuencia ",
    "phones": ["0034 91 000 00 00"],
    "emails": ["ciber@example.org"],
    "languages": ["Spanish", "en"],
    "verified_on": "2026-11-01",
}

NEW_PROVIDER = {
    "slug": "examplemail",
    "name": "Example Mail",
    "aliases": ["ExMail"],
    "domains": ["examplemail.net", "exmail.org"],
    "country": "es",
    "le_email": "legal@examplemail.net",
    "accepts_foreign_direct": True,
    "verified_on": "2026-11-01",
}


async def test_contact_create_update_delete(client, tokens, clock) -> None:
    app = client.server.app
    h = auth(tokens["directory"])
    async with app[DB].read() as session:
        v0 = await current_version(session)
    resp = await client.post("/api/v1/contacts", json=NEW_CONTACT, headers=h)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["country"] == "ES"
    assert created["authority"] == "Unidad Central de Ciberdelincuencia"
    assert created["phones"] == ["+34910000000"] and created["languages"] == ["es", "en"]
    assert created["stale"] is False and created["network"] == "24/7"
    cid = created["id"]
    async with app[DB].read() as session:
        assert await current_version(session) > v0

    # visible at once to searches and to the route of a Spanish phone number
    assert (await get(client, "/api/v1/contacts", tokens["officer"], country="ES"))["items"][0][
        "id"
    ] == cid
    route = (await lookup(client, tokens["officer"], "+34 91 000 00 01"))["route"]
    assert route["channel"] == "poc" and route["to"] == "ciber@example.org"

    resp = await client.put(
        f"/api/v1/contacts/{cid}", json={"hours": "Mon-Fri 8-20", "notes": "x"}, headers=h
    )
    assert resp.status == 200, await resp.text()
    updated = await resp.json()
    assert updated["hours"] == "Mon-Fri 8-20" and updated["emails"] == ["ciber@example.org"]

    resp = await client.delete(f"/api/v1/contacts/{cid}", headers=h)
    assert resp.status == 204
    await assert_problem(await client.get(f"/api/v1/contacts/{cid}", headers=h), 404)
    await assert_problem(await client.delete(f"/api/v1/contacts/{cid}", headers=h), 404)
    assert (await get(client, "/api/v1/contacts", tokens["officer"], country="ES"))["items"] == []


async def test_contact_writes_reject_and_leave_nothing(client, tokens) -> None:
    h = auth(tokens["directory"])
    before = await count(client, Contact)
    bad = {**NEW_CONTACT, "country": "XX", "phones": ["12345"], "emails": ["nope"]}
    body = await assert_problem(await client.post("/api/v1/contacts", json=bad, headers=h), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"country", "phones", "emails"} <= fields
    missing = await client.post("/api/v1/contacts", json={"country": "ES"}, headers=h)
    await assert_problem(missing, 422, field="authority")
    await assert_problem(await client.post("/api/v1/contacts", data=b"{not json", headers=h), 400)
    assert await count(client, Contact) == before

    # the natural key (country, authority) is unique
    assert (await client.post("/api/v1/contacts", json=NEW_CONTACT, headers=h)).status == 201
    dup = await client.post("/api/v1/contacts", json=NEW_CONTACT, headers=h)
    await assert_problem(dup, 409, field="authority")
    assert await count(client, Contact) == before + 1

    de = await contact_id(client, tokens["officer"], "DE")
    resp = await client.put(f"/api/v1/contacts/{de}", json={"phones": ["+49 1"]}, headers=h)
    await assert_problem(resp, 422, field="phones")
    resp = await client.put(f"/api/v1/contacts/{de}", json={"country": None}, headers=h)
    await assert_problem(resp, 422, field="country")
    clash = {"country": "ES", "authority": "Unidad Central de Ciberdelincuencia"}
    await assert_problem(await client.put(f"/api/v1/contacts/{de}", json=clash, headers=h), 409)
    assert (await get(client, f"/api/v1/contacts/{de}", tokens["officer"]))["country"] == "DE"


async def test_provider_create_update_delete(client, tokens) -> None:
    h = auth(tokens["directory"])
    resp = await client.post("/api/v1/providers", json=NEW_PROVIDER, headers=h)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["country"] == "ES" and created["stale"] is False
    assert created["notifies_user"] == "unknown"

    body = await lookup(client, tokens["officer"], "someone@mx.exmail.org")
    assert body["provider"]["slug"] == "examplemail"
    assert body["route"]["channel"] == "email" and body["route"]["to"] == "legal@examplemail.net"
    found = await get(client, "/api/v1/providers", tokens["officer"], q="exmail")
    assert found["items"][0]["slug"] == "examplemail"

    resp = await client.put(
        "/api/v1/providers/examplemail",
        json={"portal_url": "https://portal.examplemail.net/le"},
        headers=h,
    )
    assert resp.status == 200, await resp.text()
    body = await lookup(client, tokens["officer"], "examplemail.net")
    assert body["route"] == {
        **body["route"],
        "channel": "portal",
        "to": "https://portal.examplemail.net/le",
    }

    assert (await client.delete("/api/v1/providers/examplemail", headers=h)).status == 204
    body = await lookup(client, tokens["officer"], "examplemail.net")
    assert body["provider"] is None
    await assert_problem(await client.get("/api/v1/providers/examplemail", headers=h), 404)


async def test_provider_writes_reject_and_leave_nothing(client, tokens) -> None:
    h = auth(tokens["directory"])
    before = await count(client, Provider)
    bad = {
        **NEW_PROVIDER,
        "slug": "Bad Slug!",
        "domains": ["not a domain"],
        "notifies_user": "often",
    }
    body = await assert_problem(await client.post("/api/v1/providers", json=bad, headers=h), 422)
    assert {"slug", "domains", "notifies_user"} <= {e["field"] for e in body["errors"]}
    dup = {**NEW_PROVIDER, "slug": "google"}
    await assert_problem(
        await client.post("/api/v1/providers", json=dup, headers=h), 409, field="slug"
    )
    clash = {**NEW_PROVIDER, "domains": ["gmail.com"]}
    await assert_problem(
        await client.post("/api/v1/providers", json=clash, headers=h), 409, field="domains"
    )
    assert await count(client, Provider) == before
    resp = await client.put("/api/v1/providers/meta", json={"domains": ["gmail.com"]}, headers=h)
    await assert_problem(resp, 409, field="domains")
    resp = await client.put("/api/v1/providers/meta", json={"preservation_days": 0}, headers=h)
    await assert_problem(resp, 422, field="preservation_days")
    resp = await client.put("/api/v1/providers/nope", json={"name": "x"}, headers=h)
    await assert_problem(resp, 404)
    assert (await get(client, "/api/v1/providers/meta", tokens["officer"]))[
        "preservation_days"
    ] == 90


@pytest.mark.parametrize("role", ["officer", "supervisor", "admin", "other_officer"])
async def test_writes_are_the_directory_roles_alone(client, tokens, role) -> None:
    """The directory is shared by every unit: no unit's role, its admin's included, changes it
    (one unit's admin could otherwise re-route every other unit's letters)."""
    h = auth(tokens[role])
    de = await contact_id(client, tokens["officer"], "DE")
    calls = [
        client.post("/api/v1/contacts", json=NEW_CONTACT, headers=h),
        client.put(f"/api/v1/contacts/{de}", json={"hours": "never"}, headers=h),
        client.delete(f"/api/v1/contacts/{de}", headers=h),
        client.post("/api/v1/providers", json=NEW_PROVIDER, headers=h),
        client.put("/api/v1/providers/meta", json={"name": "x"}, headers=h),
        client.delete("/api/v1/providers/meta", headers=h),
        client.post(
            "/api/v1/directory/import", json={"format": "json", "content": "[]"}, headers=h
        ),
    ]
    if role != "admin":  # the admin may read the whole directory (export), not change it
        calls.append(
            client.get("/api/v1/directory/export", params={"kind": "providers"}, headers=h)
        )
    for call in calls:
        await assert_problem(await call, 403)
    assert (await get(client, "/api/v1/providers/meta", tokens["officer"]))["name"] == "Meta"
    assert await count(client, Contact) == 8
    changes = await get(client, "/api/v1/directory/changes", tokens["officer"])
    assert [c["action"] for c in changes["items"]] == ["load"]  # the demo load alone


async def test_another_nodes_change_is_seen(client, tokens, settings) -> None:
    """A write through another node (another Database) bumps the version; this node's snapshot
    follows once its short recheck interval has passed (here: forced)."""
    from preservation.directory.changes import Author
    from preservation.directory.service import delete_provider
    from preservation.storage.db import Database
    from tests.conftest import T0

    await lookup(client, tokens["officer"], "gmail.com")
    other = Database(settings.database_url)
    try:
        async with other.write() as session:
            await delete_provider(session, "google", by=Author(actor="ops", unit="", at=T0))
    finally:
        await other.dispose()
    client.server.app[DIRECTORY].invalidate()  # what the recheck interval does after 0.5 s
    assert (await lookup(client, tokens["officer"], "gmail.com"))["provider"] is None


async def test_openapi_describes_the_directory(client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/contacts",
        "/api/v1/contacts/{id}",
        "/api/v1/providers",
        "/api/v1/providers/{slug}",
        "/api/v1/lookup",
        "/api/v1/directory/import",
        "/api/v1/directory/export",
        "/api/v1/directory/changes",
    ):
        assert path in spec["paths"], path
    assert {"LookupResult", "ProviderPublic", "ContactPublic"} <= set(spec["components"]["schemas"])


@pytest.mark.parametrize(
    "identifier", ["x@gmail.com", "+49 30 901820", "203.0.113.7", "instagram:x", "example.net"]
)
async def test_lookup_answer_is_exactly_the_documented_model(client, tokens, identifier) -> None:
    from preservation.directory.lookup import LookupResult

    body = await lookup(client, tokens["officer"], identifier)
    assert LookupResult.model_validate(body).model_dump(mode="json") == body
