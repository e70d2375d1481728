"""Closing a payout period reads plays from one covering index in event id order (issue 14):
the plays hash is taken in that order, and without the index the database sorts the month's
plays (10 M of them) first. PostgreSQL's index orders event ids byte-wise (varchar_pattern_ops,
read with `ORDER BY event_id USING ~<~`): Python's order of str, whatever the database's
collation. Figures in docs/payouts.md (bench/payouts.py).

Revision ID: 0009_plays_payout_index
Revises: 0008_staff_language
"""

from __future__ import annotations

from alembic import op

revision = "0009_plays_payout_index"
down_revision: str | None = "0008_staff_language"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

COLUMNS = [
    "tenant", "event_id", "played_ms", "received_ms", "site", "track_id", "started_by",
    "end_reason", "listened_ms",
]  # fmt: skip


def upgrade() -> None:
    op.create_index(
        "plays_payout", "plays", COLUMNS, postgresql_ops={"event_id": "varchar_pattern_ops"}
    )


def downgrade() -> None:
    op.drop_index("plays_payout", table_name="plays")
