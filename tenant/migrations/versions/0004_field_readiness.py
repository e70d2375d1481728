"""Field readiness (issue 15): site settings (time zone, behaviour when closed), enrollment
tokens, retired tracks and playlists, plays dated by estimate, boot clocks, alerts.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

SLUG = 64
HASH = 64
TEXT = 300


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("retired_ms", sa.BigInteger))
    with op.batch_alter_table("playlists") as batch:
        batch.add_column(sa.Column("retired_ms", sa.BigInteger))
    with op.batch_alter_table("plays") as batch:
        batch.add_column(
            sa.Column("time_estimated", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "site_settings",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("site", sa.String(TEXT), primary_key=True),
        sa.Column("timezone", sa.String(64)),
        sa.Column("when_closed", sa.String(16)),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "enrollment_tokens",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(HASH), nullable=False, unique=True),
        sa.Column("site", sa.String(TEXT), nullable=False),
        sa.Column("created_by", sa.String(TEXT), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger),
        sa.Column("max_uses", sa.Integer),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("revoked_ms", sa.BigInteger),
    )
    op.create_table(
        "boot_clocks",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("device_id", sa.String(SLUG), primary_key=True),
        sa.Column("boot_id", sa.String(64), primary_key=True),
        sa.Column("offset_ms", sa.BigInteger, nullable=False),
        sa.Column("found_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alert_settings",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("webhook_url", sa.String(1000)),
        sa.Column("offline_after_s", sa.BigInteger),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alert_states",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("device_id", sa.String(SLUG), primary_key=True),
        sa.Column("condition", sa.String(32), primary_key=True),
        sa.Column("since_ms", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.String(500)),
    )


def downgrade() -> None:
    for table in ("alert_states", "alert_settings", "boot_clocks", "enrollment_tokens"):
        op.drop_table(table)
    op.drop_table("site_settings")
    with op.batch_alter_table("plays") as batch:
        batch.drop_column("time_estimated")
    with op.batch_alter_table("playlists") as batch:
        batch.drop_column("retired_ms")
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("retired_ms")
