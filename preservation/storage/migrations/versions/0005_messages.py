"""Replies and records of what was sent elsewhere: the mail_message table (replies taken in,
attached to their request or quarantined; letters sent by e-mail), and the record_only flag of a
request sent outside the service. Additive: old nodes keep running (they neither read the table
nor set the flag, whose default is false).

Revision ID: 0005_messages
Revises: 0009_hardening
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import preservation.storage.models

revision = "0005_messages"
down_revision = "0009_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "preservation_request",
        sa.Column("record_only", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("matched_by", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=1000), nullable=False),
        sa.Column("from_addr", sa.Text(), nullable=False),
        sa.Column("to_addrs", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("sent_at", preservation.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("at", preservation.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("handled_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["preservation_request.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_mail_message_dedupe"),
    )
    op.create_index("ix_mail_message_request", "mail_message", ["request_id", "at"])
    op.create_index("ix_mail_message_unit_state", "mail_message", ["unit_id", "state", "id"])


def downgrade() -> None:
    op.drop_index("ix_mail_message_unit_state", table_name="mail_message")
    op.drop_index("ix_mail_message_request", table_name="mail_message")
    op.drop_table("mail_message")
    op.drop_column("preservation_request", "record_only")
