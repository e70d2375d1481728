"""The edges of the kiosk: small interfaces the core talks to, each with one real adapter.

The core never imports mpv, gpiozero, luma, paho or pyudev; it only knows these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from device.display.model import Screen
from device.domain import Library, PlayItem
from device.events import EventSink

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class AudioOutput:
    """One audio device the player can send sound to (mpv's audio-device-list entry)."""

    name: str  # e.g. "alsa/plughw:CARD=Device,DEV=0", or "auto"
    description: str = ""


class Player(Protocol):
    """Audio playback. Reports PlaybackStarted/Progress/Ended events to the sink it was given.

    Implementations refuse any path outside the verified media cache and report that as a
    PlaybackEnded(outcome="error") for the item, never as an exception.
    """

    def play(self, item: PlayItem) -> None:
        """Replace whatever plays with `item`, starting now."""

    def preload(self, item: PlayItem | None) -> None:
        """Queue the item to follow the current one without a gap (None clears the queue)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...

    def set_volume(self, percent: int) -> None: ...

    def outputs(self) -> tuple[AudioOutput, ...]:
        """The audio devices available now."""

    def set_output(self, name: str) -> None:
        """Send the sound to `name` from now on, without stopping or restarting what plays."""

    def close(self) -> None: ...


class Display(Protocol):
    """The OLED (or its emulation). `show` must return at once: drawing happens elsewhere."""

    def show(self, screen: Screen) -> None: ...

    def sleep(self) -> None:
        """Turn the panel off (burn-in protection); the next `show` or `wake` turns it on."""

    def wake(self) -> None: ...

    def close(self) -> None: ...


class Clock(Protocol):
    """Monotonic time for durations, wall time only for reports (wrong until NTP syncs)."""

    def monotonic(self) -> float: ...

    def wall_time_ms(self) -> int: ...

    def is_synced(self) -> bool: ...


class ContentSource(Protocol):
    """Where playlists and their verified media come from (a local folder now, the tenant later)."""

    def load(self) -> Library: ...


class Health(Protocol):
    """A part that can be broken while the kiosk plays on (no panel on I2C, no GPIO chip, no
    hot-plug, no audio output): what the technician screen should say about it, if anything.

    A plain attribute satisfies it as well as a property; reading it never blocks for long.
    """

    @property
    def problem(self) -> str | None:
        """What is wrong now, for a technician; None while the part works."""


class EventSource(Protocol):
    """An input edge (buttons, USB, network) that posts events until closed."""

    def start(self, sink: EventSink) -> None: ...

    def close(self) -> None: ...


class TenantHttp(Protocol):
    """Authenticated HTTP to the kiosk's tenant (device/tenant_api/session.py).

    Paths are relative to the tenant base URL (`{service}/t/{tenant}`), e.g.
    "/v1/device/playlists". The access token is added, and renewed once on a 401.
    Raises device.tenant_api.errors.TenantError subclasses for transport failures and
    refusals (revoked, unreachable); returns the response for any other status.
    """

    base_url: str

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response: ...


class RemoteInbox(Protocol):
    """Where the MQTT link hands desired state and commands (device/remote/ implements it).

    Both are called on the MQTT library's thread with the raw payload; they never raise.
    """

    def on_desired(self, payload: bytes) -> None: ...

    def on_command(self, payload: bytes) -> None: ...


class RemotePublisher(Protocol):
    """How remote administration answers the tenant (the MQTT link implements it)."""

    def publish_reported(self, payload: dict[str, Any]) -> None:
        """Retained, QoS 1; the latest wins and is kept until connected."""

    def publish_result(self, payload: dict[str, Any]) -> None:
        """QoS 1; queued while offline."""


class Rebooter(Protocol):
    """Restarts the whole machine (a remote `reboot` command); raises OSError when refused."""

    def reboot(self) -> None: ...
