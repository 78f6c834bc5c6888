"""The conditions of the partial indexes (migration 0006_read_indexes), and the same conditions
for queries that want those indexes.

A planner uses a partial index only when it can prove the query's WHERE implies the index's:
SQLite compares the terms as written, and PostgreSQL cannot prove it through a bound parameter
(asyncpg's prepared statements). So these conditions are rendered with their values inline
(`status IN ('sent', ...)`), never as parameters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column, text
from sqlalchemy.sql.elements import ColumnElement

#: Statuses a request can lapse from: its preservation is running (requests/reminder_plan.py
#: LAPSABLE is this tuple; a test keeps them equal).
OPEN_REQUEST_STATUSES = ("sent", "preserved", "extension_requested", "mla_sent")
#: Reminder rows not yet delivered (nor failed, nor cancelled).
OPEN_REMINDER_STATUSES = ("pending", "sending")


def _sql(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


OPEN_REQUEST_SQL = _sql(OPEN_REQUEST_STATUSES)
OPEN_REMINDER_SQL = _sql(OPEN_REMINDER_STATUSES)
#: Emergency requests (migration 0012_emergency_index): a handful per unit, in a history of
#: drafts and sent requests the dashboard would otherwise walk.
EMERGENCY_SQL = "kind = 'emergency'"
#: Lapsed requests (migration 0013_lapsed_index): the dashboard's recent lapses by expiry.
LAPSED_SQL = "status = 'lapsed'"


def where(condition: str) -> dict[str, Any]:
    """Index keyword arguments making it partial on both engines."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


def is_emergency(column: Any) -> ColumnElement[bool]:
    """`kind = 'emergency'` with the value inline (the partial index's own term)."""
    return column == literal_column("'emergency'")


def is_lapsed(column: Any) -> ColumnElement[bool]:
    """`status = 'lapsed'` with the value inline (the partial index's own term)."""
    return column == literal_column("'lapsed'")


def status_in(column: Any, values: tuple[str, ...]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')` with the values inline, so a partial index over them is used."""
    return column.in_([literal_column(f"'{v}'") for v in values])
