"""Reports read plays from one covering index (issue 12): every grouping column, the time
listened and the estimated flag beside (tenant, played_ms), so a report over a period is an
index range scan without a table lookup per play (bench/console.py; figures in
docs/console.md).

Revision ID: 0007_plays_report_index
Revises: 0006_firmware
"""

from __future__ import annotations

from alembic import op

revision = "0007_plays_report_index"
down_revision: str | None = "0006_firmware"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

COLUMNS = [
    "tenant", "played_ms", "track_id", "listened_ms", "time_estimated", "playlist_id", "site",
    "device_id",
]  # fmt: skip


def upgrade() -> None:
    op.create_index("plays_report", "plays", COLUMNS)


def downgrade() -> None:
    op.drop_index("plays_report", table_name="plays")
