"""hardening: a page session or a calendar feed remembers the bearer token it was opened with

`api_token.parent_id` (nullable, indexed): revoking a token ends the page sessions and feeds
opened with it (access/revocation.py). Additive: old nodes keep running; a session or feed they
make has no parent and lives as before. Sessions and feeds made before this revision get the
user's only live bearer token as their parent, where the user has exactly one; the others keep
no parent (docs/security.md, known limits: rotate such feeds).

Revision ID: 0009_hardening
Revises: 0007_people
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_hardening"
down_revision = "0007_people"
branch_labels = None
depends_on = None

_LIVE_TOKENS = (
    "FROM api_token t WHERE t.user_id = api_token.user_id"
    " AND t.prefix LIKE 'pdt!_%' ESCAPE '!' AND t.revoked_at IS NULL"
)


def upgrade() -> None:
    op.add_column("api_token", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.create_index("ix_api_token_parent_id", "api_token", ["parent_id"])
    op.execute(
        f"UPDATE api_token SET parent_id = (SELECT t.id {_LIVE_TOKENS})"
        " WHERE parent_id IS NULL AND revoked_at IS NULL"
        " AND (prefix LIKE 'pds!_%' ESCAPE '!' OR prefix LIKE 'pdf!_%' ESCAPE '!')"
        f" AND (SELECT count(*) {_LIVE_TOKENS}) = 1"
    )


def downgrade() -> None:
    op.drop_index("ix_api_token_parent_id", table_name="api_token")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("parent_id")
