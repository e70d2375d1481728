"""Plays: playlist_id and track_id as long as the protocol allows (200, was 64).

play-batch.json accepts ids of up to 200 characters; SQLite never enforced the old 64, but
PostgreSQL refused such a play, so the ingester could not store a valid batch and the kiosk
resent it forever.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

COLUMNS = ("playlist_id", "track_id")


def upgrade() -> None:
    with op.batch_alter_table("plays") as batch:
        for column in COLUMNS:
            batch.alter_column(
                column, type_=sa.String(200), existing_type=sa.String(64), existing_nullable=False
            )


def downgrade() -> None:
    with op.batch_alter_table("plays") as batch:
        for column in COLUMNS:
            batch.alter_column(
                column, type_=sa.String(64), existing_type=sa.String(200), existing_nullable=False
            )
