"""emergency index: a unit's emergencies without walking its drafts and sent requests

The dashboard lists a unit's emergencies not yet answered above everything else. Read through
``(unit_id, status, id)`` it walked every draft and sent request of the unit to find the few of
kind ``emergency``: drafts never submitted accumulate with history (at 100,000 requests, 1,375
in one unit; 44 ms per dashboard on SQLite, measured on bench/history_data.py's history). A
partial index over the emergencies alone holds a handful of rows per unit.

Additive: an older node only does not use it.

Revision ID: 0012_emergency_index
Revises: 0011_documents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_emergency_index"
down_revision = "0011_documents"
branch_labels = None
depends_on = None

#: storage/partial.py EMERGENCY_SQL at this revision (a migration keeps its own copy).
EMERGENCY = "kind = 'emergency'"


def upgrade() -> None:
    op.create_index(
        "ix_request_unit_emergency",
        "preservation_request",
        ["unit_id", "created_at", "id"],
        sqlite_where=sa.text(EMERGENCY),
        postgresql_where=sa.text(EMERGENCY),
    )


def downgrade() -> None:
    op.drop_index("ix_request_unit_emergency", table_name="preservation_request")
