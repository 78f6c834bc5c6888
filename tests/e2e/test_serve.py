"""The installed command: serve on SQLite, health, tokens, clean shutdown on SIGTERM and SIGINT."""

from __future__ import annotations

import json
import signal

import pytest

from tests.e2e.helpers import Server, clean_env, run_cli

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_health_token_and_clean_shutdown(tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    env = clean_env(PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/p.db")
    server = Server(env=env, cwd=tmp_path).start()
    try:
        status, body = server.get_json("/healthz")
        assert status == 200
        assert body == {"status": "ok", "database": "ok", "scheduler": "running"}
        made = run_cli(
            "token",
            "create",
            "--create-unit",
            "--unit",
            "Cyber Unit",
            "--role",
            "officer",
            "--user",
            "alice",
            "--json",
            env=env,
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
        token = json.loads(made.stdout)["token"]
        status, me = server.get_json("/api/v1/me", token)
        assert (status, me) == (200, {"user": "alice", "unit": "Cyber Unit", "role": "officer"})
    finally:
        code = server.stop(sig)
    log = server.log()
    assert code == 0, log
    actions = [json.loads(line).get("action") for line in log.splitlines() if line.startswith("{")]
    assert actions.index("scheduler.stop") < actions.index("db.close")
    assert token not in log


def test_bad_setting_stops_startup_with_its_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/p.db", PRESERVATION_PORT="http"
    )
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "PRESERVATION_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_bad_input_exits_2_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = clean_env(PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/p.db")
    assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = run_cli("token", "create", "--unit", "", "--role", "officer", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "unit" in result.stderr and "Traceback" not in result.stderr
    # One error line (after the line naming the database).
    assert [line for line in result.stderr.splitlines() if "unit" in line] == [
        "preservation: unit: is empty: give the unit's name"
    ]


def test_db_upgrade_on_empty_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = clean_env(PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/new.db")
    result = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new.db").exists()
