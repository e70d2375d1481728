"""The first tables: tenant/store/schema.py before the staff accounts (commit 0b94ede).

The definitions are a frozen copy of schema.py at that time: a revision never imports the live
schema, which moves on. Before Alembic owned the schema (commit f6f612a), `metadata.create_all`
made the tables; a database it made before the staff accounts has exactly these, one made
after them also has revision 0002's. `jukebox tenant migrate` marks such a database (it has no
alembic_version table) as the revision whose tables it holds (tenant/store/migrate.py,
PRE_ALEMBIC) and upgrades it from there.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

metadata = MetaData()

SLUG = 64
HASH = 64
TEXT = 300

tenants = Table(
    "tenants",
    metadata,
    Column("slug", String(SLUG), primary_key=True),
    Column("name", String(TEXT), nullable=False),
    Column("mqtt_host", String(255), nullable=False),
    Column("mqtt_port", Integer, nullable=False),
    Column("mqtt_tls", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("token_hash", String(HASH), primary_key=True),
    Column("tenant", String(SLUG), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant"], ["tenants.slug"]),
)

devices = Table(
    "devices",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("firmware_version", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending, active, revoked
    Column("site", String(TEXT)),
    Column("name", String(TEXT)),
    Column("claim_code_hash", String(HASH)),
    Column("claim_expires_ms", BigInteger),
    Column("poll_interval_ms", BigInteger, nullable=False),
    Column("last_poll_ms", BigInteger),
    Column("mqtt_nonce", String(HASH)),
    Column("enrolled_ms", BigInteger, nullable=False),
    Column("claimed_ms", BigInteger),
    Column("revoked_ms", BigInteger),
    Column("last_contact_ms", BigInteger),
    ForeignKeyConstraint(["tenant"], ["tenants.slug"]),
    Index("devices_claim_code", "tenant", "claim_code_hash"),
)

assertion_ids = Table(
    "assertion_ids",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("jti", String(200), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
    Index("assertion_ids_expiry", "expires_ms"),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_hash", String(HASH), primary_key=True),
    Column("tenant", String(SLUG), nullable=False),
    Column("device_id", String(SLUG), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Index("access_tokens_device", "tenant", "device_id"),
)

media = Table(
    "media",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("sha256", String(HASH), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

tracks = Table(
    "tracks",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("id", String(SLUG), primary_key=True),
    Column("sha256", String(HASH), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("title", String(TEXT), nullable=False),
    Column("artist", String(TEXT), nullable=False),
    Column("album", String(TEXT)),
    Column("isrc", String(12)),
    Column("duration_ms", BigInteger),
    Column("replaygain_track_gain_db", Float),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("tenant", "sha256", name="tracks_sha256"),
)

playlists = Table(
    "playlists",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("id", String(SLUG), primary_key=True),
    Column("title", String(TEXT), nullable=False),
    Column("note", Text, nullable=False),
    Column("valid_from_ms", BigInteger),
    Column("valid_until_ms", BigInteger),
    Column("hours", Text, nullable=False),  # JSON list
    Column("revision", String(HASH), nullable=False),
    Column("featured", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

playlist_tracks = Table(
    "playlist_tracks",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("playlist_id", String(SLUG), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("track_id", String(SLUG), nullable=False),
    Index("playlist_tracks_track", "tenant", "track_id"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("playlist_id", String(SLUG), primary_key=True),
    Column("kind", String(8), primary_key=True),  # site, device
    Column("target", String(TEXT), primary_key=True),
    Index("assignments_target", "tenant", "kind", "target"),
)

# ---------------------------------------------------------------------- MQTT (tenant/ingest)

plays = Table(
    "plays",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("event_id", String(64), primary_key=True),  # the device's uuid4: idempotency key
    Column("device_id", String(SLUG), nullable=False),
    Column("site", String(TEXT), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("firmware_version", String(64), nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("playlist_id", String(SLUG), nullable=False),
    Column("playlist_revision", String(64), nullable=False),
    Column("track_id", String(SLUG), nullable=False),
    Column("isrc", String(12)),
    Column("track_duration_ms", BigInteger),
    Column("started_by", String(16), nullable=False),
    Column("started_wall_ms", BigInteger, nullable=False),
    Column("clock_synced", Boolean, nullable=False),
    Column("started_uptime_ms", BigInteger, nullable=False),
    Column("listened_ms", BigInteger, nullable=False),
    Column("end_reason", String(16), nullable=False),
    Column("ended_wall_ms", BigInteger),
    Column("error", String(500)),
    Column("received_ms", BigInteger, nullable=False),  # the tenant's clock
    # When it was played, for reports: started_wall_ms when the device's clock was synced,
    # else the time the tenant received it (an upper bound).
    Column("played_ms", BigInteger, nullable=False),
    Index("plays_played", "tenant", "played_ms"),
    Index("plays_device_seq", "tenant", "device_id", "seq"),
)

device_status = Table(
    "device_status",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("online", Boolean),  # None: never seen on the broker
    Column("since_ms", BigInteger),  # when `online` (or the boot) last changed
    Column("reason", String(200)),  # why offline: lost, shutdown, revoked
    Column("boot_id", String(64)),
    Column("status_ms", BigInteger),
    Column("heartbeat", Text),  # the last heartbeat payload (JSON)
    Column("heartbeat_ms", BigInteger),
    Column("reported_version", BigInteger),
    Column("reported_status", String(16)),  # applied, syncing, rejected
    Column("reported_problem", String(500)),
    Column("reported_missing", Text),  # JSON list of playlist ids
    Column("reported_ms", BigInteger),
)

desired_states = Table(
    "desired_states",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("document", Text, nullable=False),  # the desired-state payload without its version
    Column("pushed_ms", BigInteger, nullable=False),
)

commands = Table(
    "commands",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("command", String(64)),
    Column("requested_ms", BigInteger),  # None: a result for a request this tenant did not send
    Column("ok", Boolean),  # None until the result arrives
    Column("error", String(1000)),
    Column("result", Text),  # JSON object
    Column("result_ms", BigInteger),
)

tenant_rules = Table(
    "tenant_rules",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    # A play counts as a stream from this many ms listened (None: the service's default).
    Column("counted_stream_ms", BigInteger),
)


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
