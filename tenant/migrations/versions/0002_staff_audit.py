"""Staff accounts, their API tokens and the audit log (tenant/accounts.py, tenant/audit.py).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

SLUG = 64
HASH = 64
TEXT = 300


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("username", sa.String(SLUG), primary_key=True),
        sa.Column("password_hash", sa.String(TEXT), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("sites", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.slug"]),
    )
    op.create_table(
        "staff_tokens",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(HASH), nullable=False, unique=True),
        sa.Column("username", sa.String(SLUG), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger),
        sa.Column("revoked_ms", sa.BigInteger),
        sa.Column("last_used_ms", sa.BigInteger),
        sa.ForeignKeyConstraint(
            ["tenant", "username"], ["staff_users.tenant", "staff_users.username"]
        ),
    )
    op.create_index("staff_tokens_user", "staff_tokens", ["tenant", "username"])
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant", sa.String(SLUG), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(TEXT), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(TEXT), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_index("audit_log_time", "audit_log", ["tenant", "at_ms"])
    op.create_index("audit_log_actor", "audit_log", ["tenant", "actor", "at_ms"])
    op.create_index("audit_log_object", "audit_log", ["tenant", "object_type", "object_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("staff_tokens")
    op.drop_table("staff_users")
