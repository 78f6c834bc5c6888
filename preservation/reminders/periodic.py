"""The periodic jobs: each unit's daily digest at settings.digest_hour in the unit's own zone,
and the weekly directory staleness report to admins.

APScheduler only ticks (every minute, on every node); what makes each digest or report happen
once is its row: a key unique per unit ("digest:<local date>", "stale:<ISO year>-W<week>")
inserted with ON CONFLICT DO NOTHING. The unit's zone is read at each tick, so a unit that moves
zone gets its digest at the new local hour, and the local date in the key keeps it to one a day.
The delivery sweep then composes and sends the row like any reminder."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select

from preservation.reminders import text
from preservation.requests.reminder_plan import DIGEST, STALENESS, insert_reminders
from preservation.runtime.context import Context
from preservation.storage.models import Reminder, Unit, User

log = logging.getLogger(__name__)


def digest_due(now: datetime, unit_zone: str, digest_hour: int) -> tuple[str, datetime] | None:
    """(key, due instant) of the unit's digest for its current local day, once its local hour has
    reached digest_hour (also later that day: a node down at the hour catches up); else None."""
    tz = text.zone(unit_zone)
    local = now.astimezone(tz)
    if local.hour < digest_hour:
        return None
    due = datetime.combine(local.date(), time(digest_hour), tzinfo=tz).astimezone(UTC)
    return f"digest:{local.date().isoformat()}", min(due, now)


def staleness_due(now: datetime, hour: int) -> tuple[str, datetime] | None:
    """(key, due instant) of this ISO week's report: Monday at `hour` UTC, and any time later in
    the week (catch-up); None before it."""
    year, week, _ = now.isocalendar()
    due = datetime.combine(date.fromisocalendar(year, week, 1), time(hour), tzinfo=UTC)
    if now < due:
        return None
    return f"stale:{year}-W{week:02d}", due


async def enqueue_periodic(db: Any, *, ctx: Context) -> int:
    """Insert the digests and staleness reports due now that do not exist yet; returns how many."""
    now = ctx.clock.now()
    hour = ctx.settings.digest_hour
    async with db.write() as session:
        wanted: list[dict[str, Any]] = []
        for unit_id, tz in await session.execute(select(Unit.id, Unit.timezone)):
            due = digest_due(now, tz, hour)
            if due is not None:
                wanted.append(
                    {
                        "unit_id": unit_id,
                        "kind": DIGEST,
                        "key": due[0],
                        "due_at": due[1],
                        "created_at": now,
                    }
                )
        stale = staleness_due(now, hour)
        if stale is not None:
            admin_units = (
                await session.execute(
                    select(User.unit_id).where(User.role.in_(("admin", "directory"))).distinct()
                )
            ).scalars()
            for unit_id in admin_units:
                wanted.append(
                    {
                        "unit_id": unit_id,
                        "kind": STALENESS,
                        "key": stale[0],
                        "due_at": stale[1],
                        "created_at": now,
                    }
                )
        if not wanted:
            return 0
        keys = {w["key"] for w in wanted}
        have = {
            (unit_id, key)
            for unit_id, key in await session.execute(
                select(Reminder.unit_id, Reminder.key).where(Reminder.key.in_(keys))
            )
        }
        inserted = await insert_reminders(
            session, (w for w in wanted if (w["unit_id"], w["key"]) not in have)
        )
    if inserted:
        log.info("periodic rows due", extra={"action": "reminders.periodic", "inserted": inserted})
        ctx.wake()
    return inserted
