"""Where a technician stick is mounted and how the helper and the daemon tell each other.

The privileged helper (`jukebox stick attach`, systemd/jukebox-stick@.service) mounts the
stick at ``STICK_ROOT/<kernel name>`` and writes ``STICK_ROOT/<kernel name>.json`` (its
verdict: what it applied, or why it refused the stick). The daemon, which may not mount
anything, reads the verdict, imports a content pack from the mounted stick, and answers with
``STATE_DIR/stick/<kernel name>.done``; then the helper writes the diagnostics (if asked),
unmounts, and sets the verdict's state to "done".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from device.display.texts import Phrase

STICK_ROOT = Path("/run/jukebox-stick")
STICK_FOLDER = "jukebox"  # on the stick: what makes it a technician stick
SITE_FILE = "site.toml"
KIOSK_FILE = "kiosk.toml"  # display, buttons, audio… settings (contract/kiosk_settings.py)
DIAGNOSTICS_REQUEST = "export-diagnostics"  # an empty file: "write diagnostics here"
DIAGNOSTICS_DIR = "diagnostics"  # where they are written (ignored when reading the stick)
ACK_DIR = "stick"  # in the state directory: the daemon's answers
KNOWN_ENTRIES = frozenset({SITE_FILE, KIOSK_FILE, "pack", DIAGNOSTICS_REQUEST, DIAGNOSTICS_DIR})
MOUNT_OPTIONS = "ro,nosuid,nodev,noexec"

_KERNEL_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")

VerdictState = Literal["ready", "refused", "done"]


def valid_kernel_name(name: str) -> bool:
    """sda1, sdb, mmcblk1p1, loop3p1: nothing that could climb out of STICK_ROOT."""
    return _KERNEL_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class Verdict:
    """The helper's account of one stick (``STICK_ROOT/<device>.json``).

    What it did is said as phrases (device/display/texts.py): the helper does not know the
    kiosk's language, the daemon's core says them in it.
    """

    device: str
    state: VerdictState
    problems: tuple[str, ...] = ()  # why nothing was changed (state "refused"), as found
    site: tuple[Phrase, ...] = ()  # what the site configuration did
    settings: tuple[Phrase, ...] = ()  # what the kiosk.toml set (the daemon applies it at once)
    pack: bool = False  # a verified pack waits for the daemon
    diagnostics: bool = False  # asked for by the stick
    written: Phrase | None = None  # where the diagnostics went, or why not (state "done")
    notes: tuple[Phrase, ...] = field(default=())  # the daemon's answer about the pack

    def to_json(self) -> bytes:
        value = {
            "device": self.device,
            "state": self.state,
            "problems": list(self.problems),
            "site": [p.to_json() for p in self.site],
            "settings": [p.to_json() for p in self.settings],
            "pack": self.pack,
            "diagnostics": self.diagnostics,
            "written": None if self.written is None else self.written.to_json(),
            "notes": [p.to_json() for p in self.notes],
        }
        return (json.dumps(value, indent=1) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Verdict:
        value: Any = json.loads(data.decode("utf-8"))
        if not isinstance(value, dict) or value.get("state") not in ("ready", "refused", "done"):
            raise ValueError("not a stick verdict")
        written = value.get("written")
        return cls(
            device=str(value["device"]),
            state=value["state"],
            problems=tuple(str(p) for p in value.get("problems", ())),
            site=phrases(value.get("site", ())),
            settings=phrases(value.get("settings", ())),
            pack=bool(value.get("pack", False)),
            diagnostics=bool(value.get("diagnostics", False)),
            written=None if written is None else Phrase.from_json(written),
            notes=phrases(value.get("notes", ())),
        )


def phrases(value: object) -> tuple[Phrase, ...]:
    """Phrases from a JSON array (ValueError if it is not one of phrases)."""
    if not isinstance(value, list):
        raise ValueError(f"not a list of phrases: {value!r:.80}")
    return tuple(Phrase.from_json(item) for item in value)


def verdict_path(stick_root: Path, device: str) -> Path:
    return stick_root / f"{device}.json"


def mount_point(stick_root: Path, device: str) -> Path:
    return stick_root / device


def ack_path(state_dir: Path, device: str) -> Path:
    return state_dir / ACK_DIR / f"{device}.done"
