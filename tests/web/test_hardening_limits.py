"""Input limits and hostile bodies on the request API: every free-text field and the identifier
list are capped (422 naming the field, on POST and PATCH, nothing written), long query
parameters, deeply nested and non-object JSON, wrong content types, bad encodings and oversized
headers each get a clear 4xx problem, never a 500. (413 on an oversized body: test_faults.py.)"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from contacts.models import Contact
from preservation.access.auth import create_token
from preservation.storage.models import AuditEvent, PreservationRequest, RequestIdentifier, Unit
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth

URL = "/api/v1/requests"
BODY: dict[str, Any] = {
    "case_reference": "CY-2026-0042",
    "offence": "Computer fraud",
    "summary": "Phishing campaign against a regional bank.",
    "relevance": "The account sent the lure e-mails.",
    "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
    "country": "US",
    "data_categories": ["subscriber", "traffic"],
    "identifiers": [{"type": "email", "value": "suspect@example.com"}],
    "submit": False,
}


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BODY)
    out.update(changes)
    return out


def emails(n: int) -> list[dict[str, str]]:
    return [{"type": "email", "value": f"s{i}@example.com"} for i in range(n)]


@pytest.fixture
async def ready(client, tokens):  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(authority="Cyber", email="cyber@police.example", phone="+35722000000")
        )
        s.add(
            Contact(
                country="US",
                authority="US 24/7 point of contact",
                network="24/7",
                emails=["poc@us.test"],
                phones=["+12025550100"],
                verified_on=date(2026, 10, 1),
            )
        )
    return tokens


async def counts(client) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        found = [
            (await s.execute(select(func.count()).select_from(m))).scalar_one()
            for m in (PreservationRequest, RequestIdentifier, AuditEvent)
        ]
    return found[0], found[1], found[2]


async def draft(client, token: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = await client.post(URL, json=body(), headers=auth(token))
    assert resp.status == 201, await resp.text()
    return await resp.json()


# --- field and count caps --------------------------------------------------------------------

TOO_LONG = [
    ("case_reference", "x" * 201),
    ("offence", "x" * 4001),
    ("summary", "x" * 4001),
    ("relevance", "x" * 4001),
    ("urgency_reason", "x" * 4001),
    ("regime", "x" * 41),
    ("provider", "x" * 65),
    ("lang", "x" * 11),
]


@pytest.mark.parametrize(("field", "value"), TOO_LONG, ids=[f for f, _ in TOO_LONG])
async def test_each_text_field_is_capped_on_create_and_patch(client, ready, field, value) -> None:  # type: ignore[no-untyped-def]
    headers = auth(ready["officer"])
    existing = await draft(client, ready["officer"])
    before = await counts(client)
    await assert_problem(
        await client.post(URL, json=body(**{field: value}), headers=headers), 422, field=field
    )
    await assert_problem(
        await client.patch(f"{URL}/{existing['id']}", json={field: value}, headers=headers),
        422,
        field=field,
    )
    assert await counts(client) == before
    stored = await (await client.get(f"{URL}/{existing['id']}", headers=headers)).json()
    assert stored == existing | {"updated_at": stored["updated_at"]}


@pytest.mark.parametrize(
    ("identifier", "field"),
    [
        ({"type": "email", "value": "x" * 990 + "@example.com"}, "identifiers[0].value"),
        ({"type": "account", "platform": "p" * 101, "value": "h"}, "identifiers[0].platform"),
        ({"type": "ipv4", "value": "203.0.113.7", "at": "2" * 65}, "identifiers[0].at"),
        ({"type": "ipv4", "value": "203.0.113.7", "tz": "Z" * 65}, "identifiers[0].tz"),
        ({"type": "email", "value": "a@example.com", "extra": 1}, "identifiers[0].extra"),
    ],
)
async def test_identifier_fields_are_capped(client, ready, identifier, field) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    resp = await client.post(
        URL, json=body(identifiers=[identifier]), headers=auth(ready["officer"])
    )
    await assert_problem(resp, 422, field=field)
    assert await counts(client) == before


async def test_schema_caps_identifiers_at_fifty(client, ready) -> None:  # type: ignore[no-untyped-def]
    headers = auth(ready["officer"])
    existing = await draft(client, ready["officer"])
    before = await counts(client)
    ok = await client.post(URL, json=body(identifiers=emails(50)), headers=headers)
    assert ok.status == 201, await ok.text()
    after_ok = await counts(client)
    resp = await client.post(URL, json=body(identifiers=emails(51)), headers=headers)
    await assert_problem(resp, 422, field="identifiers")
    resp = await client.patch(
        f"{URL}/{existing['id']}", json={"identifiers": emails(51)}, headers=headers
    )
    await assert_problem(resp, 422, field="identifiers")
    assert await counts(client) == after_ok and after_ok[0] == before[0] + 1


@contextlib.asynccontextmanager
async def client_with(settings, clock, **changes: Any) -> AsyncIterator[tuple[TestClient, str]]:  # type: ignore[no-untyped-def]
    """The app on a test server with changed settings, and an officer's token in alpha."""
    from preservation.web.app import create_app

    app = create_app(
        settings.model_copy(update=changes), clock=clock, migrate=False, scheduler=False
    )
    async with TestClient(TestServer(app)) as test_client:
        async with app[DB].write() as s:
            token = await create_token(s, unit="alpha", role="officer", user="o", now=clock.now())
        yield test_client, token


async def test_max_identifiers_setting_caps_create_and_patch(settings, clock) -> None:  # type: ignore[no-untyped-def]
    async with client_with(settings, clock, max_identifiers=3) as (client, token):
        headers = auth(token)
        ok = await client.post(URL, json=body(identifiers=emails(3)), headers=headers)
        assert ok.status == 201, await ok.text()
        rid = (await ok.json())["id"]
        before = await counts(client)
        body_ = await assert_problem(
            await client.post(URL, json=body(identifiers=emails(4)), headers=headers),
            422,
            field="identifiers",
        )
        assert "at most 3" in body_["errors"][0]["message"]
        await assert_problem(
            await client.patch(f"{URL}/{rid}", json={"identifiers": emails(4)}, headers=headers),
            422,
            field="identifiers",
        )
        assert await counts(client) == before
        got = await (await client.get(f"{URL}/{rid}", headers=headers)).json()
        assert len(got["identifiers"]) == 3


# --- query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{URL}?expiring_within=P{'9' * 5000}D", "query.expiring_within"),
        (f"{URL}?expiring_within=P{'9' * 38}D", "query.expiring_within"),
        (f"{URL}?status={'x' * 5000}", "query.status"),
        (f"{URL}?limit={'9' * 5000}", "query.limit"),
        (f"{URL}?offset=-1", "query.offset"),
        (f"{URL}?nonsense=1", "query.nonsense"),
        (f"/api/v1/deadlines?within=P{'9' * 5000}D", "query.within"),
        (f"/api/v1/deadlines?within=P{'9' * 38}D", "query.within"),
        (f"/api/v1/deadlines.ics?within=PT{'9' * 37}S", "query.within"),
        (f"/api/v1/requests/1/letter?lang={'e' * 5000}", "query.lang"),
        (f"/api/v1/requests/1/letter?format={'x' * 5000}", "query.format"),
    ],
)
async def test_long_or_wrong_query_parameters_are_422(client, ready, path, field) -> None:  # type: ignore[no-untyped-def]
    await assert_problem(await client.get(path, headers=auth(ready["officer"])), 422, field=field)


async def test_long_lookup_identifier_is_a_clear_4xx(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get(
        "/api/v1/lookup", params={"identifier": "a" * 5000}, headers=auth(ready["officer"])
    )
    await assert_problem(resp, 422, field="query.identifier")


async def test_request_line_beyond_the_server_limit_is_refused_and_the_server_stays_up(
    client, ready
) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get(f"{URL}?status={'x' * 20000}", headers=auth(ready["officer"]))
    assert 400 <= resp.status < 500
    resp = await client.get(URL, headers={**auth(ready["officer"]), "X-Big": "y" * 20000})
    assert 400 <= resp.status < 500
    assert (await client.get(URL, headers=auth(ready["officer"]))).status == 200


# --- bodies ----------------------------------------------------------------------------------


def raw(client, path: str, data: bytes, token: str, content_type: str, method: str = "POST"):  # type: ignore[no-untyped-def]
    return client.request(
        method, path, data=data, headers={**auth(token), "Content-Type": content_type}
    )


@pytest.mark.parametrize(
    "data",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"[" * 5000],
    ids=["array", "object", "unterminated"],
)
async def test_deeply_nested_json_is_400(client, ready, data) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    existing = await draft(client, ready["officer"])
    for method, path in (("POST", URL), ("PATCH", f"{URL}/{existing['id']}")):
        resp = await raw(client, path, data, ready["officer"], "application/json", method)
        await assert_problem(resp, 400)
    resp = await raw(
        client, f"{URL}/{existing['id']}/close", data, ready["officer"], "application/json"
    )
    await assert_problem(resp, 400)
    assert (await counts(client))[0] == before[0] + 1


async def test_nesting_inside_a_field_is_422_naming_it(client, ready) -> None:  # type: ignore[no-untyped-def]
    nested: Any = "x"
    for _ in range(500):
        nested = [nested]
    resp = await client.post(URL, json=body(summary=nested), headers=auth(ready["officer"]))
    await assert_problem(resp, 422, field="summary")
    resp = await client.post(
        URL,
        json=body(identifiers=[{"type": "email", "value": nested}]),
        headers=auth(ready["officer"]),
    )
    await assert_problem(resp, 422, field="identifiers[0].value")


@pytest.mark.parametrize("data", [b"[]", b'"text"', b"1", b"null", b"true", b"[{}]"])
async def test_non_object_json_is_422_on_body(client, ready, data) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    existing = await draft(client, ready["officer"])
    for method, path in (
        ("POST", URL),
        ("PATCH", f"{URL}/{existing['id']}"),
        ("POST", f"{URL}/{existing['id']}/close"),
        ("PATCH", "/api/v1/unit"),
    ):
        token = ready["supervisor"] if path.endswith("unit") else ready["officer"]
        resp = await raw(client, path, data, token, "application/json", method)
        await assert_problem(resp, 422, field="body")
    assert (await counts(client))[0] == before[0] + 1


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/x-www-form-urlencoded", b"case_reference=X&regime=budapest-art29"),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
        ),
        ("text/plain", b"hello"),
        ("application/xml", b"<request><regime>budapest-art29</regime></request>"),
        ("application/json", b'{"regime": "budapest-art29",}'),
        ("application/json", b'{"regime": "\xc3\x28"}'),
        ("application/json", b""),
    ],
    ids=[
        "form",
        "multipart",
        "text",
        "xml",
        "trailing-comma",
        "bad-utf8",
        "empty",
    ],
)
async def test_wrong_content_or_encoding_is_400(client, ready, content_type, data) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    resp = await raw(client, URL, data, ready["officer"], content_type)
    body_ = await assert_problem(resp, 400)
    assert "JSON" in body_["detail"]
    assert await counts(client) == before


async def test_body_without_content_type_is_read_as_json(client, ready) -> None:  # type: ignore[no-untyped-def]
    """Bearer tokens, not cookies, authenticate the API, so a cross-site form cannot post to it
    (test_hardening_web.py): a JSON body is taken whatever its declared type."""
    import json

    resp = await raw(client, URL, json.dumps(body()).encode(), ready["officer"], "text/plain")
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"summary": "before\u0000after"}, "summary"),
        ({"case_reference": "\u0000"}, "case_reference"),
        (
            {"identifiers": [{"type": "email", "value": "a@example.com", "tz": "UTC\u0000"}]},
            "identifiers[0].tz",
        ),
    ],
)
async def test_nul_characters_are_422_naming_the_field(client, ready, changes, field) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL cannot store NUL in text: refused at the boundary, on both engines alike."""
    headers = auth(ready["officer"])
    existing = await draft(client, ready["officer"])
    before = await counts(client)
    await assert_problem(
        await client.post(URL, json=body(**changes), headers=headers), 422, field=field
    )
    await assert_problem(
        await client.patch(f"{URL}/{existing['id']}", json=changes, headers=headers),
        422,
        field=field,
    )
    resp = await client.post(
        f"{URL}/{existing['id']}/close",
        json={"outcome": "withdrawn", "note": "x\u0000"},
        headers=headers,
    )
    await assert_problem(resp, 422, field="note")
    resp = await client.get(f"{URL}?expiring_within=P1D%00", headers=headers)
    await assert_problem(resp, 422, field="query.expiring_within")
    assert await counts(client) == before


INJECTIONS = ["' OR '1'='1", "x'); DROP TABLE preservation_request; --", "%", "_", "\\", '"; --']


async def test_sql_meta_characters_are_data(client, ready) -> None:  # type: ignore[no-untyped-def]
    """Statements are parameterised (SQLAlchemy): such text is stored and searched as text."""
    headers = auth(ready["officer"])
    for text in INJECTIONS:
        resp = await client.post(URL, json=body(case_reference=text, summary=text), headers=headers)
        assert resp.status == 201, await resp.text()
        stored = await (
            await client.get(f"{URL}/{(await resp.json())['id']}", headers=headers)
        ).json()
        assert stored["case_reference"] == text and stored["summary"] == text
        for path in ("/api/v1/contacts", "/api/v1/providers"):
            resp = await client.get(path, params={"q": text}, headers=headers)
            # (The directory search is in memory; punctuation alone is an empty query.)
            assert resp.status == 200, (path, text, await resp.text())
        resp = await client.get("/api/v1/lookup", params={"identifier": text}, headers=headers)
        assert resp.status in (200, 422), await resp.text()
    listed = await (await client.get(URL, headers=headers)).json()
    assert len(listed["items"]) == len(INJECTIONS)
    resp = await client.get(URL, params={"status": "draft' OR '1'='1"}, headers=headers)
    await assert_problem(resp, 422, field="query.status")
