"""The look-up reads 00 as the international prefix and a national number in the unit's country
(issue 21): "0049 151 12345678" is a German mobile, not an IMEI."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth


async def _lookup(client: Any, token: str, identifier: str) -> dict[str, Any]:
    resp = await client.get(
        "/api/v1/lookup", params={"identifier": identifier}, headers=auth(token)
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_international_and_national_numbers(client: Any, tokens: dict[str, str]) -> None:
    found = await _lookup(client, tokens["officer"], "0049 151 12345678")
    assert found["identifier"] == {
        "type": "phone",
        "normalized": "+4915112345678",
        "platform": None,
    }
    assert found["country"] == "DE"
    # The test units are in Cyprus: a Cypriot mobile written nationally.
    found = await _lookup(client, tokens["officer"], "99 123456")
    assert found["identifier"]["normalized"] == "+35799123456"
    assert found["country"] == "CY"


async def test_the_typed_value_decides_the_type(client: Any, tokens: dict[str, str]) -> None:
    found = await _lookup(client, tokens["officer"], "suspect.example@gmail.com")
    assert found["identifier"]["type"] == "email"
    found = await _lookup(client, tokens["officer"], "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert found["identifier"] == {
        "type": "crypto", "normalized": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "platform": "bitcoin",
    }  # fmt: skip
    assert found["route"]["why"].startswith("A bitcoin address")
