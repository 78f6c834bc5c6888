"""Issue 16: the files the service creates hold case data and the webhook secret; they are
readable by their owner only (0600), whatever the umask: the SQLite database with its -wal and
-shm files (new or already there), backups and exports."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from preservation.cli.ops import backup_sqlite
from preservation.storage.db import Database, upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    yield
    os.umask(old)


async def _write(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as s:
            await s.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            await s.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await db.dispose()


async def test_a_new_database_and_its_side_files_are_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "new.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    assert mode(path) == 0o600
    db = Database(url)
    try:
        async with db.write() as s:
            await s.execute(text("CREATE TABLE t (x INTEGER)"))
        wal = path.with_name("new.db-wal")
        shm = path.with_name("new.db-shm")
        assert wal.exists() and shm.exists()
        assert (mode(wal), mode(shm)) == (0o600, 0o600)
    finally:
        await db.dispose()


async def test_an_existing_readable_database_is_narrowed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await _write(url)
    for p in tmp_path.iterdir():
        os.chmod(p, 0o644)
    await _write(url)
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
        p.name: 0o600 for p in tmp_path.iterdir()
    }


async def test_backups_and_exports_are_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from preservation.storage.files import write_private

    source = tmp_path / "p.db"
    await _write(f"sqlite+aiosqlite:///{source}")
    backup_sqlite(source, tmp_path / "copy.db")
    assert mode(tmp_path / "copy.db") == 0o600
    export = tmp_path / "export.csv"
    export.write_text("old\n")
    assert mode(export) == 0o644
    write_private(export, "slug,name\n")
    assert mode(export) == 0o600 and export.read_text() == "slug,name\n"
    write_private(tmp_path / "fresh.json", "[]")
    assert mode(tmp_path / "fresh.json") == 0o600
