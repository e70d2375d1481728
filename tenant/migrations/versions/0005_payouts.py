"""Payouts: rights holders, track shares, subscriptions, library sites, rules per period and
closed statements (tenant/store/payouts.py, docs/payouts.md).

Revision ID: 0005_payouts
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_payouts"
down_revision: str | None = "0004"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

SLUG = 64
HASH = 64
TEXT = 300
PROTOCOL_ID = 200
PERIOD = 16


def upgrade() -> None:
    op.create_table(
        "payout_holders",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("holder_id", sa.String(SLUG), primary_key=True),
        sa.Column("name", sa.String(TEXT), nullable=False),
        sa.Column("contact", sa.String(TEXT), nullable=False),
        sa.Column("payment_details", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "payout_shares",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("track_id", sa.String(PROTOCOL_ID), primary_key=True),
        sa.Column("holder_id", sa.String(SLUG), primary_key=True),
        sa.Column("basis_points", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "payout_subscriptions",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("library", sa.String(SLUG), primary_key=True),
        sa.Column("period", sa.String(PERIOD), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "payout_library_sites",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("period", sa.String(PERIOD), primary_key=True),
        sa.Column("site", sa.String(TEXT), primary_key=True),
        sa.Column("library", sa.String(SLUG), nullable=False),
    )
    op.create_index(
        "payout_library_sites_library", "payout_library_sites", ["tenant", "library", "period"]
    )
    op.create_table(
        "payout_rules",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("period", sa.String(PERIOD), primary_key=True),
        sa.Column("counted_stream_ms", sa.BigInteger, nullable=False),
        sa.Column("counted_started_by", sa.String(64), nullable=False),
        sa.Column("count_error_ended", sa.Boolean, nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "payout_statements",
        sa.Column("tenant", sa.String(SLUG), primary_key=True),
        sa.Column("period", sa.String(PERIOD), primary_key=True),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("cutoff_ms", sa.BigInteger, nullable=False),
        sa.Column("plays_sha256", sa.String(HASH), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("closed_by", sa.String(TEXT), nullable=False),
        sa.Column("closed_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("payout_statements")
    op.drop_table("payout_rules")
    op.drop_index("payout_library_sites_library", table_name="payout_library_sites")
    op.drop_table("payout_library_sites")
    op.drop_table("payout_subscriptions")
    op.drop_table("payout_shares")
    op.drop_table("payout_holders")
