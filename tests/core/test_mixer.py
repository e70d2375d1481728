"""The mixer: the kiosk's volume under its rules, handed to the player on every change."""

from __future__ import annotations

from device.core.volume import Mixer, VolumeRules
from tests.fakes import FakePlayer

RULES = VolumeRules(default=40, minimum=20, maximum=60, step=10)


def test_the_volume_starts_at_the_default_and_reaches_the_player_when_applied() -> None:
    player = FakePlayer()
    mixer = Mixer(player, RULES)
    assert mixer.volume == 40 and player.volume is None
    mixer.apply()
    assert player.volume == 40


def test_steps_stay_within_the_limits() -> None:
    player = FakePlayer()
    mixer = Mixer(player, RULES)
    mixer.step(3)
    assert (mixer.volume, player.volume) == (60, 60)
    mixer.step(-5)
    assert (mixer.volume, player.volume) == (20, 20)


def test_a_reset_returns_to_the_default() -> None:
    player = FakePlayer()
    mixer = Mixer(player, RULES)
    mixer.step(2)
    mixer.reset()
    assert player.volume == 40


def test_new_limits_clamp_the_volume_at_once() -> None:
    player = FakePlayer()
    mixer = Mixer(player, RULES)
    mixer.limit(RULES.limited(10, 30))
    assert (mixer.volume, player.volume, mixer.rules.default) == (30, 30, 30)
    mixer.set(5)
    assert player.volume == 10
