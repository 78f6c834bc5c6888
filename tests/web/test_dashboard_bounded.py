"""The dashboard is bounded by what is open: the preservations that expire soonest first, at most
TIMELINE_MAX of them with a link to the rest, the newest drafts with a link to them all, and
counts of the open requests by status (history is not counted)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import insert

from preservation.requests import overview
from preservation.storage.models import PreservationRequest
from preservation.web.keys import DB
from tests.conftest import T0
from tests.reminder_support import unit_and_user
from tests.web.test_pages import page, sign_in


async def test_soonest_first_bounded_and_counted(client, tokens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    unit_id, user_id = await unit_and_user(db, "alpha")
    rows = []
    for k, (status, days) in enumerate(
        [("preserved", d) for d in (40, 5, 20, 2, 60, 11, 9, 30)]
        + [("closed", 1)] * 6
        + [("draft", None)] * 4
        + [("sent", 3)]
    ):
        rows.append(
            {
                "reference": f"PR-2026-D{k:05d}",
                "unit_id": unit_id,
                "created_by": user_id,
                "status": status,
                "regime": "us-2703f",
                "created_at": T0,
                "updated_at": T0,
                "submitted_at": T0 - timedelta(days=k) if status != "draft" else None,
                "expires_at": T0 + timedelta(days=days) if days is not None else None,
                "data_categories": [],
                "extensions": [],
                "warnings": [],
            }
        )
    async with db.write() as s:
        await s.execute(insert(PreservationRequest), rows)
    monkeypatch.setattr(overview, "TIMELINE_MAX", 5)
    monkeypatch.setattr(overview, "DRAFTS_MAX", 3)
    await sign_in(client, tokens["officer"])
    text = await page(client, "/")
    bars = re.findall(r"<title>(PR-2026-D\d{5}) \(", text)
    # The five that expire soonest (2, 3, 5, 9, 11 days), none of the closed ones.
    assert bars == [
        "PR-2026-D00003",
        "PR-2026-D00018",
        "PR-2026-D00001",
        "PR-2026-D00006",
        "PR-2026-D00005",
    ]
    assert "every preservation expiring within 90 days" in text
    assert 'href="/requests?expiring_within=P90D"' in text
    counts = text.split('<p class="counts">')[1].split("</p>")[0]
    assert counts.startswith("9 preservations running")
    assert "1 awaiting acknowledgement" in counts and "4 drafts" in counts
    assert "closed" not in counts
    drafts = text.split("Drafts</h2>")[1]
    assert len(re.findall(r"PR-2026-D000(?:14|15|16|17)", drafts)) == 3
    assert 'href="/requests?status=draft"' in drafts


async def test_recent_lapses_are_those_that_expired_in_the_last_thirty_days(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    unit_id, user_id = await unit_and_user(db, "alpha")
    # (expired days ago, changed days ago): a lapse of 10 days ago; one of 200 days ago changed
    # yesterday (a note, a reply): not a recent lapse; one of 29 days ago changed long after.
    cases = {"L00001": (10, 10), "L00002": (200, 1), "L00003": (29, 2), "L00004": (31, 31)}
    async with db.write() as s:
        await s.execute(
            insert(PreservationRequest),
            [
                {
                    "reference": f"PR-2026-{ref}",
                    "unit_id": unit_id,
                    "created_by": user_id,
                    "status": "lapsed",
                    "regime": "us-2703f",
                    "created_at": T0 - timedelta(days=300),
                    "updated_at": T0 - timedelta(days=changed),
                    "submitted_at": T0 - timedelta(days=300),
                    "expires_at": T0 - timedelta(days=expired),
                    "data_categories": [],
                    "extensions": [],
                    "warnings": [],
                }
                for ref, (expired, changed) in cases.items()
            ],
        )
    seen = await overview.overview(db, unit_id=unit_id, now=T0, window_days=90)
    assert sorted(r.reference for r in seen.lapsed) == ["PR-2026-L00001", "PR-2026-L00003"]
    await sign_in(client, tokens["officer"])
    text = await page(client, "/")
    assert "PR-2026-L00001" in text and "PR-2026-L00002" not in text
