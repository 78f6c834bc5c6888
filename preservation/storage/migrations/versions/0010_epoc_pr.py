"""EPOC-PR (issue 19): the order beside its request, the prosecutor's judicial authority, and the
addressee's receipt

`preservation_request.received_at` (nullable): the addressee's receipt of an EPOC-PR as the
national IT system reports it (the 60 days of Regulation (EU) 2023/1543, Art. 11(1) run from it).
`epoc_order`: one row per EPOC-PR (who issued or validated it, Sections B and E, transmission,
Annexes V and VI, the end-of-preservation notice, the notices that came back).
`judicial_authority`: the authority a user of the prosecutor role acts as.
Additive: old nodes keep running (they never read the new table or column); only a column is
added to an existing table (no SQLite batch rebuild).

Revision ID: 0010_epoc_pr
Revises: 0010_emergency
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import preservation.storage.models

revision = "0010_epoc_pr"
down_revision = "0010_emergency"
branch_labels = None
depends_on = None


def _instant() -> sa.types.TypeEngine:
    return preservation.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column("preservation_request", sa.Column("received_at", _instant(), nullable=True))
    text = {"nullable": False, "server_default": ""}
    op.create_table(
        "epoc_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.String(20), nullable=False, server_default="issuing"),
        sa.Column("emergency", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("purpose", sa.String(30), nullable=False, server_default="criminal_proceedings"),
        sa.Column("statutory_provisions", sa.Text(), **text),
        sa.Column("issuing_authority", sa.JSON(), nullable=True),
        sa.Column("addressee", sa.JSON(), nullable=True),
        sa.Column("validating_authority", sa.JSON(), nullable=True),
        sa.Column("validated_by", sa.Integer(), nullable=True),
        sa.Column("validated_actor", sa.String(200), **text),
        sa.Column("validated_at", _instant(), nullable=True),
        sa.Column("transmitted_at", _instant(), nullable=True),
        sa.Column("national_reference", sa.String(200), **text),
        sa.Column("annex_v", sa.JSON(), nullable=True),
        sa.Column("annex_vi", sa.JSON(), nullable=True),
        sa.Column("end_notice", sa.JSON(), nullable=True),
        sa.Column("notices", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["preservation_request.id"]),
        sa.ForeignKeyConstraint(["validated_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", name="uq_epoc_order_request"),
    )
    op.create_table(
        "judicial_authority",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("authority_type", sa.String(30), **text),
        sa.Column("name", sa.String(300), **text),
        sa.Column("representative", sa.String(200), **text),
        sa.Column("post_held", sa.String(200), **text),
        sa.Column("address", sa.Text(), **text),
        sa.Column("phone", sa.String(40), **text),
        sa.Column("email", sa.String(320), **text),
        sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("judicial_authority")
    op.drop_table("epoc_order")
    with op.batch_alter_table("preservation_request") as batch:
        batch.drop_column("received_at")
