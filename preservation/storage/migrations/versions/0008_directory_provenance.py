"""directory provenance and governance: each provider's documents, entities, EU representative,
emergency contact, platforms and category; the chained log of directory changes.

Additive: old nodes keep running. The column ``provider.source`` keeps the document's URL (old
nodes read it; new nodes write it beside ``source_doc``). Existing rows are carried over: their
``source`` URL becomes a document of unknown kind (``secondary``: it can give no address until
re-read), their ``entity_by_region`` becomes ``entities`` without addresses. Only columns are
added (no SQLite batch rebuild), so 0002's triggers on ``provider`` stay in place.

Revision ID: 0008_directory_provenance
Revises: 0005_messages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import preservation.storage.models

revision = "0008_directory_provenance"
down_revision = "0005_messages"
branch_labels = None
depends_on = None

JSON_COLUMNS = (
    "platforms",
    "emergency_contact",
    "entities",
    "eu_representative",
    "source_doc",
    "other_sources",
    "facts_from",
)


def upgrade() -> None:
    op.add_column("provider", sa.Column("category", sa.String(length=20), nullable=True))
    op.add_column("provider", sa.Column("intake_page", sa.String(length=1000), nullable=True))
    for name in JSON_COLUMNS:
        op.add_column("provider", sa.Column(name, sa.JSON(), nullable=True))
    op.create_table(
        "directory_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", preservation.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq", name="uq_directory_event_seq"),
    )
    provider = sa.table(
        "provider",
        sa.column("slug", sa.String),
        sa.column("source", sa.String),
        sa.column("entity_by_region", sa.JSON),
        *(sa.column(n, sa.JSON) for n in JSON_COLUMNS),
        sa.column("category", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(provider.c.slug, provider.c.source, provider.c.entity_by_region)
    ).all()
    for slug, source, by_region in rows:
        doc = (
            {"url": source, "title": "", "published": None, "kind": "secondary"} if source else None
        )
        entities = [
            {"region": region, "name": name, "address": ""}
            for region, name in (by_region or {}).items()
        ]
        bind.execute(
            provider.update()
            .where(provider.c.slug == slug)
            .values(
                category="other",
                platforms=[],
                entities=entities,
                source_doc=doc,
                other_sources=[],
                facts_from={},
            )
        )


def downgrade() -> None:
    op.drop_table("directory_event")
    for name in (*JSON_COLUMNS, "intake_page", "category"):
        op.drop_column("provider", name)
