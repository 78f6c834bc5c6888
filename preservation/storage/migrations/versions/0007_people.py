"""People: sign-in names, display names and functions, disabling, passwords, TOTP second
factor with recovery codes, sign-in lockout, OpenID Connect subjects; tokens with an expiry, a
label and (for page sessions) the last use. Additive: old nodes keep running (they ignore the
new columns; a disabled person's credentials are revoked rows, which old nodes refuse too).

Revision ID: 0007_people
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import preservation.storage.models

revision = "0007_people"
down_revision = "0003"
branch_labels = None
depends_on = None


def _instant() -> sa.types.TypeEngine:
    return preservation.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    text = {"nullable": False, "server_default": ""}
    op.add_column("app_user", sa.Column("kind", sa.String(20), nullable=False, server_default="person"))
    op.add_column("app_user", sa.Column("login", sa.String(64), nullable=True))
    op.add_column("app_user", sa.Column("display_name", sa.String(200), **text))
    op.add_column("app_user", sa.Column("function", sa.String(200), **text))
    op.add_column("app_user", sa.Column("disabled_at", _instant(), nullable=True))
    op.add_column("app_user", sa.Column("password_changed_at", _instant(), nullable=True))
    op.add_column("app_user", sa.Column("totp_secret", sa.String(64), **text))
    op.add_column("app_user", sa.Column("totp_enabled_at", _instant(), nullable=True))
    op.add_column("app_user", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.add_column("app_user", sa.Column("failed_signins", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("app_user", sa.Column("locked_until", _instant(), nullable=True))
    op.add_column("app_user", sa.Column("oidc_subject", sa.String(400), nullable=True))
    # Unique indexes rather than constraints: SQLite adds them without rebuilding the table.
    op.create_index("uq_user_login", "app_user", ["login"], unique=True)
    op.create_index("uq_user_oidc_subject", "app_user", ["oidc_subject"], unique=True)

    op.add_column("api_token", sa.Column("expires_at", _instant(), nullable=True))
    op.add_column("api_token", sa.Column("last_used_at", _instant(), nullable=True))
    op.add_column("api_token", sa.Column("label", sa.String(200), **text))

    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("used_at", _instant(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_recovery_code_user_id", "recovery_code", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_recovery_code_user_id", table_name="recovery_code")
    op.drop_table("recovery_code")
    for column in ("label", "last_used_at", "expires_at"):
        op.drop_column("api_token", column)
    op.drop_index("uq_user_oidc_subject", table_name="app_user")
    op.drop_index("uq_user_login", table_name="app_user")
    for column in (
        "oidc_subject",
        "locked_until",
        "failed_signins",
        "totp_last_step",
        "totp_enabled_at",
        "totp_secret",
        "password_changed_at",
        "disabled_at",
        "function",
        "display_name",
        "login",
        "kind",
    ):
        op.drop_column("app_user", column)
