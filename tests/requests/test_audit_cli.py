"""`preservation audit verify`, the installed command, on a real database: exit 0 with a count
when every chain holds; exit 1 naming the request, the event and the reason when one is broken."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import update

from preservation.requests import audit
from preservation.storage.db import Database
from preservation.storage.models import AuditEvent
from tests.conftest import T0
from tests.dispatch_support import make_request
from tests.e2e.helpers import clean_env, run_cli


async def _two_requests(url: str) -> list[tuple[int, str]]:
    db = Database(url)
    try:
        made = []
        for _ in range(2):
            m = await make_request(db, now=T0, status="draft")
            async with db.write() as s:
                for i, action in enumerate(("update", "submit")):
                    await audit.record(
                        s,
                        request_id=m.request_id,
                        actor="officer-a@alpha",
                        action=action,
                        now=T0 + timedelta(minutes=i),
                        detail={"n": i},
                    )
            made.append((m.request_id, m.reference))
        return made
    finally:
        await db.dispose()


async def _tamper(url: str, request_id: int, seq: int) -> None:
    db = Database(url)
    try:
        async with db.write() as s:
            await s.execute(
                update(AuditEvent)
                .where(AuditEvent.request_id == request_id, AuditEvent.seq == seq)
                .values(actor="someone-else@alpha")
            )
    finally:
        await db.dispose()


def test_audit_verify_finds_a_tampered_event(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    made = asyncio.run(_two_requests(database_url))
    env = clean_env(PRESERVATION_DATABASE_URL=database_url)

    ok = run_cli("audit", "verify", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "2 audit chain(s) verified" in ok.stdout

    (_, _), (victim, reference) = made
    asyncio.run(_tamper(database_url, victim, 2))
    broken = run_cli("audit", "verify", env=env, cwd=tmp_path)
    assert broken.returncode == 1
    # One error line, after the line naming the database (cli/database.py).
    assert broken.stderr.strip().splitlines()[1:] == [
        f"preservation: audit chain broken: {reference} event 2: content does not match its hash"
    ]
    assert "Traceback" not in broken.stderr

    as_json = run_cli("audit", "verify", "--json", env=env, cwd=tmp_path)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["checked"] == 2 and report["ok"] is False
    assert report["broken"] == [
        {
            "request_id": victim,
            "reference": reference,
            "seq": 2,
            "reason": "content does not match its hash",
        }
    ]
