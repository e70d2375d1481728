"""Which audio output to use: the best preferred sound card plugged in, else the configured one.

The choice is a pure function over plain data, so it is tested without any hardware;
`AudioOutputs` keeps the output in use and moves the sound when the USB adapter reports that
the set of sound cards changed (called on the core's thread).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from device.config import AudioConfig
from device.events import SoundCard
from device.ports import AudioOutput, Player

__all__ = ["AudioOutputs", "OutputChoice", "choose_output"]

log = logging.getLogger(__name__)

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


class AudioOutputs:
    """The audio output in use, as the technician screen names it."""

    def __init__(self, audio: AudioConfig, player: Player) -> None:
        self.audio = audio
        self.player = player
        self.choice = OutputChoice(audio.output, f"built-in ({audio.output})")

    def cards_changed(self, cards: tuple[SoundCard, ...]) -> None:
        """Move the sound to the best preferred card present, or back to the built-in output.

        Only the output changes: the play goes on with the same journal entry and its
        listened time keeps counting from mpv's progress.
        """
        audio = self.audio
        choice = choose_output(audio.preferred_outputs, cards, self.player.outputs(), audio.output)
        if choice.device != self.choice.device:
            log.info("audio output now %s (%s)", choice.label, choice.device)
            self.player.set_output(choice.device)
        self.choice = choice
