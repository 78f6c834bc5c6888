"""Unit isolation, as a property: whatever requests several units create and move on, no read,
list, letter (every format), audit trail, recipient list, deadline list or calendar feed of one
unit ever shows another unit's reference, case reference, summary or identifier values, for
every role; another unit's request is 404 (never 403) on every per-request endpoint, the
transitions and PATCH included, and such an attempt changes nothing. The pages likewise."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from contacts.models import Contact
from preservation.access.auth import create_token
from preservation.storage.models import Unit
from preservation.web.keys import DB
from providers.models import Provider
from tests.conftest import assert_problem, auth

URL = "/api/v1/requests"
UNITS = ("alpha", "beta", "gamma")
ROLES = ("officer", "supervisor", "admin")
REQUEST_ROLES = ("officer", "supervisor")
#: How far each request is taken after creation.
STAGES = ("draft", "queued", "preserved", "mla_sent", "closed")
LETTER_FORMATS = ("text", "html", "json", "pdf")
_serial = itertools.count(1)


@dataclass(kw_only=True)
class Made:
    id: int
    unit: str
    reference: str
    #: Strings that belong to this request alone (no one is a substring of another's).
    markers: list[str]
    ipv4: str
    recipient_ids: list[int]


@dataclass(kw_only=True)
class World:
    tokens: dict[tuple[str, str], str]
    made: list[Made] = field(default_factory=list)

    def of(self, unit: str) -> list[Made]:
        return [m for m in self.made if m.unit == unit]

    def foreign(self, unit: str) -> list[Made]:
        return [m for m in self.made if m.unit != unit]


@pytest.fixture
async def world(client, clock) -> World:  # type: ignore[no-untyped-def]
    """Three units with a token per role each, and a directory that routes to e-mail."""
    db = client.server.app[DB]
    tokens: dict[tuple[str, str], str] = {}
    async with db.write() as s:
        for unit in UNITS:
            for role in ROLES:
                tokens[(unit, role)] = await create_token(
                    s, unit=unit, role=role, user=f"{role}-{unit}", now=clock.now()
                )
        await s.execute(
            update(Unit).values(
                country="CY",
                authority="Cybercrime Unit",
                email="cyber@police.example",
                phone="+35722000000",
                timezone="Europe/Berlin",
            )
        )
        s.add_all(
            [
                Provider(
                    slug="examplemail",
                    name="ExampleMail Inc.",
                    country="US",
                    le_email="lert@examplemail.test",
                    accepts_foreign_direct=True,
                    notifies_user="never",
                    verified_on=date(2026, 10, 1),
                ),
                Contact(
                    country="US",
                    authority="US 24/7 point of contact",
                    network="24/7",
                    emails=["poc@us.test"],
                    phones=["+12025550100"],
                    verified_on=date(2026, 10, 1),
                ),
            ]
        )
        from preservation.directory.snapshot import bump_version

        await bump_version(s)
    return World(tokens=tokens)


def request_body(unit: str, n: int, *, submit: bool) -> tuple[dict[str, Any], list[str], str]:
    tag = f"q{unit}{n:05d}z"
    ipv4 = f"198.51.{100 + n // 250}.{n % 250 + 1}"
    body = {
        "case_reference": f"CASE-{tag}",
        "offence": "Computer fraud",
        "summary": f"Summary {tag}-sum of the facts.",
        "relevance": f"Relevance {tag}-rel.",
        "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
        "country": "US",
        "provider": "examplemail",
        "data_categories": ["subscriber", "traffic"],
        "urgent": True,
        "urgency_reason": "The account may be deleted tonight.",
        "identifiers": [
            {"type": "email", "value": f"{tag}@example.com"},
            {"type": "account", "platform": "instagram", "value": f"{tag}.handle"},
            {"type": "url", "value": f"https://example.com/u/{tag}"},
            {"type": "ipv4", "value": ipv4, "at": "2026-11-19T14:03:11", "tz": "Europe/Berlin"},
        ],
        "submit": submit,
    }
    return body, [tag], ipv4


async def make(client, world: World, unit: str, stage: str) -> Made:  # type: ignore[no-untyped-def]
    n = next(_serial)
    token = world.tokens[(unit, "officer")]
    body, markers, ipv4 = request_body(unit, n, submit=stage != "draft")
    resp = await client.post(URL, json=body, headers=auth(token))
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    rid = data["id"]
    steps: list[tuple[str, dict[str, Any]]] = []
    if stage in ("preserved", "mla_sent", "closed"):
        steps.append(("acknowledge", {"provider_reference": f"ACK-{markers[0]}"}))
    if stage == "mla_sent":
        steps.append(("mla", {"reference": f"MLA-{markers[0]}"}))
    if stage == "closed":
        steps.append(("close", {"outcome": "produced", "note": f"note {markers[0]}"}))
    for action, payload in steps:
        resp = await client.post(f"{URL}/{rid}/{action}", json=payload, headers=auth(token))
        assert resp.status == 200, await resp.text()
    recipients = await (await client.get(f"{URL}/{rid}/recipients", headers=auth(token))).json()
    made = Made(
        id=rid,
        unit=unit,
        reference=data["reference"],
        markers=[data["reference"], *markers],
        ipv4=ipv4,
        recipient_ids=[r["id"] for r in recipients["items"]],
    )
    world.made.append(made)
    return made


def leaks(text: str, others: list[Made]) -> list[str]:
    """Every marker of `others` found in `text` (an IPv4 address only as a whole address)."""
    found = [m for made in others for m in made.markers if m in text]
    for made in others:
        if re.search(rf"(?<![\d.]){re.escape(made.ipv4)}(?![\d])", text):
            found.append(made.ipv4)
    return found


def reads_of_unit() -> list[str]:
    """Every unit-wide read of the API (no request id in the path)."""
    return [
        URL,
        f"{URL}?expiring_within=P3650D",
        f"{URL}?limit=500",
        *(f"{URL}?status={s}" for s in STAGES),
        "/api/v1/deadlines?within=P3650D",
        "/api/v1/deadlines",
        "/api/v1/deadlines.ics",
        "/api/v1/deadlines.ics?within=P3650D",
        "/api/v1/unit",
        "/api/v1/me",
    ]


def per_request_calls(made: Made) -> list[tuple[str, str, Any]]:
    """Every endpoint that names one request: (method, path, JSON body or None)."""
    base = f"{URL}/{made.id}"
    rid = made.recipient_ids[0] if made.recipient_ids else 1
    calls: list[tuple[str, str, Any]] = [
        ("GET", base, None),
        ("GET", f"{base}/events", None),
        ("GET", f"{base}/recipients", None),
        *(("GET", f"{base}/letter?format={f}", None) for f in LETTER_FORMATS),
        ("PATCH", base, {"summary": "hijacked"}),
        ("POST", f"{base}/submit", {}),
        ("POST", f"{base}/acknowledge", {"provider_reference": "hijacked"}),
        ("POST", f"{base}/extend", {}),
        ("POST", f"{base}/mla", {"reference": "hijacked"}),
        ("POST", f"{base}/close", {"outcome": "withdrawn", "note": "hijacked"}),
        ("POST", f"{base}/recipients/{rid}/submitted", {"portal_reference": "hijacked"}),
    ]
    return calls


async def snapshot(client, world: World, made: Made) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    """What the owner sees of a request: its record and audit trail."""
    token = world.tokens[(made.unit, "supervisor")]
    record = await (await client.get(f"{URL}/{made.id}", headers=auth(token))).json()
    events = await (await client.get(f"{URL}/{made.id}/events", headers=auth(token))).json()
    recipients = await (await client.get(f"{URL}/{made.id}/recipients", headers=auth(token))).json()
    return record, events, recipients


async def check_world(client, world: World, new: list[Made]) -> None:  # type: ignore[no-untyped-def]
    for unit in UNITS:
        others = world.foreign(unit)
        own = world.of(unit)
        for role in ROLES:
            headers = auth(world.tokens[(unit, role)])
            # Unit-wide reads: never another unit's data; the own requests in the list.
            for path in reads_of_unit():
                resp = await client.get(path, headers=headers)
                text = await resp.text()
                if role == "admin" and path.startswith((URL, "/api/v1/deadlines")):
                    # Request data, deadlines and feeds included, is not the admin's (issue 16).
                    await assert_problem(resp, 403)
                else:
                    assert resp.status == 200, (path, role, text[:500])
                assert leaks(text, others) == [], (unit, role, path)
                if path == URL and role in REQUEST_ROLES:
                    listed = {item["reference"] for item in (await resp.json())["items"]}
                    assert listed == {m.reference for m in own}
            # Own requests: readable by officers and supervisors, in every letter format.
            if role in REQUEST_ROLES:
                for made in (m for m in new if m.unit == unit):
                    for method, path, _ in per_request_calls(made)[:7]:
                        resp = await client.request(method, path, headers=headers)
                        assert resp.status == 200, (path, await resp.text())
                        if "format=pdf" not in path:
                            assert leaks(await resp.text(), others) == [], (unit, role, path)
            # Another unit's request: 404 for officers and supervisors on every endpoint;
            # the admin role has no access to requests at all (403 whatever the id).
            for made in (m for m in new if m.unit != unit):
                for method, path, payload in per_request_calls(made):
                    resp = await client.request(method, path, json=payload, headers=headers)
                    expected = 403 if role == "admin" else 404
                    body = await assert_problem(resp, expected)
                    assert leaks(await resp.text(), [made]) == [], (unit, role, path)
                    if role == "admin":
                        # The same answer as for an id that does not exist: no oracle.
                        missing = path.replace(f"/{made.id}", "/999999", 1)
                        other = await client.request(method, missing, json=payload, headers=headers)
                        assert other.status == 403 and (await other.json()) == body


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(UNITS), st.sampled_from(STAGES)), min_size=1, max_size=3
    )
)
async def test_no_unit_sees_another_units_requests(client, world, plan) -> None:  # type: ignore[no-untyped-def]
    """Requests accumulate across the examples (one database per test), so later examples check
    isolation against everything made before as well."""
    new = [await make(client, world, unit, stage) for unit, stage in plan]
    before = {m.id: await snapshot(client, world, m) for m in new}
    await check_world(client, world, new)
    # Every refused attempt by another unit left the request exactly as it was.
    for made in new:
        assert await snapshot(client, world, made) == before[made.id]


# --- the pages --------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def signed_in_client(client, token: str):  # type: ignore[no-untyped-def]
    """The test client as a browser signed in with `token` (a fresh cookie jar)."""
    browser = client
    browser.session.cookie_jar.clear()
    resp = await browser.get("/signin")
    csrf = CSRF.search(await resp.text())[1]
    resp = await browser.post(
        "/signin", data={"csrf": csrf, "token": token, "next": "/"}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    return browser


async def test_pages_show_nothing_of_another_unit(client, world) -> None:  # type: ignore[no-untyped-def]
    for unit, stage in [("alpha", "draft"), ("alpha", "preserved"), ("beta", "queued")]:
        await make(client, world, unit, stage)
    beta = world.of("beta")[0]
    for role in REQUEST_ROLES:
        browser = await signed_in_client(client, world.tokens[("alpha", role)])
        try:
            for path in ("/", "/requests", "/requests?status=queued", "/requests/new"):
                resp = await browser.get(path)
                text = await resp.text()
                assert resp.status == 200, (path, text[:500])
                assert leaks(text, [beta]) == [], (role, path)
            own = world.of("alpha")[0]
            assert (await browser.get(f"/requests/{own.id}")).status == 200
            for path in (
                f"/requests/{beta.id}",
                f"/requests/{beta.id}/letter.html",
                f"/requests/{beta.id}/letter.txt",
                f"/requests/{beta.id}/letter.pdf",
            ):
                resp = await browser.get(path)
                assert resp.status == 404, (path, resp.status)
                assert leaks(await resp.text(), [beta]) == [], path
            page = await (await browser.get("/requests/new")).text()
            csrf = CSRF.search(page)[1]
            for action in ("close", "acknowledge", "submit", "extend", "mla"):
                resp = await browser.post(
                    f"/requests/{beta.id}/{action}",
                    data={"csrf": csrf, "outcome": "withdrawn"},
                    allow_redirects=False,
                )
                assert resp.status == 404, (action, resp.status, (await resp.text())[:300])
            rid = beta.recipient_ids[0]
            resp = await browser.post(
                f"/requests/{beta.id}/recipients/{rid}/submitted",
                data={"csrf": csrf},
                allow_redirects=False,
            )
            assert resp.status == 404
        finally:
            browser.session.cookie_jar.clear()
    snap = await snapshot(client, world, beta)
    assert snap[0]["status"] == "queued"
    assert [e["action"] for e in snap[1]["items"]] == ["create", "submit"]
