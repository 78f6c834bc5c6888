"""documents (issue 18): what the officer adds to the MLA request drafted from the record

`preservation_request.mla_draft` (JSON, nullable): the fields of the formal MLA request the
record does not hold (requested authority, legal classification, maximum penalty, assistance per
data category, certification, contacts...), as the officer completes them on the MLA request's
form (requests/mla.py). Additive: old nodes keep running and never read the column; only a
column is added (no SQLite batch rebuild).

Revision ID: 0011_documents
Revises: 0010_epoc_pr
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_documents"
down_revision = "0010_epoc_pr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("preservation_request", sa.Column("mla_draft", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("preservation_request", "mla_draft")
