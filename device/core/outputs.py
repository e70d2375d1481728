"""Which audio output to use: the best preferred sound card plugged in, else the configured one.

Pure functions over plain data, so the choice is tested without any hardware; the core calls
them when the USB adapter reports that the set of sound cards changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from device.events import SoundCard
from device.ports import AudioOutput

__all__ = ["OutputChoice", "choose_output"]

# mpv names one ALSA card several ways; plughw converts rates and formats, so it always opens.
_PREFERRED_KINDS = ("alsa/plughw:", "alsa/default:", "alsa/sysdefault:", "alsa/hw:")


@dataclass(frozen=True)
class OutputChoice:
    device: str  # mpv's audio-device name
    label: str  # for the technician screen
    card: SoundCard | None = None  # the preferred card in use, None for the built-in output


def _matches(preference: str, card: SoundCard) -> bool:
    wanted = preference.casefold()
    return wanted in card.id.casefold() or wanted in card.name.casefold()


def _output_for(card: SoundCard, outputs: Sequence[AudioOutput]) -> AudioOutput | None:
    tag = f"CARD={card.id}".casefold()
    candidates = [o for o in outputs if tag in o.name.casefold() or card.name in o.description]
    for kind in _PREFERRED_KINDS:
        for output in candidates:
            if output.name.startswith(kind):
                return output
    return candidates[0] if candidates else None


def choose_output(
    preferences: Sequence[str],
    cards: Sequence[SoundCard],
    outputs: Sequence[AudioOutput],
    fallback: str,
) -> OutputChoice:
    """The first preference matching a present card that mpv can open, else `fallback`.

    A preferred card mpv does not list yet (ALSA still setting it up) is skipped; the next
    change event for that card picks it.
    """
    for preference in preferences:
        for card in cards:
            if not _matches(preference, card):
                continue
            output = _output_for(card, outputs)
            if output is not None:
                return OutputChoice(output.name, card.name, card)
    return OutputChoice(fallback, f"built-in ({fallback})")
