"""Public-space volume rules: never silent enough to look broken, never loud enough to hurt."""

from __future__ import annotations

from dataclasses import dataclass

from device.config import AudioConfig
from device.ports import Player


@dataclass(frozen=True)
class VolumeRules:
    default: int
    minimum: int
    maximum: int
    step: int

    @classmethod
    def from_config(cls, audio: AudioConfig) -> VolumeRules:
        return cls(audio.default_volume, audio.min_volume, audio.max_volume, audio.volume_step)

    def clamp(self, volume: int) -> int:
        return max(self.minimum, min(self.maximum, volume))

    def up(self, volume: int, steps: int = 1) -> int:
        return self.clamp(volume + self.step * steps)

    def down(self, volume: int, steps: int = 1) -> int:
        return self.clamp(volume - self.step * steps)

    def limited(self, minimum: int, maximum: int) -> VolumeRules:
        """These rules under the tenant's limits; the default moves inside them if needed."""
        return VolumeRules(max(minimum, min(maximum, self.default)), minimum, maximum, self.step)


class Mixer:
    """The kiosk's volume under its rules; every change goes to the player at once."""

    def __init__(self, player: Player, rules: VolumeRules) -> None:
        self.player = player
        self.rules = rules
        self.volume = rules.default

    def apply(self) -> None:
        """Hand the current volume to the player (at start-up)."""
        self.player.set_volume(self.volume)

    def set(self, volume: int) -> None:
        self.volume = self.rules.clamp(volume)
        self.player.set_volume(self.volume)

    def step(self, steps: int) -> None:
        self.set(self.rules.up(self.volume, steps))

    def reset(self) -> None:
        self.set(self.rules.default)

    def limit(self, rules: VolumeRules) -> None:
        """New rules (the tenant's limits) clamp the volume now."""
        self.rules = rules
        self.set(self.volume)
