"""lapsed index: a unit's recent lapses without walking its history

The dashboard shows the preservations of a unit that lapsed in the last 30 days. It found them
through the unit's last changes (``unit_id, updated_at``) filtered on the status. On PostgreSQL
the statement is prepared (asyncpg) and, after five runs, planned once for any parameters: that
generic plan walked the whole ``expires_at`` index backward (100,000 rows, 24-30 ms of a
dashboard, measured on bench/history_data.py's history of 100,000 requests). And a change to an
old lapsed request (a note, a reply) made it "recent". A lapse happens at expiry: the recent
lapses are the lapsed requests whose preservation expired in the last 30 days, read from a
partial index of lapsed requests by unit and expiry.

Additive: an older node only does not use it.

Revision ID: 0013_lapsed_index
Revises: 0012_emergency_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_lapsed_index"
down_revision = "0012_emergency_index"
branch_labels = None
depends_on = None

#: storage/partial.py LAPSED_SQL at this revision (a migration keeps its own copy).
LAPSED = "status = 'lapsed'"


def upgrade() -> None:
    op.create_index(
        "ix_request_unit_lapsed",
        "preservation_request",
        ["unit_id", "expires_at", "id"],
        sqlite_where=sa.text(LAPSED),
        postgresql_where=sa.text(LAPSED),
    )


def downgrade() -> None:
    op.drop_index("ix_request_unit_lapsed", table_name="preservation_request")
