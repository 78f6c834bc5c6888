"""`preservation user add|list|disable|enable|set-role|reset` and `token create` for a person or
a named integration, with an expiry."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from preservation.access.auth import principal_for_token
from preservation.access.feeds import create_feed, principal_for_feed
from preservation.cli import main
from preservation.domain.clock import SystemClock
from preservation.storage.db import Database
from preservation.storage.models import ApiToken, User


@pytest.fixture
def db_url(sqlite_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "users.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("PRESERVATION_DATABASE_URL", url)
    monkeypatch.setenv("PRESERVATION_PUBLIC_URL", "https://preservation.police.example")
    return url


async def _cli(*argv: str, stdin: str | None = None, monkeypatch=None) -> int:  # type: ignore[no-untyped-def]
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))

    def run() -> int:
        try:
            return main(list(argv))
        except SystemExit as exc:  # argparse's refusals
            return int(exc.code or 0)

    # main() runs its own event loop: call it from a worker thread.
    return await asyncio.to_thread(run)


async def _user(url: str, login: str) -> User:
    db = Database(url)
    try:
        async with db.read() as s:
            return (await s.execute(select(User).where(User.login == login))).scalar_one()
    finally:
        await db.dispose()


async def test_user_add_prints_a_one_time_enrolment_link(db_url, capsys) -> None:  # type: ignore[no-untyped-def]
    assert (
        await _cli(
            "user",
            "add",
            "--unit",
            "Cyber Unit",
            "--user",
            "Nina",
            "--role",
            "supervisor",
            "--display-name",
            "Nina Novak",
            "--function",
            "Detective Inspector",
        )
        == 0
    )
    out = capsys.readouterr()
    link = out.out.strip()
    assert link.startswith("https://preservation.police.example/enrol/pde_")
    assert "one-time link" in out.err
    user = await _user(db_url, "nina")
    assert (user.role, user.display_name, user.function) == (
        "supervisor",
        "Nina Novak",
        "Detective Inspector",
    )
    assert user.password_hash == ""
    # The same name again is refused (one line, non-zero).
    assert await _cli("user", "add", "--unit", "Other", "--user", "nina", "--role", "officer") == 2
    assert "already a person" in capsys.readouterr().err


async def test_user_add_with_password_stdin(db_url, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code = await _cli(
        "user",
        "add",
        "--unit",
        "Cyber Unit",
        "--user",
        "olga",
        "--role",
        "officer",
        "--password-stdin",
        stdin="a long enough passphrase\n",
        monkeypatch=monkeypatch,
    )
    assert code == 0
    assert capsys.readouterr().out == ""  # an officer needs no link
    assert (await _user(db_url, "olga")).password_hash.startswith("$argon2id$")
    code = await _cli(
        "user",
        "add",
        "--unit",
        "Cyber Unit",
        "--user",
        "sam",
        "--role",
        "supervisor",
        "--password-stdin",
        stdin="a long enough passphrase\n",
        monkeypatch=monkeypatch,
    )
    assert code == 0
    out = capsys.readouterr()
    assert "/enrol/pde_" in out.out and "second factor" in out.err
    code = await _cli(
        "user",
        "add",
        "--unit",
        "Cyber Unit",
        "--user",
        "tim",
        "--role",
        "officer",
        "--password-stdin",
        stdin="short\n",
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "password" in capsys.readouterr().err


async def test_user_list_set_role_disable_enable_reset(db_url, capsys) -> None:  # type: ignore[no-untyped-def]
    assert (
        await _cli("user", "add", "--unit", "Cyber Unit", "--user", "olga", "--role", "officer")
        == 0
    )
    assert (
        await _cli(
            "token",
            "create",
            "--create-unit",
            "--unit",
            "Cyber Unit",
            "--role",
            "officer",
            "--user",
            "olga",
        )
        == 0
    )
    token = capsys.readouterr().out.strip().splitlines()[-1]
    db = Database(db_url)
    try:
        async with db.write() as s:
            principal = await principal_for_token(s, token)
            assert principal is not None
            feed = await create_feed(s, principal=principal, now=SystemClock().now())
    finally:
        await db.dispose()

    assert await _cli("user", "set-role", "olga", "supervisor") == 0
    assert "needs a second factor" in capsys.readouterr().err
    assert await _cli("user", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["user"], p["role"], p["status"]) for p in listed] == [
        ("olga", "supervisor", "enrolment pending")
    ]

    assert await _cli("user", "disable", "olga") == 0
    assert "3 credential(s) ended" in capsys.readouterr().err  # token, feed, enrolment link
    db = Database(db_url)
    try:
        async with db.read() as s:
            assert await principal_for_token(s, token) is None
            assert await principal_for_feed(s, feed) is None
            live = (await s.execute(select(ApiToken).where(ApiToken.revoked_at.is_(None)))).all()
            assert live == []
    finally:
        await db.dispose()
    assert await _cli("user", "list") == 0
    assert "disabled" in capsys.readouterr().out
    assert await _cli("user", "reset", "olga") == 2  # enable first
    assert await _cli("user", "enable", "olga") == 0
    assert await _cli("user", "reset", "olga") == 0
    assert "/enrol/pde_" in capsys.readouterr().out
    assert await _cli("user", "disable", "nobody") == 2
    assert await _cli("user", "set-role", "olga", "emperor") == 2


async def test_token_create_for_an_integration_with_an_expiry(db_url, capsys) -> None:  # type: ignore[no-untyped-def]
    assert await _cli("user", "add", "--unit", "Cyber Unit", "--user", "it", "--role", "admin") == 0
    capsys.readouterr()
    code = await _cli(
        "token",
        "create",
        "--create-unit",
        "--unit",
        "Cyber Unit",
        "--role",
        "officer",
        "--integration",
        "case-system",
        "--expires-days",
        "30",
        "--json",
    )
    assert code == 0
    made = json.loads(capsys.readouterr().out)
    assert made["user"] == "case-system" and made["expires_at"]
    db = Database(db_url)
    try:
        async with db.read() as s:
            row, user = (
                await s.execute(
                    select(ApiToken, User)
                    .join(User, User.id == ApiToken.user_id)
                    .where(User.name == "case-system")
                )
            ).one()
    finally:
        await db.dispose()
    assert user.kind == "integration" and row.expires_at is not None
    assert 29 <= (row.expires_at - row.created_at).days <= 30
    assert (
        await _cli(
            "token",
            "create",
            "--create-unit",
            "--unit",
            "U",
            "--role",
            "officer",
            "--user",
            "a",
            "--integration",
            "b",
        )
        == 2
    )
