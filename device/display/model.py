"""What the screen shows, as plain data: the core decides, the display adapter draws.

A screen that draws words of its own ("Paused", "Press ▶ to listen") carries the `language`
they are drawn in (device/display/texts.py), so the drawing stays a pure function of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from contract.languages import DEFAULT_LANGUAGE, Language


@dataclass(frozen=True)
class BootScreen:
    version: str
    message: str = ""  # empty: the language's "Starting"
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class NowPlayingScreen:
    playlist: str
    title: str
    artist: str
    elapsed_ms: int
    duration_ms: int | None
    paused: bool = False
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class VolumeScreen:
    """Shown briefly after a volume change, so visitors see the box reacted."""

    volume: int
    minimum: int
    maximum: int
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class AttractScreen:
    """The idle screen: the featured playlist and its editorial note.

    `offset` moves the whole picture a few pixels and `dim` lowers contrast, against burn-in.
    """

    playlist: str
    note: str
    offset: tuple[int, int] = (0, 0)
    dim: bool = False
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class ErrorScreen:
    title: str
    detail: str


@dataclass(frozen=True)
class TechnicianScreen:
    """Label/value rows for the technician: device id, firmware, IP addresses, content, journal."""

    rows: tuple[tuple[str, str], ...]
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class ClaimScreen:
    """A new kiosk waiting to be claimed: the code an admin types, and for which network."""

    tenant: str
    code: str
    site_hint: str = ""
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class RevokedScreen:
    """The tenant withdrew this kiosk: it says so rather than looking broken."""

    tenant: str
    claim_code: str | None = None
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class StickScreen:
    """What a technician's USB stick did, or why it changed nothing (`ok` False)."""

    ok: bool
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentifyScreen:
    """Asked for remotely: the kiosk's name, flashing, so staff can tell which box it is."""

    name: str
    device_id: str
    language: Language = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class TestPatternScreen:
    """The self-test's first step: every pixel's neighbour differs, and a frame at the edge,
    so a dead line, a stuck column or a cropped panel shows at a glance."""

    __test__: ClassVar[bool] = False  # a screen, not a pytest test class (its name says "Test")


SelfTestStep = Literal["tone", "buttons", "done"]
ToneResult = Literal["playing", "ok", "failed"]


@dataclass(frozen=True)
class SelfTestScreen:
    """The self-test's checks: the tone's outcome, then each button and the knob's two
    directions, ticked as the technician presses and turns them."""

    step: SelfTestStep
    tone: ToneResult
    checks: tuple[tuple[str, bool], ...]  # (button name or knob direction, seen)
    language: Language = DEFAULT_LANGUAGE


Screen = (
    BootScreen
    | NowPlayingScreen
    | VolumeScreen
    | AttractScreen
    | ErrorScreen
    | TechnicianScreen
    | ClaimScreen
    | RevokedScreen
    | IdentifyScreen
    | StickScreen
    | TestPatternScreen
    | SelfTestScreen
)
