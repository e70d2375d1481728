"""First boot: apply the technician's boot-partition file, and take its secrets off the card.

The FAT boot partition is readable by anyone who pulls the SD card out, so the secrets in
jukebox/site.toml (the Wi-Fi passphrase, the one-time enrollment token) move into the data
partition (0600) and the boot file is rewritten without them. Its old bytes are overwritten
in place first, so they do not linger in the FAT's free clusters either.

Every step is safe to repeat: state files are written only when their content changes, the
secrets reach the state directory (fsynced) before they leave the card, and a power cut
anywhere leaves either the old boot file or the new one (`_recover` finishes an interrupted
rewrite). A broken file changes nothing but `firstboot-error.txt`, which the technician screen
shows. A `jukebox/kiosk.toml` beside site.toml (display, buttons, rotary, audio, playback and
visitor settings; contract/kiosk_settings.py) is checked the same way and kept as
STATE/kiosk.toml, which the daemon lays over /etc/jukebox/jukebox.toml (site_settings.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract.files import atomic_write, fsync_dir, write_all
from contract.kiosk_settings import parse_kiosk_text
from contract.layout import (
    BOOT_KIOSK_FILE,
    BOOT_SITE_FILE,
    ENROLLMENT_TOKEN_FILE,
    FIRSTBOOT_ERROR_FILE,
    NETWORK_FILE,
    STATE_KIOSK_FILE,
    STATE_SITE_FILE,
)
from contract.site import (
    WIFI_PSK,
    SiteConfig,
    SiteConfigError,
    load_site_config,
    read_text,
    render_site_toml,
    stamp,
)
from device.firstboot import wpa

log = logging.getLogger(__name__)
NEW_SUFFIX = ".new"  # the rewritten boot file, before it takes the old one's place


@dataclass(frozen=True)
class FirstbootResult:
    boot_file: Path
    config: SiteConfig | None  # None: there was no boot file
    written: tuple[Path, ...] = ()  # state files created or replaced
    removed: tuple[Path, ...] = ()
    moved: tuple[str, ...] = ()  # secret keys taken off the boot partition
    kiosk_file: Path | None = None  # the card's kiosk.toml, when it had one

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed or self.moved)


def state_site_text(config: SiteConfig) -> str:
    """STATE/site.toml: what the daemon needs to know, no secret. No date, so that applying
    the same boot file twice writes nothing the second time."""
    return render_site_toml(
        config.without_secrets(),
        [
            "Applied by `jukebox firstboot` from the boot partition's jukebox/site.toml.",
            f"Secrets: {ENROLLMENT_TOKEN_FILE} and {NETWORK_FILE} beside this file.",
        ],
    )


def boot_text(config: SiteConfig, moved: tuple[str, ...], now: datetime | None) -> str:
    return render_site_toml(
        config.without_secrets(),
        [
            "Jukebox site configuration (docs/provisioning.md); edit it and restart the kiosk.",
            f"The secrets ({', '.join(moved)}) moved to the device at boot on {stamp(now)} "
            "(`jukebox firstboot`); this card no longer holds them. Add them again to replace "
            "them.",
        ],
    )


class _StateWriter:
    """Writes state files only when they change, owned like the state directory: the daemon
    runs as its own user, and systemd does not re-own files below a directory it owns."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.written: list[Path] = []
        self.removed: list[Path] = []
        info = state_dir.stat()
        self.owner = (info.st_uid, info.st_gid)

    def put(self, relative: str, data: bytes, mode: int, *, own: bool = True) -> None:
        path = self.state_dir / relative
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(path.stat().st_mode) == mode and path.read_bytes() == data:
                return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, data, mode=mode)
        if own and os.geteuid() == 0 and self.owner != (os.getuid(), os.getgid()):
            os.chown(path, *self.owner)
        self.written.append(path)

    def remove(self, relative: str) -> None:
        path = self.state_dir / relative
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(path.parent)
            self.removed.append(path)


def _network(state_dir: Path, config: SiteConfig, source: str) -> str | None:
    """The wpa_supplicant file to have (None: no Wi-Fi). Without a passphrase on the card,
    the device's earlier file must be for the same network; otherwise the passphrase is due."""
    wifi = config.wifi
    if wifi is None:
        return None
    if wifi.psk is not None:
        return wpa.network_conf(wifi)
    try:
        existing = (state_dir / NETWORK_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        existing = None
    kept = wpa.reuse_key(existing, wifi) if existing else None
    if kept is None:
        known = "another network's" if existing else "no"
        raise SiteConfigError(
            source,
            WIFI_PSK,
            f"missing, the Wi-Fi network {wifi.ssid!r} needs it (this kiosk has {known} "
            "passphrase)",
        )
    return kept


def _replace_on_fat(path: Path, data: bytes) -> None:
    """New content beside, old bytes overwritten in place (FAT has no copy-on-write, so this
    wipes them from the card), then the rename. No chmod: vfat refuses most."""
    new = path.with_name(path.name + NEW_SUFFIX)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        write_all(fd, b"\n" * os.fstat(fd).st_size)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(new, path)
    with contextlib.suppress(OSError):  # not every filesystem syncs a directory
        fsync_dir(path.parent)
    # vfat writes its allocation table only when the whole filesystem is synced: without this,
    # a power cut soon after left the new file pointing at clusters still marked free.
    os.sync()


def _recover(boot_file: Path) -> None:
    """Finish a rewrite a power cut interrupted: the old file blank, the new one beside."""
    new = boot_file.with_name(boot_file.name + NEW_SUFFIX)
    if not new.exists():
        return
    with contextlib.suppress(FileNotFoundError):
        if not boot_file.read_bytes().strip():
            log.warning("%s: finishing the rewrite a power cut interrupted", boot_file)
            os.replace(new, boot_file)
            return
    new.unlink()  # a rewrite cut before the old file was touched: start again


def _record_error(state_dir: Path, error: str) -> None:
    log.debug("refused: %s", error)
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _StateWriter(state_dir).put(FIRSTBOOT_ERROR_FILE, f"{error}\n".encode(), 0o644)
    except OSError as exc:
        log.error("cannot record the error in %s: %s", state_dir / FIRSTBOOT_ERROR_FILE, exc)


def _write_site_state(state_dir: Path, config: SiteConfig, network: str | None) -> _StateWriter:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    state = _StateWriter(state_dir)
    if network is None:
        state.remove(NETWORK_FILE)
    else:  # root's alone: wpa_supplicant reads it, the daemon has no use for it
        state.put(NETWORK_FILE, network.encode("utf-8"), 0o600, own=False)
    if config.enrollment_token:
        state.put(ENROLLMENT_TOKEN_FILE, f"{config.enrollment_token}\n".encode(), 0o600)
    state.put(STATE_SITE_FILE, state_site_text(config).encode("utf-8"), 0o644)
    return state


def check_kiosk_settings(text: str, source: str) -> bytes:
    """A kiosk.toml's bytes once the kiosk would accept it; SiteConfigError naming each
    problem (`source: key: problem`) otherwise."""
    parse_kiosk_text(text, source, SiteConfigError)
    return text.encode("utf-8")


def _boot_kiosk_settings(boot_dir: Path) -> bytes | None:
    path = boot_dir / BOOT_KIOSK_FILE
    if not path.exists():
        return None
    return check_kiosk_settings(read_text(path), str(path))


def apply_kiosk_settings(data: bytes, state_dir: Path) -> tuple[Path, ...]:
    """Keep a checked kiosk.toml (check_kiosk_settings) as STATE/kiosk.toml; the daemon lays
    it over /etc/jukebox/jukebox.toml. Returns the files written (none if unchanged)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    state = _StateWriter(state_dir)
    state.put(STATE_KIOSK_FILE, data, 0o644)
    return tuple(state.written)


def check_site_config(config: SiteConfig, state_dir: Path, source: str) -> None:
    """Raise SiteConfigError if applying `config` would fail (a Wi-Fi passphrase is due)."""
    _network(state_dir, config, source)


def apply_site_config(config: SiteConfig, state_dir: Path, source: str) -> tuple[Path, ...]:
    """Apply a validated configuration that does not come from the boot partition (the
    technician's USB stick): the same state files as first boot; returns those written."""
    network = _network(state_dir, config, source)
    return tuple(_write_site_state(state_dir, config, network).written)


def apply_boot_config(
    boot_dir: Path, state_dir: Path, *, now: datetime | None = None
) -> FirstbootResult:
    """Apply BOOT/jukebox/site.toml and BOOT/jukebox/kiosk.toml to STATE; raise
    SiteConfigError (recorded in STATE/firstboot-error.txt) when either is broken, having
    changed nothing else. A card without kiosk.toml leaves the kiosk settings as they were
    (a stick may have set them)."""
    boot_file = boot_dir / BOOT_SITE_FILE
    kiosk_file = boot_dir / BOOT_KIOSK_FILE
    _recover(boot_file)
    try:
        kiosk = _boot_kiosk_settings(boot_dir)
    except SiteConfigError as exc:
        _record_error(state_dir, str(exc))
        raise
    if not boot_file.exists():
        if kiosk is None:
            return FirstbootResult(boot_file, None)
        written = apply_kiosk_settings(kiosk, state_dir)
        state = _StateWriter(state_dir)
        state.remove(FIRSTBOOT_ERROR_FILE)
        return FirstbootResult(boot_file, None, written, tuple(state.removed), (), kiosk_file)
    try:
        config = load_site_config(boot_file, allow_moved_psk=True)
        network = _network(state_dir, config, str(boot_file))
    except SiteConfigError as exc:
        _record_error(state_dir, str(exc))
        raise
    state = _write_site_state(state_dir, config, network)
    if kiosk is not None:
        state.put(STATE_KIOSK_FILE, kiosk, 0o644)
    state.remove(FIRSTBOOT_ERROR_FILE)
    moved = config.secret_keys
    if moved:  # only now that the secrets are safely on the device
        try:
            _replace_on_fat(boot_file, boot_text(config, moved, now).encode("utf-8"))
        except OSError as exc:  # say it on the screen too: the card still holds the secrets
            _record_error(state_dir, f"{boot_file}: cannot remove the secrets ({exc.strerror})")
            raise
        log.debug("moved %s from %s to %s", ", ".join(moved), boot_file, state_dir)
    return FirstbootResult(
        boot_file,
        config,
        tuple(state.written),
        tuple(state.removed),
        tuple(moved),
        kiosk_file if kiosk is not None else None,
    )
