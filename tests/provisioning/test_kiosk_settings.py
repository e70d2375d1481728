"""A site's kiosk.toml (display, buttons, rotary, audio, playback, visitor) beside site.toml:
checked by `provision image` and `inspect` before a card is written (the kiosk's own rules,
from the contract), kept by first boot, and laid over /etc/jukebox/jukebox.toml by the daemon
(layers: /etc < card < tenant). Real images read back with mtools, real files."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from contract.layout import BOOT_KIOSK_FILE
from device.config import load_config
from device.firstboot.apply import apply_boot_config
from device.firstboot.site_settings import with_site_settings
from tests.provisioning.conftest import SITE_TOML, jukebox, mtype

KIOSK_TOML = """\
# Salle jeunesse: French screens, a quieter kiosk, autoplay on.
[display]
language = "fr"
sleep_after_s = 600

[audio]
max_volume = 60
default_volume = 30

[playback]
autoplay = true

[visitor]
idle_timeout_s = 90

[[buttons]]
name = "play"
pin = 5
press = "play_pause"
hold = "technician"

[rotary]
pin_a = 20
pin_b = 21
"""

ETC_TOML = """\
[device]
name = "generic"
state_dir = "state"

[audio]
min_volume = 10
max_volume = 80
default_volume = 40
volume_step = 5

[display]
driver = "none"
dim_after_s = 30

[[buttons]]
name = "play"
pin = 17
press = "play_pause"

[[buttons]]
name = "next"
pin = 27
press = "next"
"""


@pytest.fixture
def kiosk_toml(site_toml: Path) -> Path:
    path = site_toml.with_name("kiosk.toml")  # beside site.toml: picked up by default
    path.write_text(KIOSK_TOML, encoding="utf-8")
    return path


def test_provisioning_writes_the_kiosk_file_found_beside_the_site_file(
    base_image: Path,
    site_toml: Path,
    kiosk_toml: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "card.img"
    assert jukebox("provision", "image", base_image, "--site-config", site_toml, "-o", out) == 0
    assert mtype(out, PurePosixPath(str(BOOT_KIOSK_FILE))) == KIOSK_TOML
    printed = capsys.readouterr().out
    assert f"{kiosk_toml}: valid" in printed
    assert "  display: language = 'fr', sleep_after_s = 600" in printed
    assert "wrote jukebox/kiosk.toml beside it" in printed

    assert jukebox("provision", "inspect", out) == 0
    inspected = capsys.readouterr().out
    assert "the kiosk keeps jukebox/kiosk.toml (valid) as its settings:" in inspected
    assert "  buttons: 1 defined" in inspected


def test_a_broken_kiosk_file_names_every_problem_and_writes_no_card(
    base_image: Path, site_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = tmp_path / "salle.toml"
    kiosk.write_text(
        '[display]\nlanguage = "de"\n[audio]\nmax_volum = 60\n[device]\nname = "x"\n'
        "[rotary]\npin_a = 5\npin_b = 5\n"
    )
    out = tmp_path / "card.img"
    code = jukebox(
        "provision", "image", base_image, "--site-config", site_toml, "--kiosk-config", kiosk,
        "-o", out,
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"jukebox provision: {kiosk}: device: unknown key, expected one of: audio, buttons, "
        "combos, display, playback, rotary, visitor",
        f"{kiosk}: audio.max_volum: unknown key, did you mean 'max_volume'?",
        f"{kiosk}: display.language: expected one of 'en', 'fr', got 'de'",
        f"{kiosk}: rotary.pin_b: must differ from pin_a (5)",
    ]
    assert not out.exists()


def test_inspect_checks_a_kiosk_file_alone(
    kiosk_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jukebox("provision", "inspect", kiosk_toml) == 0
    assert "  visitor: idle_timeout_s = 90" in capsys.readouterr().out
    broken = tmp_path / "other" / "kiosk.toml"
    broken.parent.mkdir()
    broken.write_text("[playback]\nautoplay = 'yes'\n")
    assert jukebox("provision", "inspect", broken) == 2
    assert capsys.readouterr().err == (
        f"jukebox provision inspect: {broken}: playback.autoplay: expected true or false, "
        "got 'yes'\n"
    )


def boot_with(tmp_path: Path, kiosk: str | None, site: str | None = SITE_TOML) -> Path:
    boot = tmp_path / "boot"
    (boot / "jukebox").mkdir(parents=True)
    if site is not None:
        (boot / "jukebox" / "site.toml").write_text(site, encoding="utf-8")
    if kiosk is not None:
        (boot / BOOT_KIOSK_FILE).write_text(kiosk, encoding="utf-8")
    return boot


def etc_config(tmp_path: Path) -> Path:
    etc = tmp_path / "etc" / "jukebox.toml"
    etc.parent.mkdir()
    etc.write_text(ETC_TOML, encoding="utf-8")
    return etc


def test_first_boot_keeps_the_kiosk_file_and_the_daemon_lays_it_over_etc(tmp_path: Path) -> None:
    etc = etc_config(tmp_path)
    state = tmp_path / "etc" / "state"
    result = apply_boot_config(boot_with(tmp_path, KIOSK_TOML), state)
    assert result.kiosk_file is not None and state / "kiosk.toml" in result.written
    assert (state / "kiosk.toml").read_text() == KIOSK_TOML
    assert (tmp_path / "boot" / BOOT_KIOSK_FILE).read_text() == KIOSK_TOML  # no secret: stays

    config, problems = with_site_settings(load_config(etc))
    assert problems == []
    assert config.display.language == "fr" and config.display.sleep_after_s == 600
    assert config.display.dim_after_s == 30  # from /etc: tables merge key by key
    assert (config.audio.min_volume, config.audio.max_volume) == (10, 60)
    assert config.playback.autoplay and config.visitor.idle_timeout_s == 90
    assert [(b.name, b.pin) for b in config.buttons] == [("play", 5)]  # replaced whole
    assert config.rotary is not None and config.rotary.pin_a == 20
    assert config.device.name == "Kiosque de l'entrée"  # the site file still applies


def test_a_kiosk_file_alone_on_the_card_is_applied_too(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = apply_boot_config(boot_with(tmp_path, "[visitor]\nidle_timeout_s = 60\n", None), state)
    assert result.config is None and result.written == (state / "kiosk.toml",)


def test_a_broken_kiosk_file_on_the_card_changes_nothing_but_the_error_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    boot = boot_with(tmp_path, "[audio]\nmin_volume = 90\nmax_volume = 20\n")
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 2
    problem = f"{boot / BOOT_KIOSK_FILE}: audio.min_volume: must not exceed max_volume (20)"
    assert capsys.readouterr().err == f"jukebox firstboot: {problem}\n"
    assert {p.name for p in state.iterdir()} == {"firstboot-error.txt"}
    assert (boot / "jukebox" / "site.toml").read_text() == SITE_TOML  # secrets not moved


def test_a_kiosk_file_wrong_only_with_etc_is_ignored_and_said_on_the_technician_screen(
    tmp_path: Path,
) -> None:
    etc = etc_config(tmp_path)
    state = tmp_path / "etc" / "state"
    state.mkdir()
    (state / "kiosk.toml").write_text("[audio]\ndefault_volume = 90\n")  # /etc's max is 80
    config, problems = with_site_settings(load_config(etc))
    assert config.audio.default_volume == 40
    assert problems == [
        f"kiosk settings ignored: {etc} < {state / 'kiosk.toml'}: audio.default_volume: "
        "expected a value between min_volume (10) and max_volume (80), got 90"
    ]
