"""`jukebox firstboot`: the secrets leave the boot partition for the state directory (0600),
applying twice changes nothing, and a broken file changes nothing but the error file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract.site import parse_site_config
from device.firstboot import wpa
from device.firstboot.applied import applied_site, enrollment_token, firstboot_error
from device.firstboot.apply import apply_boot_config
from tests.provisioning.conftest import PSK, SITE_TOML, TOKEN, jukebox

STATE_FILES = {"site.toml", "enrollment-token", "network/wpa_supplicant-wlan0.conf"}


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    folder = tmp_path / "boot"
    (folder / "jukebox").mkdir(parents=True)
    (folder / "jukebox" / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    return folder


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def snapshot(*folders: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's content, mode and inode: a rewrite with the same bytes shows too."""
    return {
        str(p): (p.read_bytes(), p.stat().st_mode, p.stat().st_ino)
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def files(state: Path) -> set[str]:
    return {str(p.relative_to(state)) for p in state.rglob("*") if p.is_file()}


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_first_boot_moves_the_secrets_to_the_state_directory_and_off_the_card(
    boot: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 0
    assert files(state) == STATE_FILES
    assert (state / "enrollment-token").read_text() == f"{TOKEN}\n"
    assert mode(state / "enrollment-token") == 0o600
    network = (state / "network" / "wpa_supplicant-wlan0.conf").read_text()
    assert mode(state / "network" / "wpa_supplicant-wlan0.conf") == 0o600
    assert mode(state / "network") == 0o700
    assert "country=FR\n" in network
    assert f"\tssid={'Médiathèque Public'.encode().hex()}\n" in network
    assert f"\tpsk={wpa.derive_psk(PSK, 'Médiathèque Public')}\n" in network
    assert PSK not in network

    public = (state / "site.toml").read_text()
    assert mode(state / "site.toml") == 0o644
    original = parse_site_config(SITE_TOML, "site.toml")
    assert parse_site_config(public, "state", allow_moved_psk=True) == original.without_secrets()

    card = (boot / "jukebox" / "site.toml").read_text()
    assert PSK not in card and TOKEN not in card
    assert (
        "# The secrets (tenant.enrollment_token, wifi.psk) moved to the device at boot on" in card
    )
    assert parse_site_config(card, "card", allow_moved_psk=True) == original.without_secrets()
    assert sorted(p.name for p in (boot / "jukebox").iterdir()) == ["site.toml"]
    out = capsys.readouterr().out
    assert "moved tenant.enrollment_token, wifi.psk off the boot partition" in out
    assert PSK not in out and TOKEN not in out


def test_a_second_boot_changes_nothing(
    boot: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_boot_config(boot, state).written
    before = snapshot(boot, state)
    result = apply_boot_config(boot, state)
    assert not result.changed
    assert snapshot(boot, state) == before
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 0
    assert capsys.readouterr().out.endswith("already applied, nothing changed\n")
    assert snapshot(boot, state) == before


def test_a_technician_putting_new_secrets_on_the_card_gets_them_applied(
    boot: Path, state: Path
) -> None:
    apply_boot_config(boot, state)
    site = boot / "jukebox" / "site.toml"
    site.write_text(SITE_TOML.replace(TOKEN, "enr-second").replace("Médiathèque Public", "Staff"))
    result = apply_boot_config(boot, state)
    assert result.moved == ("tenant.enrollment_token", "wifi.psk")
    assert (state / "enrollment-token").read_text() == "enr-second\n"
    network = (state / "network" / "wpa_supplicant-wlan0.conf").read_text()
    assert '\tssid="Staff"\n' in network and wpa.derive_psk(PSK, "Staff") in network
    assert "enr-second" not in site.read_text()


def test_a_changed_country_keeps_the_key_but_a_new_network_needs_its_passphrase(
    boot: Path, state: Path
) -> None:
    apply_boot_config(boot, state)
    site = boot / "jukebox" / "site.toml"
    key = wpa.derive_psk(PSK, "Médiathèque Public")
    site.write_text(site.read_text().replace('"FR"', '"BE"'))
    assert apply_boot_config(boot, state).written == (
        state / "network/wpa_supplicant-wlan0.conf",
        state / "site.toml",
    )
    network = (state / "network" / "wpa_supplicant-wlan0.conf").read_text()
    assert "country=BE\n" in network and key in network

    site.write_text(site.read_text().replace("Médiathèque Public", "Staff"))
    before = snapshot(state)
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 2
    error = (state / "firstboot-error.txt").read_text()
    assert error == (
        f"{site}: wifi.psk: missing, the Wi-Fi network 'Staff' needs it "
        "(this kiosk has another network's passphrase)\n"
    )
    assert {k: v for k, v in snapshot(state).items() if "error" not in k} == before


def test_removing_the_wifi_section_removes_the_network(boot: Path, state: Path) -> None:
    apply_boot_config(boot, state)
    site = boot / "jukebox" / "site.toml"
    text = site.read_text()
    site.write_text(text[: text.index("[wifi]")])
    result = apply_boot_config(boot, state)
    assert result.removed == (state / "network" / "wpa_supplicant-wlan0.conf",)
    assert files(state) == {"site.toml", "enrollment-token"}


def test_a_broken_file_exits_2_changes_nothing_and_leaves_the_error_for_the_screen(
    boot: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = boot / "jukebox" / "site.toml"
    site.write_text(SITE_TOML.replace(PSK, "short"))
    before = site.read_bytes()
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 2
    message = f"{site}: wifi.psk: expected 8 to 63 characters, or 64 hex digits, got 5 characters"
    assert capsys.readouterr().err == f"jukebox firstboot: {message}\n"
    assert files(state) == {"firstboot-error.txt"}
    assert (state / "firstboot-error.txt").read_text() == f"{message}\n"
    assert site.read_bytes() == before

    site.write_text(SITE_TOML)  # fixed: applied, and the error is gone
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 0
    assert files(state) == STATE_FILES


def test_without_a_boot_file_there_is_nothing_to_do(tmp_path: Path, state: Path) -> None:
    result = apply_boot_config(tmp_path / "empty-boot", state)
    assert (result.config, result.changed) == (None, False)
    assert not state.exists()


def test_a_rewrite_cut_by_a_power_loss_is_finished_at_the_next_boot(
    boot: Path, state: Path
) -> None:
    apply_boot_config(boot, state)
    site = boot / "jukebox" / "site.toml"
    rewritten = site.read_bytes()
    # The power went after the new file was written and the old one blanked, before the rename.
    (boot / "jukebox" / "site.toml.new").write_bytes(rewritten)
    site.write_bytes(b"\n" * 500)
    result = apply_boot_config(boot, state)
    assert not result.changed
    assert site.read_bytes() == rewritten
    assert sorted(p.name for p in (boot / "jukebox").iterdir()) == ["site.toml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")
def test_files_for_the_daemon_take_the_state_directory_owner(boot: Path, state: Path) -> None:
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)  # as systemd's StateDirectory= leaves it for the daemon user
    apply_boot_config(boot, state)
    assert (state / "enrollment-token").stat().st_uid == 65534
    assert (state / "site.toml").stat().st_gid == 65534
    assert (state / "network" / "wpa_supplicant-wlan0.conf").stat().st_uid == 0


def test_the_installed_command_exits_2_on_a_broken_file(boot: Path, state: Path) -> None:
    (boot / "jukebox" / "site.toml").write_text("[tenant]\nurl = 'nope'\n")
    jukebox_bin = Path(sys.executable).parent / "jukebox"
    result = subprocess.run(
        [jukebox_bin, "firstboot", "--boot-dir", boot, "--state-dir", state],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "tenant.url: expected the tenant's base URL" in result.stderr
    assert (state / "firstboot-error.txt").exists()


def test_the_daemon_reads_what_first_boot_left(boot: Path, state: Path) -> None:
    assert (applied_site(state), enrollment_token(state), firstboot_error(state)) == (None,) * 3
    apply_boot_config(boot, state)
    expected = parse_site_config(SITE_TOML, "site.toml").without_secrets()
    assert (applied_site(state), enrollment_token(state)) == (expected, TOKEN)
    (boot / "jukebox" / "site.toml").write_text("[device]\n")
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", state) == 2
    source = f"{boot}/jukebox/site.toml"
    assert firstboot_error(state) == (  # every problem at once, the first one first
        f"{source}: tenant.url: missing, this key is required\n"
        f"{source}: device.name: missing, this key is required\n"
        f"{source}: device.site: missing, this key is required"
    )


def test_a_file_saved_by_a_windows_editor_is_applied(boot: Path, state: Path) -> None:
    site = boot / "jukebox" / "site.toml"
    site.write_bytes(b"\xef\xbb\xbf" + SITE_TOML.replace("\n", "\r\n").encode())
    assert apply_boot_config(boot, state).moved == ("tenant.enrollment_token", "wifi.psk")
