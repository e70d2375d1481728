"""The closed set of events the kiosk core reacts to.

Library callbacks (gpiozero pin threads, mpv's event thread, sockets) only build one of
these and put it on the core's queue; the core thread alone changes state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from device.config import KioskConfig
from device.core.desired import DesiredState
from device.display.texts import Phrase
from device.domain import Library


@dataclass(frozen=True)
class ButtonDown:
    button: str
    at: float  # time.monotonic() of the edge


@dataclass(frozen=True)
class ButtonUp:
    button: str
    at: float


@dataclass(frozen=True)
class Rotated:
    """A rotary encoder detent: +1 clockwise, -1 counter-clockwise."""

    steps: int
    at: float


@dataclass(frozen=True)
class PlaybackStarted:
    """Audio of the item really started (mpv's first playback-restart for it)."""

    token: int
    duration_ms: int | None


@dataclass(frozen=True)
class PlaybackProgress:
    token: int
    position_ms: int


PlaybackOutcome = Literal["eof", "stopped", "error"]


@dataclass(frozen=True)
class PlaybackEnded:
    token: int
    outcome: PlaybackOutcome
    error: str | None = None


@dataclass(frozen=True)
class LibraryUpdated:
    library: Library


EnrollmentState = Literal["enrolling", "pending", "active", "revoked", "unreachable"]


@dataclass(frozen=True)
class EnrollmentChanged:
    """Where the kiosk stands with its tenant; `claim_code` is shown while pending."""

    state: EnrollmentState
    tenant_name: str = ""
    claim_code: str | None = None
    detail: str = ""
    tenant_id: str = ""  # with "active": stamped on plays from now on
    site: str = ""


SyncState = Literal["checking", "downloading", "complete", "failed", "offline"]


@dataclass(frozen=True)
class SyncProgress:
    """Progress of the content sync, for the technician screen."""

    state: SyncState
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    detail: str = ""


@dataclass(frozen=True)
class SoundCard:
    """An ALSA card as /sys names it: `id` like "Device" (mpv's CARD=), `name` like "USB Audio"."""

    index: int
    id: str
    name: str
    usb: bool = False


@dataclass(frozen=True)
class SoundCardsChanged:
    """A sound card came or went; `cards` is every card present now (from the USB adapter)."""

    cards: tuple[SoundCard, ...]


@dataclass(frozen=True)
class StorageAttached:
    """A block device or partition appeared (`fs_type` from udev, "" when udev did not say)."""

    device: str  # kernel name, e.g. "sda1"
    fs_type: str = ""
    usb: bool = False


@dataclass(frozen=True)
class StorageDetached:
    device: str


@dataclass(frozen=True)
class StickReport:
    """What a technician stick did (device/stick): `ok` False means nothing was changed.

    Said as phrases, not text: the core shows them in the kiosk's language (the stick's code
    does not know it)."""

    ok: bool
    title: Phrase
    lines: tuple[Phrase, ...] = ()
    done: bool = False  # the stick was unmounted: it can be pulled out


@dataclass(frozen=True)
class SettingsChanged:
    """New kiosk settings (a technician stick's kiosk.toml laid over the configuration): the
    core takes them at once, without a restart (device/stick/watcher.py)."""

    config: KioskConfig


@dataclass(frozen=True)
class DesiredStateReceived:
    """The tenant's desired state (device/remote): playlists, volume limits, hours, schedule."""

    state: DesiredState


@dataclass(frozen=True)
class IdentifyRequested:
    """The tenant asks the kiosk to show its name, flashing, so someone can find the box."""

    seconds: float


@dataclass(frozen=True)
class Shutdown:
    reason: str = "requested"


Event = (
    ButtonDown
    | ButtonUp
    | Rotated
    | PlaybackStarted
    | PlaybackProgress
    | PlaybackEnded
    | LibraryUpdated
    | EnrollmentChanged
    | SyncProgress
    | SoundCardsChanged
    | StorageAttached
    | StorageDetached
    | StickReport
    | SettingsChanged
    | DesiredStateReceived
    | IdentifyRequested
    | Shutdown
)

EventSink = Callable[[Event], None]
