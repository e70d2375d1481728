"""Where things live: the contract between provisioning, the image build and the daemon."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

BOOT_LABEL = "RASPIFIRM"
"""The FAT boot partition's label, as in Debian's raspi images."""

DEFAULT_BOOT_DIR = Path("/boot/firmware")
DEFAULT_STATE_DIR = Path("/var/lib/jukebox")

BOOT_SITE_FILE = PurePosixPath("jukebox/site.toml")
"""The technician's site configuration, relative to the boot partition's root."""

STATE_SITE_FILE = "site.toml"
"""In the state directory: the applied site configuration without its secrets (0644)."""

ENROLLMENT_TOKEN_FILE = "enrollment-token"
"""In the state directory: the one-time enrollment token, one line (0600)."""

NETWORK_FILE = "network/wpa_supplicant-wlan0.conf"
"""In the state directory: the Wi-Fi network for wpa_supplicant@wlan0 (0600)."""

FIRSTBOOT_ERROR_FILE = "firstboot-error.txt"
"""In the state directory: why the boot partition's file was refused, for the technician screen."""

BOOT_KIOSK_FILE = PurePosixPath("jukebox/kiosk.toml")
"""Beside site.toml: the site's kiosk settings (display, buttons, rotary, audio, playback,
visitor), read by contract/kiosk_settings.py; no secret in it, so it stays on the card."""

STATE_KIOSK_FILE = "kiosk.toml"
"""In the state directory: the kiosk settings applied from a card or a stick (0644)."""
