"""Import and export of the directory: validation per row, all-or-nothing, --skip-invalid,
--dry-run, upsert, round trips; through the service, the CLI (a subprocess) and the directory
role's API."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contacts.models import Contact
from preservation.directory.changes import Author
from preservation.directory.io import export_directory, import_directory
from preservation.directory.service import load_demo_if_empty
from preservation.directory.snapshot import current_version
from preservation.errors import InvalidInput
from preservation.storage.db import Database
from providers.models import Provider
from providers.seed import load_seed
from tests.conftest import T0, assert_problem, auth
from tests.e2e.helpers import clean_env, run_cli

BY = Author(actor="ops", unit="", at=T0)
HEADER = "country,authority,network,phones,emails,hours,languages,accepts_preservation,notes,verified_on,source"
GOOD_1 = "ES,Unidad Central de Ciberdelincuencia,24/7,+34 91 000 00 00,ciber@example.org,24/7,es; en,true,,2026-10-01,CoE 24/7 directory 2026-10"
GOOD_2 = 'IT,"Polizia Postale, C.N.A.I.P.I.C.",24/7,+39 06 0000 0000,cnaipic@example.org,24/7,it,true,"night desk: ask for the duty officer",2026-10-01,CoE 24/7 directory 2026-10'
BAD = "XX,Nowhere Unit,24/7,12345,ops@example.org,24/7,en,true,,2026-10-01,"
CSV_WITH_BAD_ROW = "\n".join([HEADER, GOOD_1, BAD, GOOD_2]) + "\n"
CSV_GOOD = "\n".join([HEADER, GOOD_1, GOOD_2]) + "\n"

PROVIDERS_JSON = json.dumps(
    [
        {
            "slug": "examplemail",
            "name": "Example Mail",
            "domains": ["examplemail.net"],
            "country": "ES",
            "le_email": "legal@examplemail.net",
            "accepts_foreign_direct": True,
            "verified_on": "2026-10-01",
        },
        {"slug": "chatly", "name": "Chatly", "aliases": ["chatly messenger"], "country": "EE"},
    ]
)


async def rows(db: Database, table: Any) -> int:
    async with db.read() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def run_import(db: Database, content: str, fmt: str = "csv", **kw: Any):  # type: ignore[no-untyped-def]
    async with db.write() as session:
        return await import_directory(session, content=content, fmt=fmt, by=BY, **kw)  # type: ignore[arg-type]


# --- the service ------------------------------------------------------------------------------


async def test_csv_contacts_import_and_upsert(db: Database) -> None:
    report = await run_import(db, CSV_GOOD)
    assert report.kind == "contacts" and report.written
    assert report.created == [
        "ES/Unidad Central de Ciberdelincuencia",
        "IT/Polizia Postale, C.N.A.I.P.I.C.",
    ]
    async with db.read() as session:
        es = (await session.execute(select(Contact).where(Contact.country == "ES"))).scalar_one()
        version = await current_version(session)
    assert es.phones == ["+34910000000"] and es.languages == ["es", "en"]
    assert es.verified_on == date(2026, 10, 1) and es.demo is False

    # the same file again changes nothing; a newer edition updates one row in place
    again = await run_import(db, CSV_GOOD)
    assert again.unchanged == again.created + again.unchanged and not again.updated
    newer = CSV_GOOD.replace("+34 91 000 00 00", "+34 91 000 00 99")
    report = await run_import(db, newer)
    assert report.updated == ["ES/Unidad Central de Ciberdelincuencia"]
    assert report.unchanged == ["IT/Polizia Postale, C.N.A.I.P.I.C."]
    async with db.read() as session:
        es2 = (await session.execute(select(Contact).where(Contact.country == "ES"))).scalar_one()
        assert await current_version(session) > version
    assert es2.id == es.id and es2.phones == ["+34910000099"]
    assert await rows(db, Contact) == 2


async def test_a_bad_row_is_reported_and_nothing_is_written(db: Database) -> None:
    report = await run_import(db, CSV_WITH_BAD_ROW)
    assert not report.written
    assert {(e.row, e.line, e.field) for e in report.errors} == {
        (2, 3, "country"),
        (2, 3, "phones"),
    }
    assert "XX" in next(e.message for e in report.errors if e.field == "country")
    assert str(report.errors[0]).startswith("row 2 (line 3): ")
    assert await rows(db, Contact) == 0
    async with db.read() as session:
        assert await current_version(session) == 0


async def test_skip_invalid_writes_the_good_rows(db: Database) -> None:
    report = await run_import(db, CSV_WITH_BAD_ROW, skip_invalid=True)
    assert report.written and len(report.created) == 2
    assert {e.row for e in report.errors} == {2}
    assert await rows(db, Contact) == 2


async def test_dry_run_writes_nothing(db: Database) -> None:
    report = await run_import(db, CSV_GOOD, dry_run=True)
    assert report.dry_run and not report.written and len(report.created) == 2
    assert "dry run: nothing written" in report.summary()
    assert await rows(db, Contact) == 0


async def test_json_providers_and_checks_across_rows(db: Database) -> None:
    report = await run_import(db, PROVIDERS_JSON, "json")
    assert report.kind == "providers" and report.created == ["examplemail", "chatly"]
    async with db.read() as session:
        chatly = await session.get(Provider, "chatly")
    assert chatly.notifies_user == "unknown" and chatly.accepts_foreign_direct is None

    bad = [
        {"slug": "dupe", "name": "One"},
        {"slug": "dupe", "name": "Two"},
        {"slug": "grabber", "name": "Grabber", "domains": ["examplemail.net"]},
        {"slug": "odd", "name": "Odd", "colour": "blue"},
        "not an object",
    ]
    report = await run_import(db, json.dumps(bad), "json")
    assert not report.written
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "slug"),
        (3, "domains"),
        (4, "colour"),
        (5, "row"),
    ]
    assert "row 1" in report.errors[0].message and "examplemail" in report.errors[1].message
    assert await rows(db, Provider) == 2


async def test_unreadable_files_raise(db: Database) -> None:
    for content, fmt, field in [
        ("", "csv", "content"),
        ("{", "json", "content"),
        ('{"slug": "x"}', "json", "content"),
        ("name,notes\nA,b\n", "csv", "kind"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            await run_import(db, content, fmt)
        assert exc.value.field == field


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("kind", ["providers", "contacts"])
async def test_export_import_round_trip(db: Database, tmp_path: Path, fmt: str, kind: str) -> None:
    async with db.write() as session:
        await load_demo_if_empty(session, now=T0)
    async with db.read() as session:
        text, count = await export_directory(session, kind=kind, fmt=fmt)  # type: ignore[arg-type]
    assert count == (len(load_seed()) if kind == "providers" else 8)
    report = await run_import(db, text, fmt)
    assert report.kind == kind and len(report.unchanged) == count
    assert not report.created and not report.updated and not report.errors

    # into an empty database: the same rows, the same export
    other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    from preservation.storage.db import upgrade

    await upgrade(other_url)
    other = Database(other_url)
    try:
        assert len((await run_import(other, text, fmt)).created) == count
        async with other.read() as session:
            again, _ = await export_directory(session, kind=kind, fmt=fmt)  # type: ignore[arg-type]
    finally:
        await other.dispose()
    assert again == text


# --- the CLI in a subprocess ------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = clean_env(PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    # Only `db upgrade` (and serve) create a database; the other commands need one.
    assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    return env


@pytest.mark.e2e
def test_cli_import_export_lookup(tmp_path: Path, cli_env: dict[str, str]) -> None:
    bad = tmp_path / "contacts.csv"
    bad.write_text(CSV_WITH_BAD_ROW, encoding="utf-8")
    out = run_cli("directory", "import", str(bad), env=cli_env, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "row 2 (line 3): country:" in out.stderr and "row 2 (line 3): phones:" in out.stderr
    assert "nothing written" in out.stdout

    dry = run_cli(
        "directory", "import", str(bad), "--dry-run", "--skip-invalid", env=cli_env, cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    assert "2 created" in dry.stdout and "dry run" in dry.stdout

    ok = run_cli(
        "directory", "import", str(bad), "--skip-invalid", "--json", env=cli_env, cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["written"] and len(report["created"]) == 2 and report["errors"][0]["row"] == 2

    providers = tmp_path / "providers.json"
    providers.write_text(PROVIDERS_JSON, encoding="utf-8")
    assert run_cli("directory", "import", str(providers), env=cli_env, cwd=tmp_path).returncode == 0

    exported = tmp_path / "export.csv"
    exp = run_cli(
        "directory",
        "export",
        "--kind",
        "providers",
        "--format",
        "csv",
        "--output",
        str(exported),
        env=cli_env,
        cwd=tmp_path,
    )
    assert exp.returncode == 0 and exported.read_text().startswith("slug,name,")
    again = run_cli("directory", "import", str(exported), "--json", env=cli_env, cwd=tmp_path)
    assert json.loads(again.stdout)["unchanged"] == ["chatly", "examplemail"]

    look = run_cli(
        "directory", "lookup", "someone@examplemail.net", "--json", env=cli_env, cwd=tmp_path
    )
    assert look.returncode == 0, look.stderr
    body = json.loads(look.stdout)
    assert body["provider"]["slug"] == "examplemail" and body["route"]["channel"] == "email"
    text = run_cli("directory", "lookup", "+34 91 000 00 01", env=cli_env, cwd=tmp_path)
    assert "country: ES" in text.stdout and "ciber@example.org" in text.stdout
    bad_lookup = run_cli("directory", "lookup", "???", env=cli_env, cwd=tmp_path)
    assert bad_lookup.returncode == 2 and "identifier" in bad_lookup.stderr


# --- the directory role's API ------------------------------------------------------------------------------


async def test_api_import_and_export(client, tokens) -> None:  # type: ignore[no-untyped-def]
    from preservation.web.keys import DB

    db = client.server.app[DB]
    h = auth(tokens["directory"])
    url = "/api/v1/directory/import"
    body = {"format": "csv", "content": CSV_WITH_BAD_ROW}

    problem = await assert_problem(await client.post(url, json=body, headers=h), 422)
    assert {e["field"] for e in problem["errors"]} == {"rows[2].country", "rows[2].phones"}
    assert await rows(db, Contact) == 0

    resp = await client.post(
        url, json=body, params={"dry_run": "true", "skip_invalid": "true"}, headers=h
    )
    assert resp.status == 200, await resp.text()
    dry = await resp.json()
    assert dry["dry_run"] and not dry["written"] and len(dry["created"]) == 2
    assert dry["errors"][0] == {**dry["errors"][0], "row": 2, "line": 3}
    assert await rows(db, Contact) == 0

    resp = await client.post(
        url, json=body, params={"skip_invalid": "1", "kind": "contacts"}, headers=h
    )
    assert resp.status == 200 and (await resp.json())["written"]
    assert await rows(db, Contact) == 2
    # the new contacts are routed to at once
    look = await client.get(
        "/api/v1/lookup", params={"identifier": "+39 06 0000 0001"}, headers=auth(tokens["officer"])
    )
    assert (await look.json())["route"]["to"] == "cnaipic@example.org"

    wrong_kind = await client.post(url, json=body, params={"kind": "providers"}, headers=h)
    await assert_problem(wrong_kind, 422)
    await assert_problem(
        await client.post(url, json={"format": "xml", "content": ""}, headers=h),
        422,
        field="format",
    )

    resp = await client.get(
        "/api/v1/directory/export", params={"kind": "contacts", "format": "csv"}, headers=h
    )
    assert resp.status == 200
    exported = await resp.json()
    assert exported["count"] == 2 and exported["format"] == "csv"
    resp = await client.post(url, json={"format": "csv", "content": exported["content"]}, headers=h)
    result = await resp.json()
    assert len(result["unchanged"]) == 2 and not result["created"] and not result["updated"]


async def test_import_planned_outside_the_writer_sees_a_change_made_meanwhile(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """import_into plans in a read transaction; a change committed before its write makes it
    plan again inside the write transaction: the row another writer created meanwhile is
    updated (not inserted twice), and the change is chained after the other one."""
    from preservation.directory import io as directory_io

    planned = directory_io._prepare

    async def meanwhile(session, **kw):  # type: ignore[no-untyped-def]
        out = await planned(session, **kw)
        if not meanwhile.done:  # type: ignore[attr-defined]
            meanwhile.done = True  # type: ignore[attr-defined]
            async with db.write() as other:
                other.add(Provider(slug="chatly", name="Chatly (added meanwhile)", country="EE"))
        return out

    meanwhile.done = False  # type: ignore[attr-defined]
    monkeypatch.setattr(directory_io, "_prepare", meanwhile)
    report = await directory_io.import_into(
        db, content=PROVIDERS_JSON, fmt="json", kind="providers", by=BY
    )
    assert report.written and not report.errors
    assert report.updated == ["chatly"] and report.created == ["examplemail"]
    async with db.read() as session:
        names = dict((await session.execute(select(Provider.slug, Provider.name))).all())
    assert names["chatly"] == "Chatly" and names["examplemail"] == "Example Mail"


async def test_import_planned_outside_the_writer_writes_what_it_planned(db: Database) -> None:
    from preservation.directory import io as directory_io

    async with db.read() as session:
        before = await current_version(session)
    report = await directory_io.import_into(
        db, content=PROVIDERS_JSON, fmt="json", kind="providers", by=BY
    )
    assert report.written and sorted(report.created) == ["chatly", "examplemail"]
    assert await rows(db, Provider) >= 2
    async with db.read() as session:
        after = await current_version(session)
    assert after > before
    dry = await directory_io.import_into(
        db, content=PROVIDERS_JSON.replace("Chatly", "Chatly 2"), fmt="json", by=BY, dry_run=True
    )
    assert not dry.written and dry.updated == ["chatly"]
    async with db.read() as session:
        name = (
            await session.execute(select(Provider.name).where(Provider.slug == "chatly"))
        ).scalar_one()
    assert name == "Chatly"
