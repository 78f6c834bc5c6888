"""`preservation deadlines [--within 14d] [--json] [--unit NAME]`: what falls due, soonest first
(every unit's, or one unit's)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select

from preservation.domain.clock import SystemClock
from preservation.errors import InvalidInput
from preservation.reminders.deadline_list import parse_within, upcoming_page
from preservation.reminders.text import when
from preservation.settings import load_settings
from preservation.storage.db import Database
from preservation.storage.models import Unit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deadlines", help="list the reminders and expiries falling due")
    p.add_argument(
        "--within",
        default="14d",
        help="how far ahead: 14d, 48h, 2w or an ISO 8601 duration (P14D); default 14d",
    )
    p.add_argument("--unit", help="only this unit (by name)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_deadlines)


async def _list(args: argparse.Namespace) -> list[dict[str, Any]]:
    within = parse_within(args.within, field="within", short=True)
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            unit_id = None
            if args.unit:
                unit_id = (
                    await session.execute(select(Unit.id).where(Unit.name == args.unit))
                ).scalar_one_or_none()
                if unit_id is None:
                    raise InvalidInput("unit", f"no unit named {args.unit!r}")
            page = await upcoming_page(
                session, now=SystemClock().now(), within=within, unit_id=unit_id
            )
    finally:
        await db.dispose()
    out = []
    if page.next_key is not None:
        # No silent cap: the last line says the list goes on.
        print(
            f"(the first {len(page.items)} are listed; more fall due within {args.within}:"
            " give a shorter --within or --unit)",
            file=sys.stderr,
        )
    for item in page.items:
        row = item.public()
        row["unit"] = item.unit
        row["due"] = when(item.due_at, item.unit_zone)
        out.append(row)
    return out


def _text(items: list[dict[str, Any]]) -> str:
    if not items:
        return "nothing falls due"
    lines = []
    for i in items:
        lines.append(f"{i['due']}  {i['reference']}  {i['kind']}  [{i['unit']}]")
    return "\n".join(lines)


async def cmd_deadlines(args: argparse.Namespace) -> int:
    from preservation.cli import emit

    items = await _list(args)
    emit({"items": items} if args.json else items, as_json=args.json, text=_text)
    return 0
