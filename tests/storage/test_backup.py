"""`preservation db backup` / `db check`: a consistent copy of a SQLite database taken while the
service is writing, holding everything committed before the backup began."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from preservation.access.auth import create_token
from preservation.cli import main
from preservation.cli.ops import MAX_RESTARTS, backup_sqlite, check_sqlite
from preservation.domain.clock import FrozenClock
from preservation.settings import load_settings
from preservation.storage.db import Database
from preservation.storage.models import PreservationRequest, Reminder, Unit
from preservation.web.app import create_app
from preservation.web.keys import DB
from tests.conftest import auth

PAYLOAD = {"note": "x" * 900}


@pytest.fixture
def db_file(sqlite_template: str, tmp_path: Path) -> Path:
    path = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, path)
    return path


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _seed(db: Database, clock: FrozenClock, *, rows: int) -> int:
    """A unit and `rows` reminder rows of about 1 KB each, so the file has many pages."""
    now = clock.now()
    async with db.write() as session:
        unit = Unit(name="alpha", created_at=now)
        session.add(unit)
        await session.flush()
        session.add_all(
            Reminder(
                unit_id=unit.id,
                kind="note",
                key=f"seed:{i}",
                due_at=now,
                next_attempt_at=now,
                status="delivered",
                payload=PAYLOAD,
                created_at=now,
            )
            for i in range(rows)
        )
        return unit.id  # type: ignore[return-value]


def _has_create_endpoint(app: Any) -> bool:
    return any(
        r.method == "POST" and r.resource is not None and r.resource.canonical == "/api/v1/requests"
        for r in app.router.routes()
    )


@pytest.fixture
async def live(db_file: Path, clock: FrozenClock) -> AsyncIterator[TestClient]:
    settings = load_settings(
        environ={}, database_url=url_of(db_file), load_demo=False, node_name="test-node"
    )
    app = create_app(settings, clock=clock, migrate=False, scheduler=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_backup_while_requests_are_created_holds_every_acknowledged_one(
    live: TestClient, db_file: Path, tmp_path: Path, clock: FrozenClock
) -> None:
    app = live.server.app
    db = app[DB]
    unit_id = await _seed(db, clock, rows=3000)
    async with db.write() as session:
        token = await create_token(
            session, unit="alpha", role="officer", user="officer-a", now=clock.now()
        )
    over_http = _has_create_endpoint(app)
    acknowledged: list[str] = []
    stop = asyncio.Event()
    moved = asyncio.Event()
    committed = threading.Event()

    async def until(count: int) -> None:
        while len(acknowledged) < count:
            moved.clear()
            await moved.wait()

    async def create_one(i: int) -> str:
        """One creation; returns the key of what was committed once the writer saw it commit."""
        if over_http:
            body = {"regime": "budapest-art29", "case_reference": f"CASE-{i}"}
            resp = await live.post("/api/v1/requests", json=body, headers=auth(token))
            assert resp.status == 201, await resp.text()
            return (await resp.json())["reference"]
        # Without the request endpoint: the same kind of write through the storage layer.
        async with db.write() as session:
            session.add(
                Reminder(
                    unit_id=unit_id,
                    kind="note",
                    key=f"live:{i}",
                    due_at=clock.now(),
                    next_attempt_at=clock.now(),
                    payload=PAYLOAD,
                    created_at=clock.now(),
                )
            )
        return f"live:{i}"

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            acknowledged.append(await create_one(i))
            moved.set()
            committed.set()
            i += 1

    task = asyncio.create_task(writer())
    try:
        await until(10)
        before = list(acknowledged)
        target = tmp_path / "backup.db"
        steps = 0

        def interleave(remaining: int, total: int) -> None:
            # Every few steps, let the writer commit before the next one (in the backup's thread).
            nonlocal steps
            steps += 1
            if steps % 8 == 0:
                committed.clear()
                assert committed.wait(timeout=30), "the writer stopped"

        result = await asyncio.to_thread(
            backup_sqlite, db_file, target, step_pages=16, on_step=interleave
        )
        written_during = len(acknowledged) - len(before)
        # A few more after it, so the live file has clearly moved on.
        await until(len(acknowledged) + 5)
    finally:
        stop.set()
        await task
    assert written_during > 0, "the writer should have committed while the backup ran"
    # Commits between steps made SQLite restart the copy; it finished in one step.
    assert result.restarts > 0 and result.one_step

    assert check_sqlite(target) == []
    assert not (tmp_path / "backup.db-wal").exists()
    restored = Database(url_of(target))
    try:
        async with restored.read() as session:
            if over_http:
                have = set((await session.execute(select(PreservationRequest.reference))).scalars())
            else:
                have = set(
                    (
                        await session.execute(
                            select(Reminder.key).where(Reminder.key.like("live:%"))
                        )
                    ).scalars()
                )
            seeded = await session.scalar(
                select(func.count()).select_from(Reminder).where(Reminder.key.like("seed:%"))
            )
    finally:
        await restored.dispose()
    missing = [k for k in before if k not in have]
    assert not missing, f"acknowledged before the backup but not in it: {missing[:5]}"
    # Nothing that was never acknowledged: every row in the copy was committed by the writer.
    assert have <= set(acknowledged)
    assert seeded == 3000
    assert result.pages > 16 and result.bytes == target.stat().st_size


async def test_writers_restarting_the_copy_make_it_finish_in_one_step(
    db_file: Path, tmp_path: Path, clock: FrozenClock
) -> None:
    db = Database(url_of(db_file))
    try:
        unit_id = await _seed(db, clock, rows=500)
    finally:
        await db.dispose()
    writer = sqlite3.connect(db_file, isolation_level=None)
    committed: list[str] = []

    def write_between_steps(remaining: int, total: int) -> None:
        key = f"step:{len(committed)}"
        writer.execute(
            "INSERT INTO reminder (unit_id, kind, key, due_at, status, attempts, "
            "next_attempt_at, late, last_error, created_at) "
            "VALUES (?, 'note', ?, '2026-11-20 12:00:00', 'pending', 0, "
            "'2026-11-20 12:00:00', 0, '', '2026-11-20 12:00:00')",
            (unit_id, key),
        )
        committed.append(key)

    target = tmp_path / "b.db"
    try:
        result = backup_sqlite(db_file, target, step_pages=4, on_step=write_between_steps)
    finally:
        writer.close()
    assert result.one_step and result.restarts == MAX_RESTARTS + 1
    assert check_sqlite(target) == []
    copy = sqlite3.connect(target)
    try:
        keys = {r[0] for r in copy.execute("SELECT key FROM reminder WHERE key LIKE 'step:%'")}
        seeded = copy.execute("SELECT count(*) FROM reminder WHERE key LIKE 'seed:%'").fetchone()
    finally:
        copy.close()
    assert keys == set(committed)  # every one committed before the final step began
    assert seeded == (500,)


async def test_quiet_database_is_copied_in_steps(
    db_file: Path, tmp_path: Path, clock: FrozenClock
) -> None:
    db = Database(url_of(db_file))
    try:
        await _seed(db, clock, rows=300)
    finally:
        await db.dispose()
    result = backup_sqlite(db_file, tmp_path / "b.db", step_pages=8)
    assert (result.restarts, result.one_step) == (0, False)
    assert result.steps > 1
    assert check_sqlite(tmp_path / "b.db") == []


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(db_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRESERVATION_DATABASE_URL", url_of(db_file))
    return db_file


def test_backup_command_refuses_to_overwrite_without_force(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.db"
    target.write_bytes(b"keep me")
    assert main(["db", "backup", str(target)]) == 2
    err = capsys.readouterr().err
    # One error line, after the line naming the database (cli/database.py).
    lines = err.strip().splitlines()
    assert "--force" in err and len(lines) == 2 and lines[0].startswith("preservation: database ")
    assert target.read_bytes() == b"keep me"
    assert main(["db", "backup", str(target), "--force"]) == 0
    assert "backed up" in capsys.readouterr().out
    assert check_sqlite(target) == []
    assert not (tmp_path / "out.db.partial").exists()


def test_backup_command_on_postgresql_points_to_pg_dump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRESERVATION_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1/db")
    assert main(["db", "backup", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and "pg_restore" in err
    assert not (tmp_path / "x.db").exists()


def test_backup_of_a_missing_database_fails_and_creates_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRESERVATION_DATABASE_URL", url_of(tmp_path / "typo.db"))
    assert main(["db", "backup", str(tmp_path / "x.db")]) == 1
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "x.db").exists()


def test_check_command_finds_a_damaged_copy(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "check"]) == 0
    assert "ok" in capsys.readouterr().out
    good = tmp_path / "good.db"
    assert main(["db", "backup", str(good), "--json"]) == 0
    capsys.readouterr()
    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    page = 4096
    # Overwrite the second half of the file (table and index pages) with garbage.
    for offset in range(len(data) // 2, len(data) - page, page):
        data[offset + 8 : offset + 200] = b"\xa5" * 192
    damaged.write_bytes(bytes(data))
    assert main(["db", "check", "--file", str(damaged)]) == 1
    captured = capsys.readouterr()
    assert "failed the integrity check" in captured.err
    assert main(["db", "check", "--file", str(good)]) == 0
