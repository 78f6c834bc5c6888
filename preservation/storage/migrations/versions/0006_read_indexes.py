"""read indexes: each list's order per unit, what can lapse now, what falls due

Every list is read a page at a time in the order of an index (keyset pagination), so a page
costs the same at 1,000 and at 100,000 requests, and the sweeps read only what can change now:

- requests of a unit, newest first (``unit_id, id``), by status (``unit_id, status, id``,
  which replaces ``unit_id, status``), by provider, by case reference (case-insensitive), and
  the unit's latest change (``unit_id, updated_at``: the calendar feed's validator);
- open preservations by expiry, per unit (the dashboard, ``expiring_within``) and for all units
  (the lapse sweep and the scheduler's next due instant): partial indexes over the statuses a
  request can lapse from, so closed and lapsed history is not in them at all (replaces
  ``status, expires_at``, whose IN-list forced a sort of every candidate);
- a unit's open reminders by due time (the deadline list and the feed): partial over
  pending/sending rows, so delivered history is not walked;
- identifiers by normalised value (the request search).

Additive for running nodes: two superseded indexes are dropped, which an older node only feels
as a slower plan.

Revision ID: 0006_read_indexes
Revises: 0008_directory_provenance
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_read_indexes"
down_revision = "0008_directory_provenance"
branch_labels = None
depends_on = None

#: Statuses a request can lapse from (preservation.requests.reminder_plan.LAPSABLE at this
#: revision; a migration keeps its own copy).
OPEN_REQUEST = "status IN ('sent', 'preserved', 'extension_requested', 'mla_sent')"
OPEN_REMINDER = "status IN ('pending', 'sending')"


def _where(condition: str) -> dict[str, object]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_index("ix_request_unit_id", "preservation_request", ["unit_id", "id"])
    op.create_index(
        "ix_request_unit_status_id", "preservation_request", ["unit_id", "status", "id"]
    )
    op.drop_index("ix_request_unit_status", table_name="preservation_request")
    op.create_index("ix_request_unit_updated", "preservation_request", ["unit_id", "updated_at"])
    op.create_index(
        "ix_request_unit_provider", "preservation_request", ["unit_id", "provider", "id"]
    )
    op.create_index(
        "ix_request_unit_case",
        "preservation_request",
        ["unit_id", sa.text("lower(case_reference)")],
    )
    op.create_index(
        "ix_request_unit_open_expiry",
        "preservation_request",
        ["unit_id", "expires_at", "id"],
        **_where(OPEN_REQUEST),
    )
    op.create_index(
        "ix_request_open_expiry",
        "preservation_request",
        ["expires_at", "id"],
        **_where(OPEN_REQUEST),
    )
    op.drop_index("ix_request_status_expires", table_name="preservation_request")
    op.create_index(
        "ix_reminder_unit_open_due",
        "reminder",
        ["unit_id", "due_at", "id"],
        **_where(OPEN_REMINDER),
    )
    op.create_index("ix_identifier_normalized", "request_identifier", ["normalized"])


def downgrade() -> None:
    op.drop_index("ix_identifier_normalized", table_name="request_identifier")
    op.drop_index("ix_reminder_unit_open_due", table_name="reminder")
    op.create_index("ix_request_status_expires", "preservation_request", ["status", "expires_at"])
    op.drop_index("ix_request_open_expiry", table_name="preservation_request")
    op.drop_index("ix_request_unit_open_expiry", table_name="preservation_request")
    op.drop_index("ix_request_unit_case", table_name="preservation_request")
    op.drop_index("ix_request_unit_provider", table_name="preservation_request")
    op.drop_index("ix_request_unit_updated", table_name="preservation_request")
    op.create_index("ix_request_unit_status", "preservation_request", ["unit_id", "status"])
    op.drop_index("ix_request_unit_status_id", table_name="preservation_request")
    op.drop_index("ix_request_unit_id", table_name="preservation_request")
