"""The tables, in portable SQLAlchemy Core types (SQLite by default, PostgreSQL as is).

Times are integer milliseconds since the Unix epoch (UTC); every row belongs to one tenant and
every key starts with the tenant, so no query can cross tenants by accident.

Size: over 400 lines on purpose: every table in one place, so a migration's author sees the
whole schema Alembic compares against (tenant/migrations/).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

SLUG = 64
HASH = 64
TEXT = 300
PROTOCOL_ID = 200  # playlist and track ids in play reports (contract/protocol/schemas)

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
    Column("retired_ms", BigInteger),  # retired: off every kiosk, still in reports
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
    Column("retired_ms", BigInteger),  # retired: off every kiosk, still in reports
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

# The payout index's columns: every one a period's summary reads (revision 0009).
PAYOUT_INDEX_COLUMNS = (
    "tenant", "event_id", "played_ms", "received_ms", "site", "track_id", "started_by",
    "end_reason", "listened_ms",
)  # fmt: skip

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
    # As long as play-batch.json allows (a kiosk's local playlists and tracks too): PostgreSQL
    # enforces the length, and a valid play it refused would be resent forever.
    Column("playlist_id", String(PROTOCOL_ID), nullable=False),
    Column("playlist_revision", String(64), nullable=False),
    Column("track_id", String(PROTOCOL_ID), nullable=False),
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
    # played_ms is an estimate: the kiosk's clock was not synced (re-based on its boot's first
    # synced moment when known, tenant/play_time.py; else the time of arrival).
    Column("time_estimated", Boolean, nullable=False, server_default=false()),
    Index("plays_played", "tenant", "played_ms"),
    Index("plays_device_seq", "tenant", "device_id", "seq"),
    # Reports scan this alone over a period (covering: no table lookup per play).
    Index(
        "plays_report",
        "tenant",
        "played_ms",
        "track_id",
        "listened_ms",
        "time_estimated",
        "playlist_id",
        "site",
        "device_id",
    ),
    # Closing a payout period reads this alone, in event id order, for the plays hash (no
    # sort of a month's plays; tenant/store/payouts.py). PostgreSQL orders it byte-wise
    # (pattern ops: Python's order), whatever the database's collation.
    Index(
        "plays_payout",
        *PAYOUT_INDEX_COLUMNS,
        postgresql_ops={"event_id": "varchar_pattern_ops"},
    ),
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

# ---------------------------------------------------------------------- staff (tenant/accounts.py)

staff_users = Table(
    "staff_users",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("username", String(SLUG), primary_key=True),
    Column("password_hash", String(TEXT), nullable=False),  # Argon2id; "!" for none
    Column("role", String(32), nullable=False),  # network-admin, curator, technician, reports
    Column("sites", Text, nullable=False),  # JSON list: a curator's sites
    Column("disabled", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("language", String(8)),  # the console's language ("en", "fr"); None: the browser's
    ForeignKeyConstraint(["tenant"], ["tenants.slug"]),
)

staff_tokens = Table(
    "staff_tokens",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("token_id", String(32), primary_key=True),  # shown in listings; the token is not
    Column("token_hash", String(HASH), nullable=False, unique=True),  # sha256 of the token
    Column("username", String(SLUG), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger),  # None: no expiry
    Column("revoked_ms", BigInteger),
    Column("last_used_ms", BigInteger),
    ForeignKeyConstraint(["tenant", "username"], ["staff_users.tenant", "staff_users.username"]),
    Index("staff_tokens_user", "tenant", "username"),
)

# Append-only: rows are inserted by tenant/audit.py and never updated or deleted by the API.
audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant", String(SLUG), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(TEXT), nullable=False),  # a username, or "server:<os user>"
    Column("action", String(64), nullable=False),  # e.g. playlist.save, device.claim
    Column("object_type", String(32), nullable=False),  # track, playlist, device, user, …
    Column("object_id", String(TEXT), nullable=False),
    Column("before", Text),  # JSON, when small
    Column("after", Text),  # JSON, when small
    Index("audit_log_time", "tenant", "at_ms"),
    Index("audit_log_actor", "tenant", "actor", "at_ms"),
    Index("audit_log_object", "tenant", "object_type", "object_id"),
)

# ---------------------------------------------------------------------- payouts (tenant/payouts)

PERIOD = 16  # a payout period's name, e.g. 2026-11

# Labels, producers, self-released artists. payment_details never goes to logs or the audit.
payout_holders = Table(
    "payout_holders",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("holder_id", String(SLUG), primary_key=True),
    Column("name", String(TEXT), nullable=False),
    Column("contact", String(TEXT), nullable=False),
    Column("payment_details", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# Who holds a track's rights, in basis points (10,000 = 100 %; a track's rows add up to that).
payout_shares = Table(
    "payout_shares",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("track_id", String(200), primary_key=True),  # as long as plays.track_id
    Column("holder_id", String(SLUG), primary_key=True),
    Column("basis_points", Integer, nullable=False),
    Column("source", String(16), nullable=False),  # tag (imported), manual
    Column("updated_ms", BigInteger, nullable=False),
)

# What a library pays for one period (a month, `YYYY-MM`), in integer minor units.
payout_subscriptions = Table(
    "payout_subscriptions",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("library", String(SLUG), primary_key=True),
    Column("period", String(PERIOD), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# The sites of a library in a period: a site belongs to at most one library per period.
payout_library_sites = Table(
    "payout_library_sites",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("period", String(PERIOD), primary_key=True),
    Column("site", String(TEXT), primary_key=True),
    Column("library", String(SLUG), nullable=False),
    Index("payout_library_sites_library", "tenant", "library", "period"),
)

# The rules of one period (none: the defaults); frozen once the period is closed.
payout_rules = Table(
    "payout_rules",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("period", String(PERIOD), primary_key=True),
    Column("counted_stream_ms", BigInteger, nullable=False),
    Column("counted_started_by", String(64), nullable=False),  # comma-separated
    Column("count_error_ended", Boolean, nullable=False),
    Column("split", String(16), nullable=False),  # plays, listened
    Column("updated_ms", BigInteger, nullable=False),
)

# Closed statements: inserted once by `payouts close`, never updated or deleted.
payout_statements = Table(
    "payout_statements",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("period", String(PERIOD), primary_key=True),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("cutoff_ms", BigInteger, nullable=False),  # the received clock: later plays wait
    Column("plays_sha256", String(HASH), nullable=False),
    Column("body", LargeBinary, nullable=False),  # the canonical bytes that were signed
    Column("signature", LargeBinary, nullable=False),  # Ed25519 over body
    Column("closed_by", String(TEXT), nullable=False),
    Column("closed_ms", BigInteger, nullable=False),
)

# ---------------------------------------------------------------------- field readiness

# A site's settings sent in every desired state; the row with site "" is the network's default.
site_settings = Table(
    "site_settings",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("site", String(TEXT), primary_key=True),
    Column("timezone", String(64)),  # IANA name of hours and schedules; None: inherited
    Column("when_closed", String(16)),  # allow, refuse; None: inherited
    Column("updated_ms", BigInteger, nullable=False),
)

# Zero-touch enrollment (tenant/enrollment_tokens.py): a kiosk enrolling with one is claimed.
enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("token_id", String(32), primary_key=True),
    Column("token_hash", String(HASH), nullable=False, unique=True),
    Column("site", String(TEXT), nullable=False),
    Column("created_by", String(TEXT), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger),  # None: no expiry
    Column("max_uses", Integer),  # None: any number of kiosks
    Column("uses", Integer, nullable=False),
    Column("revoked_ms", BigInteger),
)

# Per boot of a kiosk: wall clock minus uptime at its first synced play (re-basing, plays).
boot_clocks = Table(
    "boot_clocks",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("boot_id", String(64), primary_key=True),
    Column("offset_ms", BigInteger, nullable=False),
    Column("found_ms", BigInteger, nullable=False),  # the tenant's clock
)

# Alerts (tenant/alerts.py): the network's settings and the conditions in force per kiosk.
alert_settings = Table(
    "alert_settings",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("webhook_url", String(1000)),  # None: no webhook
    Column("offline_after_s", BigInteger),  # None: the service's default
    Column("updated_ms", BigInteger, nullable=False),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("condition", String(32), primary_key=True),
    Column("since_ms", BigInteger, nullable=False),
    Column("detail", String(500)),
)

# ---------------------------------------------------------------------- firmware (issue 13)

# A network's release settings: the CA its bundles are signed under, and the pause rule.
firmware_settings = Table(
    "firmware_settings",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("keyring", Text),  # PEM (image-build/release-key's ca.pem); None: none given yet
    Column("max_rollback_percent", Integer),  # None: tenant/firmware_rollout.py's default
    Column("updated_ms", BigInteger, nullable=False),
)

# Uploaded bundles (the bytes are media, by sha256), one per version.
firmware_releases = Table(
    "firmware_releases",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("sha256", String(HASH), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("compatible", String(TEXT), nullable=False),
    Column("uploaded_by", String(TEXT), nullable=False),
    Column("uploaded_ms", BigInteger, nullable=False),
)

# A version being rolled out; its kiosks are those whose desired state names it.
firmware_rollouts = Table(
    "firmware_rollouts",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("scope", Text, nullable=False),  # JSON list of the rollout requests, in order
    Column("allow_downgrade", Boolean, nullable=False),
    Column("started_by", String(TEXT), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("paused_ms", BigInteger),  # None: running
    Column("paused_reason", String(TEXT)),
)

# Each kiosk's latest `update` report (reported state or heartbeat), written by the ingester.
firmware_reports = Table(
    "firmware_reports",
    metadata,
    Column("tenant", String(SLUG), primary_key=True),
    Column("device_id", String(SLUG), primary_key=True),
    Column("report", Text, nullable=False),  # the `update` object (JSON)
    Column("reported_ms", BigInteger, nullable=False),
)
