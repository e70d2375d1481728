"""Bodies of the remote administration endpoints (push, status, commands, plays)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenant.api.models import Hours
from tenant.fleet import SETTINGS as PUSH_SETTINGS

PLAYLIST_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class VolumeLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = Field(ge=0, le=100)
    max: int = Field(ge=0, le=100)


class ScheduleEntry(Hours):
    playlist: str = Field(pattern=PLAYLIST_ID)


class PushBody(BaseModel):
    """Which kiosks, what to assign them, and the settings to change. A setting left out keeps
    its previous value; given as null it is cleared."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    devices: list[str] = Field(default_factory=list, max_length=10000)
    sites: list[str] = Field(default_factory=list, max_length=1000)
    all: bool = Field(default=False, description="every active kiosk of the tenant")
    playlists: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="assigned to the kiosks (device scope), besides what they already have",
    )
    featured: str | None = Field(default=None, pattern=PLAYLIST_ID)
    volume: VolumeLimits | None = None
    opening_hours: list[Hours] | None = Field(default=None, max_length=50)
    schedule: list[ScheduleEntry] | None = Field(default=None, max_length=50)
    language: Literal["en", "fr"] | None = Field(
        default=None, description="the screens' language; null: the kiosk's own configuration"
    )
    autoplay: bool | None = Field(
        default=None, description="start the default playlist unasked (within opening hours)"
    )
    idle_timeout_s: float | None = Field(
        default=None, ge=1, le=86400, description="seconds without a visitor before defaults"
    )

    def settings(self) -> dict[str, Any]:
        """The settings given in the request (a null one clears it)."""
        dumped = self.model_dump(by_alias=True)
        return {k: dumped[k] for k in PUSH_SETTINGS if k in self.model_fields_set}


class PushedDevice(BaseModel):
    device_id: str
    version: int
    desired: dict[str, Any] = Field(description="the desired-state payload published, retained")


class PushAnswer(BaseModel):
    devices: list[PushedDevice]


class ReportedState(BaseModel):
    version: int
    status: str | None
    problem: str | None
    missing: list[str]


class FleetDevice(BaseModel):
    device_id: str
    name: str | None
    site: str | None
    status: str = Field(description="account: pending, active, revoked")
    online: bool | None = Field(description="null: never seen on the broker")
    online_since: str | None
    offline_reason: str | None
    heartbeat: dict[str, Any] | None = Field(description="the last heartbeat payload")
    heartbeat_at: str | None
    heartbeat_age_s: float | None
    reported: ReportedState | None
    reported_at: str | None
    reported_age_s: float | None
    desired_version: int | None
    pushed_at: str | None
    rollout: Literal["applied", "syncing", "rejected", "pending", "offline"] | None = Field(
        description="how far the kiosk got with its latest desired state (null: none pushed)"
    )


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: Literal["resync", "identify", "reboot", "diagnostics"]
    seconds: int | None = Field(default=None, ge=1, le=600, description="identify: how long")
    lines: int | None = Field(default=None, ge=1, le=500, description="diagnostics: log lines")


class CommandAnswer(BaseModel):
    device_id: str
    request_id: str
    command: str | None
    requested_at: str | None
    done: bool = Field(description="the kiosk's result has arrived")
    ok: bool | None
    error: str | None
    result: dict[str, Any] | None
    result_at: str | None


class PlayGroupAnswer(BaseModel):
    key: str
    label: str
    plays: int
    counted: int = Field(description="plays listened to for at least counted_stream_s")
    listened_ms: int
    time_estimated: int = Field(
        default=0,
        description="plays whose time is an estimate: the kiosk's clock was not synced (re-based "
        "on its boot's first synced moment, else the time the tenant received them)",
    )


class PlaysAnswer(BaseModel):
    by: str
    counted_stream_s: float
    from_: str | None = Field(alias="from")
    to: str | None
    groups: list[PlayGroupAnswer]


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counted_stream_s: float | None = Field(
        ge=0, le=3600, description="a play counts as a stream from this long; null: the default"
    )


class RulesAnswer(BaseModel):
    counted_stream_s: float = Field(description="in force for this tenant")
    default_counted_stream_s: float = Field(description="the service's default")
    own: bool = Field(description="the tenant set its own threshold")
