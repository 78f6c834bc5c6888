"""The legal instrument follows the channel: the unit's country (requesting State), the
necessity of preservation (Budapest Art. 29(2)(e)), the recorded receipt of the MLA request
(Art. 29(7)), and each recipient's instrument. Additive: old nodes keep running.

Existing outbox rows get their request's regime as their instrument (carried over, with the
citation left to the letter as it was sent).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import preservation.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("unit", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column(
        "preservation_request",
        sa.Column("necessity", sa.Text(), nullable=False, server_default=""),
    )
    # Requests made before: their regime was named by the officer (it was required).
    op.add_column(
        "preservation_request",
        sa.Column("regime_asked", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "preservation_request",
        sa.Column(
            "mla_received_at", preservation.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column("preservation_request", sa.Column("date_notes", sa.JSON(), nullable=True))
    op.add_column("outbox", sa.Column("instrument", sa.JSON(), nullable=True))
    # Carry existing requests over: each recipient's instrument is its request's regime.
    outbox = sa.table("outbox", sa.column("request_id", sa.Integer), sa.column("instrument", sa.JSON))
    requests = sa.table(
        "preservation_request", sa.column("id", sa.Integer), sa.column("regime", sa.String)
    )
    bind = op.get_bind()
    # One statement per regime in use (a handful), whatever the size of the history.
    for (regime,) in bind.execute(sa.select(requests.c.regime).distinct()).all():
        ids = sa.select(requests.c.id).where(requests.c.regime == regime)
        bind.execute(
            outbox.update()
            .where(outbox.c.request_id.in_(ids))
            .values(instrument={"key": regime, "citation": "", "why": "carried over from the request's regime"})
        )


def downgrade() -> None:
    op.drop_column("outbox", "instrument")
    op.drop_column("preservation_request", "date_notes")
    op.drop_column("preservation_request", "mla_received_at")
    op.drop_column("preservation_request", "regime_asked")
    op.drop_column("preservation_request", "necessity")
    op.drop_column("unit", "country")
