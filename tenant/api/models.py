"""Request and answer bodies, as pydantic models (they also make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tenant.timefmt import to_ms

Text = Field(min_length=1, max_length=300)


class ErrorBody(BaseModel):
    error: str
    error_description: str


class EnrollRequest(BaseModel):
    public_key: str = Field(
        min_length=40, max_length=64, description="base64url of the raw 32-byte Ed25519 key"
    )
    firmware_version: str = Field(default="unknown", max_length=64)
    enrollment_token: str | None = Field(
        default=None,
        max_length=512,
        description="a provisioning token (site.toml): a valid one claims the device at once",
    )


class EnrollAnswer(BaseModel):
    device_id: str
    status: str
    tenant_name: str
    claim_code: str | None = None
    expires_in: int | None = None
    interval: float | None = None
    enrollment_token_refused: str | None = Field(
        default=None, description="why the enrollment token sent did not claim the device"
    )


class TokenRequest(BaseModel):
    assertion: str = Field(min_length=1, max_length=8192)


class TokenDevice(BaseModel):
    device_id: str
    site: str | None
    name: str | None


class TokenTenant(BaseModel):
    id: str
    name: str
    signing_key: str = Field(
        description="the tenant's Ed25519 public key (base64url, raw 32 bytes) that signs "
        "content packs (docs/usb.md)"
    )


class MqttCredentials(BaseModel):
    host: str
    port: int
    tls: bool
    username: str
    password: str


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    device: TokenDevice
    tenant: TokenTenant
    mqtt: MqttCredentials


class TrackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    title: str = Text
    artist: str = Text
    album: str | None = Field(default=None, max_length=300)
    isrc: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
    duration_ms: int | None = Field(default=None, gt=0, lt=2**40)
    replaygain_track_gain_db: float | None = Field(default=None, ge=-60, le=60)


class TrackEditBody(BaseModel):
    """A correction of a track's text (PATCH /admin/tracks/{id}); the file stays."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=300)
    artist: str | None = Field(default=None, min_length=1, max_length=300)
    album: str | None = Field(default=None, max_length=300, description='"": none')
    isrc: str | None = Field(
        default=None, pattern=r"^([A-Z]{2}[A-Z0-9]{3}[0-9]{7})?$", description='"": none'
    )


class TrackAnswer(BaseModel):
    id: str
    sha256: str
    size: int
    title: str
    artist: str
    album: str | None
    isrc: str | None
    duration_ms: int | None
    replaygain_track_gain_db: float | None


class DeviceTrack(TrackAnswer):
    url: str


class Hours(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    days: str = Field(examples=["mon-sat"])
    from_: str = Field(alias="from", examples=["10:00"])
    to: str = Field(examples=["19:00"])


class PlaylistBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    title: str = Text
    note: str = Field(default="", max_length=4000)
    tracks: list[str] = Field(min_length=1, max_length=2000)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    hours: list[Hours] = Field(default_factory=list, max_length=50)

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _in_calendar(cls, value: datetime | None) -> datetime | None:
        """Refused here (422 naming the field), not stored to fail every later answer."""
        if value is not None:
            to_ms(value)  # raises OutOfCalendar, a ValueError
        return value


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sites: list[str] = Field(default_factory=list, max_length=1000)
    devices: list[str] = Field(default_factory=list, max_length=10000)
    featured: bool = False


class PlaylistAnswer(BaseModel):
    id: str
    title: str
    note: str
    revision: str
    valid_from: str | None
    valid_until: str | None
    hours: list[Hours]
    tracks: list[DeviceTrack]
    featured: bool
    sites: list[str]
    devices: list[str]
    updated_at: str | None


class DevicePlaylist(BaseModel):
    id: str
    title: str
    note: str
    revision: str
    valid_from: str | None
    valid_until: str | None
    hours: list[Hours]
    tracks: list[DeviceTrack]


class DeviceDocument(BaseModel):
    revision: str
    featured: str | None
    playlists: list[DevicePlaylist]


class ClaimBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=32)
    site: str = Text
    name: str | None = Field(default=None, min_length=1, max_length=300)


class DeviceUpdateBody(BaseModel):
    """A new name, or a new site (a kiosk always has a site once claimed)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=300)
    site: str | None = Field(default=None, min_length=1, max_length=300)


class ClaimAnswer(BaseModel):
    device_id: str
    site: str | None
    name: str | None


class DeviceAnswer(BaseModel):
    device_id: str
    name: str | None
    site: str | None
    status: str
    last_contact: str | None
    firmware_version: str
    enrolled_at: str | None
    claimed_at: str | None
    revoked_at: str | None


class RevokeAnswer(BaseModel):
    device_id: str
    status: str


class MediaAnswer(BaseModel):
    sha256: str
    size: int
    stored: bool = Field(description="true when this upload stored it, false if already there")


class PackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    playlists: list[str] = Field(min_length=1, max_length=100)


class PackMedia(BaseModel):
    sha256: str
    size: int


class PackAnswer(BaseModel):
    manifest: str = Field(description="manifest.json, base64 (the exact bytes that were signed)")
    signature: str = Field(description="manifest.sig: the Ed25519 signature, base64url")
    signing_key: str
    media: list[PackMedia]
