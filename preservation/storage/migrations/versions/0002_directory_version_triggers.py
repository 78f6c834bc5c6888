"""directory version kept by the database: triggers on provider and contact

Every node keeps a snapshot of the directory and trusts it while the `directory_version` counter
is unchanged; a request is routed from it (service/creation.py). Until now the counter was bumped
by the application's own writes only: a change made any other way (an operator's SQL, a future
code path that forgets) would leave snapshots silently stale, and a preservation request sent to
an old address. These triggers bump the counter in the same transaction as any change to
`provider` or `contact`, whoever makes it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("provider", "contact")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION bump_directory_version() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO directory_version (id, version) VALUES (1, 1)
                ON CONFLICT (id) DO UPDATE SET version = directory_version.version + 1;
                RETURN NULL;
            END $$
            """
        )
        for table in TABLES:
            # Once per statement: a bulk import bumps the counter once, not once per row.
            op.execute(
                f"CREATE TRIGGER {table}_directory_version"
                f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version()"
            )
        return
    # SQLite has row triggers only (and no UPSERT inside a trigger body).
    for table in TABLES:
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_directory_version"
                f" AFTER {event} ON {table} BEGIN"
                " INSERT OR IGNORE INTO directory_version (id, version) VALUES (1, 0);"
                " UPDATE directory_version SET version = version + 1 WHERE id = 1;"
                " END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_directory_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_directory_version()")
        return
    for table in TABLES:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{event.lower()}_directory_version")
