"""emergency disclosure: a request's kind and an emergency's facts (issue 20)

`preservation_request.kind` ("preservation" or "emergency"; existing rows are preservations) and
`preservation_request.emergency` (JSON: the threat, why it cannot wait, the data needed, the
officer's direct line, and the preservation request that followed). Additive: old nodes keep
running and never see an emergency's columns; only columns are added (no SQLite batch rebuild).

Revision ID: 0010_emergency
Revises: 0006_read_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_emergency"
down_revision = "0006_read_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "preservation_request",
        sa.Column("kind", sa.String(length=20), nullable=False, server_default="preservation"),
    )
    op.add_column("preservation_request", sa.Column("emergency", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("preservation_request", "emergency")
    op.drop_column("preservation_request", "kind")
