"""Configuration: every broken file gets a message naming the file, the key and the expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contract.toml_reader import ConfigError
from device.config import load_config
from device.domain import Action

VALID = """
[device]
name = "Médiathèque Centre"
state_dir = "state"

[audio]
default_volume = 30
min_volume = 10
max_volume = 70

[display]
driver = "sh1106"
i2c_address = 0x3D
rotation = 2

[[buttons]]
name = "play"
pin = "GPIO17"
press = "play_pause"
hold = "technician"

[[buttons]]
name = "next"
pin = 27
press = "next"

[[combos]]
buttons = ["play", "next"]
action = "next_playlist"

[rotary]
pin_a = 5
pin_b = 6
"""

BROKEN = [
    ("[audio]\nmax_volum = 3\n", "audio.max_volum: unknown key, did you mean 'max_volume'?"),
    (
        "[audio]\nmax_volume = 120\n",
        "audio.max_volume: expected a whole number from 0 to 100, got 120",
    ),
    (
        "[audio]\nmax_volume = 'loud'\n",
        "audio.max_volume: expected a whole number from 0 to 100, got 'loud'",
    ),
    (
        "[audio]\nmin_volume = 50\nmax_volume = 40\ndefault_volume = 45\n",
        "audio.min_volume: must not exceed max_volume (40)",
    ),
    (
        "[audio]\ndefault_volume = 90\n",
        "audio.default_volume: expected a value between min_volume (10) and max_volume (80), got 90",
    ),
    (
        "[display]\ndriver = 'ssd1309'\n",
        "display.driver: expected one of 'ssd1306', 'sh1106', 'emulated', 'none', got 'ssd1309'",
    ),
    ("[display]\nrotation = 4\n", "display.rotation: expected a whole number from 0 to 3, got 4"),
    (
        "[display]\ndriver = 'emulated'\n",
        "display.emulator_output: required when the gif emulator is used",
    ),
    (
        "[[buttons]]\nname = 'play'\npin = 40\npress = 'play_pause'\n",
        "buttons[0].pin: expected a BCM GPIO number from 0 to 27 or a name like 'GPIO17', got 40",
    ),
    (
        "[[buttons]]\nname = 'play'\npin = 'GPIOX'\n",
        "buttons[0].pin: expected a BCM GPIO number from 0 to 27 or a name like 'GPIO17', got 'GPIOX'",
    ),
    ("[[buttons]]\nname = 'play'\n", "buttons[0].pin: missing, this key is required"),
    (
        "[[buttons]]\nname = 'play'\npin = 17\npress = 'dance'\n",
        "buttons[0].press: expected an action: 'play_pause', 'next', 'previous', 'next_playlist', "
        "'volume_up', 'volume_down', 'technician', got 'dance'",
    ),
    (
        "[[buttons]]\nname = 'a'\npin = 17\n[[buttons]]\nname = 'b'\npin = 17\n",
        "buttons[1].pin: GPIO17 is already used by buttons[0].pin",
    ),
    (
        "[[buttons]]\nname = 'a'\npin = 17\n[[buttons]]\nname = 'a'\npin = 18\n",
        "buttons[1].name: 'a' names two buttons",
    ),
    (
        "[[buttons]]\nname = 'a'\npin = 17\nhold_time_s = 0\n",
        "buttons[0].hold_time_s: expected a number of seconds from 0.2 to 30, got 0",
    ),
    (
        "[[buttons]]\nname = 'a'\npin = 17\n[[combos]]\nbuttons = ['a', 'z']\naction = 'technician'\n",
        "combos[0].buttons: 'z' is not a button name (buttons: a), got ['a', 'z']",
    ),
    ("[rotary]\npin_a = 5\npin_b = 5\n", "rotary.pin_b: must differ from pin_a (5)"),
    (
        "[[buttons]]\nname = 'a'\npin = 5\n[rotary]\npin_a = 5\npin_b = 6\n",
        "rotary.pin_a: GPIO5 is already used by buttons[0].pin",
    ),
    ("buttons = 3\n", "buttons: expected an array of tables [[buttons]]"),
    ("audio = 3\n", "audio: expected a table [audio], got 3"),
    ("[sound]\n", "sound: unknown key, expected one of: audio, buttons, combos, device, display"),
    ("[playback]\nautoplay = 'yes'\n", "playback.autoplay: expected true or false, got 'yes'"),
    ("[audio\n", "not valid TOML: "),
    (
        "[tenant]\nurl = 'ftp://x/t/a'\n",
        "tenant.url: expected the tenant's base URL, like 'https://tenant.example/t/slug', "
        "got 'ftp://x/t/a'",
    ),
    ("[tenant]\nverify_tls = true\n", "tenant.url: missing, this key is required"),
    (
        "[tenant]\nurl = 'https://x/t/a'\ncache_quota_mb = 1\n",
        "tenant.cache_quota_mb: expected a whole number from 16 to 1048576, got 1",
    ),
]


@pytest.mark.parametrize(("text", "message"), BROKEN, ids=[m.split(":")[0] for _, m in BROKEN])
def test_broken_configuration_is_named_precisely(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "jukebox.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_valid_configuration_is_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "jukebox.toml"
    path.write_text(VALID)
    config = load_config(path)
    assert config.device.state_dir == tmp_path / "state"
    assert config.device.journal_path == tmp_path / "state" / "journal.sqlite3"
    assert config.display.i2c_address == 0x3D and config.display.driver == "sh1106"
    assert config.buttons[0].pin == 17 and config.buttons[0].hold is Action.TECHNICIAN
    assert config.combos[0].action is Action.NEXT_PLAYLIST
    assert config.rotary is not None and config.rotary.pin_b == 6


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(binary)


def test_the_daemon_refuses_a_broken_configuration_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "jukebox.toml"
    path.write_text("[audio]\nmax_volume = 120\n")
    result = subprocess.run(
        [sys.executable, "-m", "jukebox", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{path}: audio.max_volume: expected a whole number from 0 to 100" in result.stderr


@pytest.mark.parametrize(
    "example",
    sorted((Path(__file__).parents[2] / "docs" / "examples").glob("*.toml")),
    ids=lambda p: p.name,
)
def test_documented_examples_are_valid(example: Path) -> None:
    config = load_config(example)
    assert config.buttons, f"{example} defines no button"


def test_a_broken_file_reports_every_problem_at_once_first_problem_first(tmp_path: Path) -> None:
    path = tmp_path / "jukebox.toml"
    path.write_text(
        "[audio]\nmax_volume = 120\nvolum_step = 3\n"
        "[display]\nrotation = 9\n"
        "[[buttons]]\npin = 99\n"
        "[tenant]\nverify_tls = 'yes'\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    lines = str(raised.value).splitlines()
    assert lines == [
        f"{path}: buttons[0].name: missing, this key is required",
        f"{path}: buttons[0].pin: expected a BCM GPIO number from 0 to 27 or a name like "
        "'GPIO17', got 99",
        f"{path}: audio.volum_step: unknown key, did you mean 'volume_step'?",
        f"{path}: audio.max_volume: expected a whole number from 0 to 100, got 120",
        f"{path}: display.rotation: expected a whole number from 0 to 3, got 9",
        f"{path}: tenant.url: missing, this key is required",
        f"{path}: tenant.verify_tls: expected true or false, got 'yes'",
    ]
    assert [str(p) for p in raised.value.problems] == lines
    assert (raised.value.key, raised.value.problem) == (
        "buttons[0].name",
        "missing, this key is required",
    )


def test_a_parsers_own_limit_is_one_line_naming_the_file_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "jukebox.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "jukebox", "run", "--check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"jukebox: configuration error: {path}: not valid TOML: nested too deeply for this reader"
    ]
