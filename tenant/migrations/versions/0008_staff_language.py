"""The console's language saved on the staff account (issue 12), used at sign-in instead of a
browser cookie, so a librarian finds their language on any computer.

Revision ID: 0008_staff_language
Revises: 0007_plays_report_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_staff_language"
down_revision: str | None = "0007_plays_report_index"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("language")
