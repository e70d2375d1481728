"""Firmware over the air (issue 13): release settings, releases, rollouts and the kiosks'
update reports (tenant/store/firmware.py, docs/updates.md).

Revision ID: 0006_firmware
Revises: 0005_payouts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_firmware"
down_revision: str | None = "0005_payouts"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

SLUG = 64
HASH = 64
TEXT = 300


def upgrade() -> None:
    op.create_table(
        "firmware_settings",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("keyring", sa.Text),
        sa.Column("max_rollback_percent", sa.Integer),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "firmware_releases",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(HASH), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("compatible", sa.String(TEXT), nullable=False),
        sa.Column("uploaded_by", sa.String(TEXT), nullable=False),
        sa.Column("uploaded_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "firmware_rollouts",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("allow_downgrade", sa.Boolean, nullable=False),
        sa.Column("started_by", sa.String(TEXT), nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("paused_ms", sa.BigInteger),
        sa.Column("paused_reason", sa.String(TEXT)),
    )
    op.create_table(
        "firmware_reports",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("device_id", sa.String(SLUG), primary_key=True),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("reported_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("firmware_reports", "firmware_rollouts", "firmware_releases",
                  "firmware_settings"):  # fmt: skip
        op.drop_table(table)
