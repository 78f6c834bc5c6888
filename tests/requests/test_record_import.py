"""`preservation request import`: 500 requests sent elsewhere in one file. With some rows bad,
every bad row is reported (row, field, reason, CSV line) and nothing is written; with
--skip-invalid every valid row is recorded; a dry run writes nothing; the command line prints the
directory import's error lines and exits 2."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from preservation.access.auth import Principal
from preservation.requests.record_import import import_records
from preservation.runtime.context import Context
from preservation.settings import load_regimes
from preservation.storage.models import AuditEvent, PreservationRequest, Unit, User
from preservation.web.keys import DB

ROWS = 500
#: row number -> (the change that makes it bad, the field the report must name)
BAD = {
    13: ({"sent_at": "2099-11-25T09:00:00Z"}, "sent_at"),  # in the future
    50: ({"identifiers": "email:not-an-address"}, "identifiers[0].value"),
    101: ({"provider": "nosuchprovider"}, "provider"),
    202: ({"country": "ZZ"}, "country"),
    303: ({"preserved_at": "2026-11-01T00:00:00Z"}, "preserved_at"),  # before the sending
    # The same request as row 403: same case, provider, country and sending.
    404: ({"case_reference": "CY-2026-0403", "sent_at": "2026-11-14T09:00:00Z"}, "sent_at"),
    499: ({"record_only": "false"}, "record_only"),
}
COLUMNS = [
    "case_reference",
    "offence",
    "summary",
    "country",
    "provider",
    "data_categories",
    "sent_at",
    "preserved_at",
    "provider_reference",
    "identifiers",
    "record_only",
]


def row(n: int) -> dict[str, str]:
    day = 1 + n % 15
    out = {
        "case_reference": f"CY-2026-{n:04d}",
        "offence": "Computer fraud",
        "summary": "Phishing campaign; the account sent the lure e-mails.",
        "country": "US",
        "provider": "examplemail",
        "data_categories": "subscriber;traffic",
        "sent_at": f"2026-11-{day:02d}T09:00:00Z",
        "preserved_at": f"2026-11-{day + 1:02d}" if n % 3 == 0 else "",
        "provider_reference": f"LE-{n}" if n % 3 == 0 else "",
        "identifiers": f"email:user{n}@example.com; account:instagram/handle.{n}",
        "record_only": "",
    }
    change, _ = BAD.get(n, ({}, ""))
    out.update(change)
    return out


def csv_file() -> str:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for n in range(1, ROWS + 1):
        writer.writerow(row(n))
    return buffer.getvalue()


async def principal_of(db, unit: str = "alpha", user: str = "officer-a") -> Principal:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        u = (await s.execute(select(Unit).where(Unit.name == unit))).scalar_one()
        p = (
            await s.execute(select(User).where(User.unit_id == u.id, User.name == user))
        ).scalar_one()
    return Principal(user_id=p.id, user_name=p.name, unit_id=u.id, unit_name=u.name, role=p.role)


async def requests_count(db) -> int:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(PreservationRequest))).scalar_one()


async def test_500_rows_with_bad_ones_write_nothing_or_the_valid_ones(  # type: ignore[no-untyped-def]
    client, ready, settings, clock
) -> None:
    db = client.server.app[DB]
    ctx = Context(settings=settings, clock=clock, regimes=load_regimes(settings.regimes_path))
    principal = await principal_of(db)
    content = csv_file()

    report = await import_records(db, ctx=ctx, principal=principal, content=content, fmt="csv")
    assert report.rows == ROWS and not report.written and report.created == []
    by_row = {}
    for e in report.errors:
        by_row.setdefault(e.row, []).append(e.field)
    assert set(by_row) == set(BAD), report.errors
    for number, (_, field) in BAD.items():
        assert field in by_row[number], (number, by_row[number])
    assert all(e.line == e.row + 1 for e in report.errors)  # the CSV header is line 1
    assert any("already recorded" in e.message for e in report.errors if e.row == 404)
    assert await requests_count(db) == 0
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(AuditEvent))).scalar_one() == 0

    done = await import_records(
        db, ctx=ctx, principal=principal, content=content, fmt="csv", skip_invalid=True
    )
    assert done.written and len(done.created) == ROWS - len(BAD)
    assert {e.row for e in done.errors} == set(BAD)
    assert await requests_count(db) == ROWS - len(BAD)
    async with db.read() as s:
        recorded = (
            await s.execute(
                select(PreservationRequest).where(
                    PreservationRequest.case_reference == "CY-2026-0003"
                )
            )
        ).scalar_one()
    assert recorded.record_only and recorded.status == "preserved"
    assert recorded.provider_reference == "LE-3" and recorded.expires_at is not None

    # The beginning of the same file again: every row is already recorded.
    head = "".join(content.splitlines(keepends=True)[:21])
    again = await import_records(
        db, ctx=ctx, principal=principal, content=head, fmt="csv", skip_invalid=True
    )
    assert again.created == [] and await requests_count(db) == ROWS - len(BAD)
    assert {e.row for e in again.errors} == set(range(1, 21))


async def test_a_dry_run_checks_everything_and_writes_nothing(
    client, ready, settings, clock
) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = Context(settings=settings, clock=clock, regimes=load_regimes(settings.regimes_path))
    head = "".join(csv_file().splitlines(keepends=True)[:61])  # rows 1-60: 13 and 50 are bad
    dry = await import_records(
        db, ctx=ctx, principal=await principal_of(db), content=head, fmt="csv", dry_run=True
    )
    assert not dry.written and len(dry.created) == 58
    assert {e.row for e in dry.errors} == {13, 50}
    assert await requests_count(db) == 0


async def test_json_rows_use_the_api_fields(client, ready, settings, clock) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = Context(settings=settings, clock=clock, regimes=load_regimes(settings.regimes_path))
    content = json.dumps(
        [
            {
                "case_reference": "CY-2026-9001",
                "country": "US",
                "provider": "examplemail",
                "sent_at": "2026-11-10T09:00:00",
                "tz": "America/New_York",
                "identifiers": [{"type": "email", "value": "x@example.com"}],
            },
            "not an object",
            {"case_reference": "CY-2026-9002", "record_only": True},
        ]
    )
    report = await import_records(
        db, ctx=ctx, principal=await principal_of(db), content=content, fmt="json"
    )
    assert [(e.row, e.field) for e in report.errors] == [(2, "row"), (3, "sent_at")]
    assert report.errors[0].line is None and not report.written


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_the_command_reports_rows_and_exits_2(client, ready, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sent-elsewhere.csv"
    lines = csv_file().splitlines(keepends=True)
    path.write_text("".join(lines[:60]), encoding="utf-8")  # rows 1-59: two bad (13, 50)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVATION_")}
    env.update({"PRESERVATION_DATABASE_URL": database_url, "PRESERVATION_LOAD_DEMO": "false"})
    base = [sys.executable, "-m", "preservation.cli", "request", "import", str(path)]
    who = ["--unit", "alpha", "--user", "officer-a"]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *who, *extra], env=env, capture_output=True, text=True, timeout=120
        )

    done = await asyncio.to_thread(run)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("preservation: row")]
    assert errors[0].startswith("preservation: row 13 (line 14): sent_at:")
    assert errors[-1].startswith("preservation: row 50 (line 51): identifiers[0].value:")
    assert "nothing written" in done.stdout
    assert await requests_count(client.server.app[DB]) == 0

    done = await asyncio.to_thread(run, "--skip-invalid", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["written"] and len(result["created"]) == 57
    assert await requests_count(client.server.app[DB]) == 57
