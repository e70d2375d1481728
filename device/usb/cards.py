"""The sound cards present now, read from /sys (and /proc/asound for their long names).

Plain file reads, no pyudev: the monitor calls this on every sound event so the core always
receives the whole picture, never a delta it could miss.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from device.events import SoundCard

__all__ = ["card_names", "read_sound_cards"]

log = logging.getLogger(__name__)

_CARD = re.compile(r"card(\d+)")
# /proc/asound/cards: " 1 [Device         ]: USB-Audio - USB Audio Device"
_PROC_LINE = re.compile(r"\s*(\d+)\s+\[([^\]]*)\]:\s*[^-]*-\s*(.*)")


def card_names(proc_root: Path = Path("/proc")) -> dict[int, str]:
    """Card index -> long name, from /proc/asound/cards ({} when ALSA is absent)."""
    try:
        text = (proc_root / "asound" / "cards").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    names = {}
    for line in text.splitlines():
        match = _PROC_LINE.fullmatch(line.rstrip())
        if match:
            names[int(match.group(1))] = match.group(3).strip()
    return names


def read_sound_cards(
    sys_root: Path = Path("/sys"), proc_root: Path = Path("/proc")
) -> tuple[SoundCard, ...]:
    """Every ALSA card under sys_root/class/sound, by index; USB ones flagged as such."""
    names = card_names(proc_root)
    cards = []
    folder = sys_root / "class" / "sound"
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return ()
    for entry in entries:
        match = _CARD.fullmatch(entry.name)
        if not match:
            continue
        index = int(match.group(1))
        try:
            card_id = (entry / "id").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue  # removed while we looked
        try:
            usb = "/usb" in str((entry / "device").resolve())
        except OSError:
            usb = False
        cards.append(SoundCard(index, card_id, names.get(index, card_id), usb))
    return tuple(sorted(cards, key=lambda c: c.index))
