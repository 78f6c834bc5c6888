"""Each recipient's letter rests on its own instrument (API), the instruments listed, and the
Budapest hold that starts on the receipt of the MLA request (frozen clock)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from preservation.web.keys import DB
from providers.models import Provider
from tests.conftest import assert_problem, auth
from tests.requests.test_requests_api import URL, body, create, ready  # noqa: F401 - fixture


async def letter(client, token, rid, **params):  # type: ignore[no-untyped-def]
    resp = await client.get(f"{URL}/{rid}/letter", params=params, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return await resp.text()


async def with_entity(client) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Provider)
            .where(Provider.slug == "examplemail")
            .values(
                entities=[
                    {
                        "region": "EEA",
                        "name": "ExampleMail Europe Ltd",
                        "address": "1 Dock Road, Dublin 2, Ireland",
                    },
                    {
                        "region": "default",
                        "name": "ExampleMail Inc.",
                        "address": "1 Main St, Springfield, USA",
                    },
                ]
            )
        )


async def test_every_recipient_has_its_own_instrument_and_letter(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    await with_entity(client)
    data = await create(client, ready["officer"])
    assert data["regime"] == "provider-policy" and data["regime_asked"] is False
    provider, copy = data["recipients"]
    assert provider["role"] == "provider" and provider["instrument"]["key"] == "provider-policy"
    assert copy["role"] == "copy" and copy["instrument"]["key"] == "budapest-art29"
    assert "CY" in copy["instrument"]["why"] and "US" in copy["instrument"]["why"]

    # The provider's letter: under its policy; never Art. 29 nor § 2703(f) for a foreign unit.
    direct = await letter(client, ready["officer"], data["id"], recipient=provider["id"])
    assert "published policy" in direct
    assert "Art. 29" not in direct and "2703" not in direct
    assert await letter(client, ready["officer"], data["id"]) == direct  # the main addressee's
    # The point of contact's letter: Art. 29(1), not less than sixty days, the custodian as a
    # legal entity with its address (the EEA entity: the unit is in Cyprus), the necessity.
    poc = await letter(client, ready["officer"], data["id"], recipient=copy["id"])
    assert "Convention on Cybercrime (ETS No. 185), Art. 29(1)" in poc
    assert "not less than sixty days" in poc and "for 60 days" not in poc
    assert "Custodian of the data: ExampleMail Europe Ltd, 1 Dock Road, Dublin 2, Ireland" in poc
    assert "NECESSITY OF PRESERVATION" in poc and "without preservation the evidence" in poc
    assert "Art. 30(1)" in poc  # traffic data are sought
    assert "Art. 29(6)" in poc
    # T-CY(2018)11 layout: field 4 names the requested authority.
    assert poc.split("Requested authority: ")[1].startswith("US 24/7 point of contact")
    # Another request's recipient is not this one's.
    other = await create(client, ready["officer"])
    resp = await client.get(
        f"{URL}/{data['id']}/letter",
        params={"recipient": other["recipients"][0]["id"]},
        headers=auth(ready["officer"]),
    )
    await assert_problem(resp, 404)


async def test_us_unit_to_us_provider_cites_2703f(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    resp = await client.patch(
        "/api/v1/unit", json={"country": "US"}, headers=auth(ready["supervisor"])
    )
    assert resp.status == 200, await resp.text()
    data = await create(client, ready["officer"])
    assert [r["instrument"]["key"] for r in data["recipients"]] == ["us-2703f"]
    text = await letter(client, ready["officer"], data["id"])
    assert "Legal basis: 18 U.S.C. § 2703(f)(1)" in text and "2711(4)" in text


async def test_unit_country_is_required_to_submit(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from preservation.storage.models import Unit

    async with client.server.app[DB].write() as s:
        await s.execute(update(Unit).values(country=None))
    resp = await client.post(URL, json=body(), headers=auth(ready["officer"]))
    await assert_problem(resp, 422, field="unit.country")
    resp = await client.patch(
        "/api/v1/unit", json={"country": "Atlantis"}, headers=auth(ready["supervisor"])
    )
    await assert_problem(resp, 422, field="country")


async def test_budapest_mla_keeps_the_expiry_until_its_receipt(client, ready, clock) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    token = ready["officer"]
    data = await create(client, token, regime="budapest-art29")
    assert [r["role"] for r in data["recipients"]] == ["poc"]
    rid = data["id"]

    async def post(action: str, payload: dict) -> dict:  # type: ignore[type-arg]
        resp = await client.post(f"{URL}/{rid}/{action}", json=payload, headers=auth(token))
        assert resp.status == 200, await resp.text()
        return await resp.json()

    clock.advance(timedelta(days=2))
    # A date alone is accepted, read on the safe side (start of the day in the US's easternmost
    # zone), and the rule says so.
    got = await post("acknowledge", {"preserved_at": "2026-11-21", "provider_reference": "US-1"})
    assert got["preserved_at"] == "2026-11-21T05:00:00Z"
    assert "given as a date" in got["expiry_rule"] and "safe side" in got["expiry_rule"]
    expiry = got["expires_at"]
    assert expiry.startswith("2027-01-20")  # 60 days from the preservation

    clock.advance(timedelta(days=10))
    got = await post("mla", {"reference": "MLA-7"})
    assert got["expires_at"] == expiry and got["held_until_decision"] is False
    assert "hold starts when the requested State confirms its receipt" in got["expiry_rule"]

    clock.advance(timedelta(days=5))
    got = await post("mla-received", {"received_at": "2026-12-05"})
    assert got["held_until_decision"] is True
    # The US keeps the data under its own law (2703(f)(2): 90 + 90 days): a practical end.
    assert got["expires_at"].startswith("2027-05-20")
    assert "practical end" in got["expiry_rule"] and "2703(f)(2)" in got["expiry_rule"]
    assert {d["kind"] for d in got["deadlines"]} >= {"mla_followup", "expiry"}
    # Receipt is recorded once.
    resp = await client.post(f"{URL}/{rid}/mla-received", json={}, headers=auth(token))
    await assert_problem(resp, 409)


async def test_mla_received_needs_the_mla_request(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await create(client, ready["officer"], regime="budapest-art29")
    resp = await client.post(
        f"{URL}/{data['id']}/mla-received", json={}, headers=auth(ready["officer"])
    )
    await assert_problem(resp, 409)


async def test_instruments_are_listed(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    resp = await client.get("/api/v1/instruments", headers=auth(ready["officer"]))
    assert resp.status == 200
    items = {i["key"]: i for i in (await resp.json())["items"]}
    assert {"budapest-art29", "provider-policy", "us-2703f", "eu-epoc-pr", "domestic"} <= set(items)
    assert items["budapest-art29"]["channel"] == "poc" and items["budapest-art29"]["parties_as_of"]
    assert items["us-2703f"]["requesting_countries"] == ["US"]
    assert items["cets224-art9"]["in_force"] is False


async def test_identifier_of_another_provider_is_warned(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Provider).where(Provider.slug == "mailonly").values(domains=["mailonly.example"])
        )
        from preservation.directory.snapshot import bump_version

        await bump_version(s)
    ids = [{"type": "email", "value": "someone@mailonly.example", "at": "2026-11-19T10:00:00Z"}]
    data = await create(client, ready["officer"], identifiers=ids)  # addressed to ExampleMail
    assert any(
        w.startswith("identifiers[0]:") and "belongs to MailOnly GmbH" in w
        for w in data["warnings"]
    ), data["warnings"]
    own = await create(client, ready["officer"], identifiers=ids, provider="mailonly", country="DE")
    assert not any("belongs to" in w for w in own["warnings"])


async def test_an_extensions_reference_keeps_the_first(client, ready, clock) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from datetime import timedelta as td

    token = ready["officer"]
    resp = await client.patch(
        "/api/v1/unit", json={"country": "US"}, headers=auth(ready["supervisor"])
    )
    assert resp.status == 200
    data = await create(client, token)  # a US unit to a US provider: 2703(f), one renewal
    rid = data["id"]

    async def post(action: str, payload: dict) -> dict:  # type: ignore[type-arg]
        resp = await client.post(f"{URL}/{rid}/{action}", json=payload, headers=auth(token))
        assert resp.status == 200, await resp.text()
        return await resp.json()

    clock.advance(td(days=1))
    await post("acknowledge", {"provider_reference": "FIRST-1"})
    clock.advance(td(days=30))
    got = await post("extend", {})
    assert "extend" not in got["allowed_actions"]  # one is pending
    got = await post("acknowledge", {"provider_reference": "EXT-2"})
    assert got["provider_reference"] == "FIRST-1"
    assert got["extensions"][0]["reference"] == "EXT-2"
