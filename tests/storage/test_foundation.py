"""The ground floor: settings, migrations on both engines, authentication, error shape."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from preservation.errors import SettingsError
from preservation.settings import load_settings
from preservation.storage.db import Database
from tests.conftest import assert_problem, auth


def test_defaults_file_loads_and_documents_every_setting() -> None:
    from preservation.settings import DEFAULTS_FILE, Settings

    settings = load_settings(environ={})
    assert settings.database_url == "sqlite+aiosqlite:///./preservation.db"
    text = DEFAULTS_FILE.read_text()
    undocumented = [name for name in Settings.model_fields if f"\n{name} =" not in text]
    assert undocumented == [], f"settings missing from config/preservation.toml: {undocumented}"


def test_environment_overrides_defaults() -> None:
    settings = load_settings(
        environ={"PRESERVATION_PORT": "9999", "PRESERVATION_REMINDER_OFFSETS_DAYS": "7,30"}
    )
    assert settings.port == 9999
    assert settings.reminder_offsets_days == (30, 7)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"PRESERVATION_PORTT": "1"}, "PRESERVATION_PORTT"),
        ({"PRESERVATION_PORT": "eighty"}, "PRESERVATION_PORT"),
        ({"PRESERVATION_DATABASE_URL": "mysql://x"}, "PRESERVATION_DATABASE_URL"),
        ({"PRESERVATION_SMTP_SECURITY": "ssl3"}, "PRESERVATION_SMTP_SECURITY"),
        ({"PRESERVATION_REMINDER_OFFSETS_DAYS": "7,-1"}, "PRESERVATION_REMINDER_OFFSETS_DAYS"),
    ],
)
def test_bad_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ=environ)


def test_unknown_key_in_file_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.toml"
    path.write_text("port = 8080\nreminder_ofsets_days = [1]\n")
    with pytest.raises(SettingsError, match="reminder_ofsets_days"):
        load_settings(environ={}, defaults_file=path)


async def test_migration_from_empty_database_creates_every_table(database_url: str) -> None:
    from sqlmodel import SQLModel

    import preservation.storage.models as models

    models.all_tables()
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(SQLModel.metadata.tables) <= tables
        assert "alembic_version" in tables
    finally:
        await db.dispose()


async def test_health(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get("/healthz")
    body = await resp.json()
    assert body["database"] == "ok"
    # The scheduler is off in this fixture: health says so and answers 503.
    assert resp.status == 503 and body["scheduler"] == "stopped"


async def test_missing_and_bad_token_are_401(client, tokens) -> None:  # type: ignore[no-untyped-def]
    await assert_problem(await client.get("/api/v1/me"), 401)
    await assert_problem(await client.get("/api/v1/me", headers=auth("pdt_nope")), 401)
    await assert_problem(
        await client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401
    )
    resp = await client.get("/api/v1/me", headers=auth(tokens["officer"]))
    assert resp.status == 200
    assert await resp.json() == {"user": "officer-a", "unit": "alpha", "role": "officer"}


async def test_token_stored_only_as_hash(client, tokens) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from preservation.storage.models import ApiToken
    from preservation.web.keys import DB

    async with client.server.app[DB].read() as session:
        rows = (await session.execute(select(ApiToken))).scalars().all()
    stored = {r.token_hash for r in rows}
    assert len(rows) == len(tokens)  # one per role, and another unit's officer
    assert not any(t in stored for t in tokens.values())
    assert all(len(h) == 64 for h in stored)


async def test_forbidden_role_is_403(client, tokens) -> None:  # type: ignore[no-untyped-def]
    resp = await client.patch(
        "/api/v1/unit", json={"timezone": "Europe/Berlin"}, headers=auth(tokens["officer"])
    )
    await assert_problem(resp, 403)
    resp = await client.patch(
        "/api/v1/unit", json={"timezone": "Europe/Berlin"}, headers=auth(tokens["supervisor"])
    )
    assert resp.status == 200
    assert (await resp.json())["timezone"] == "Europe/Berlin"


async def test_malformed_body_is_400_problem(client, tokens) -> None:  # type: ignore[no-untyped-def]
    headers = {**auth(tokens["supervisor"]), "Content-Type": "application/json"}
    await assert_problem(
        await client.patch("/api/v1/unit", data=b"{not json", headers=headers), 400
    )
    await assert_problem(
        await client.patch("/api/v1/unit", data=b"[1, 2]", headers=headers), 422, field="body"
    )
    body = await assert_problem(
        await client.patch("/api/v1/unit", json={"timezone": "Mars/Olympus"}, headers=headers),
        422,
        field="timezone",
    )
    assert "Mars/Olympus" in body["errors"][0]["message"]
    await assert_problem(
        await client.patch("/api/v1/unit", json={"colour": "red"}, headers=headers),
        422,
        field="colour",
    )


async def test_unknown_route_and_method_are_problems(client) -> None:  # type: ignore[no-untyped-def]
    await assert_problem(await client.get("/api/v1/nothing-here"), 404)
    resp = await client.delete("/healthz")
    await assert_problem(resp, 405)


async def test_openapi_lists_every_route(client) -> None:  # type: ignore[no-untyped-def]
    from preservation.web.app import API_KEY

    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for ep in client.server.app[API_KEY].endpoints:
        assert ep.method.lower() in spec["paths"][ep.path]


async def test_unexpected_error_is_500_without_internals(client, tokens, caplog) -> None:  # type: ignore[no-untyped-def]
    from preservation.web.app import API_KEY

    async def boom(call):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    # Make an existing route fail inside its handler.
    endpoint = next(ep for ep in client.server.app[API_KEY].endpoints if ep.path == "/api/v1/me")
    original = endpoint.handler
    endpoint.handler = boom
    try:
        resp = await client.get("/api/v1/me", headers=auth(tokens["officer"]))
    finally:
        endpoint.handler = original
    body = await assert_problem(resp, 500)
    assert "secret internals" not in await resp.text()
    assert body["title"] == "Internal error"
