"""`preservation token revoke` and `token list`: rotating bearer tokens from the command line."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from preservation.access.auth import create_token, principal_for_token
from preservation.cli import main
from preservation.domain.clock import FrozenClock
from preservation.storage.db import Database


@pytest.fixture
def db_url(sqlite_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "ops.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("PRESERVATION_DATABASE_URL", url)
    return url


async def _tokens(url: str, clock: FrozenClock) -> tuple[str, str]:
    db = Database(url)
    try:
        async with db.write() as session:
            old = await create_token(
                session, unit="alpha", role="officer", user="a", now=clock.now()
            )
            new = await create_token(
                session, unit="alpha", role="officer", user="a", now=clock.now()
            )
        return old, new
    finally:
        await db.dispose()


async def _valid(url: str, token: str) -> bool:
    db = Database(url)
    try:
        async with db.read() as session:
            return await principal_for_token(session, token) is not None
    finally:
        await db.dispose()


async def test_revoke_rotates_one_token_and_keeps_the_other(
    db_url: str, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = await _tokens(db_url, clock)
    assert await _valid(db_url, old) and await _valid(db_url, new)
    # main() runs its own event loop: call it from a worker thread.
    assert await asyncio.to_thread(main, ["token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {t["prefix"] for t in listed} == {old[:10], new[:10]}
    assert old not in json.dumps(listed)
    assert await asyncio.to_thread(main, ["token", "revoke", old[:10]]) == 0
    assert "revoked 1" in capsys.readouterr().out
    assert not await _valid(db_url, old)
    assert await _valid(db_url, new)
    assert await asyncio.to_thread(main, ["token", "revoke", "short"]) == 2
    assert await asyncio.to_thread(main, ["token", "revoke", "x" * 12]) == 1
    assert "no token" in capsys.readouterr().err
