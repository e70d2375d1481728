"""The kiosk's Wi-Fi network as a wpa_supplicant configuration, for wpa_supplicant@wlan0.

The passphrase is stored as the key WPA2 derives from it (what `wpa_passphrase` prints), so
the clear passphrase, which a library may use elsewhere, is never on the device. The price:
WPA3-only (SAE) networks need the passphrase itself and are not supported; WPA2 and WPA2/WPA3
transition networks are.
"""

from __future__ import annotations

import hashlib
import re

from contract.site import WifiConfig

_PSK_LINE = re.compile(r"^\s*psk=([0-9a-f]{64})\s*$", re.MULTILINE)
_SSID_LINE = re.compile(r"^\s*ssid=(.*)$", re.MULTILINE)


def derive_psk(passphrase: str, ssid: str) -> str:
    """IEEE 802.11i PSK: PBKDF2-HMAC-SHA1(passphrase, ssid, 4096, 256 bits), as hex.

    A 64-hex-digit passphrase already is the key, as wpa_passphrase and wpa_supplicant agree.
    """
    if len(passphrase) == 64 and all(c in "0123456789abcdef" for c in passphrase.lower()):
        return passphrase.lower()
    key = hashlib.pbkdf2_hmac("sha1", passphrase.encode("ascii"), ssid.encode("utf-8"), 4096, 32)
    return key.hex()


def ssid_value(ssid: str) -> str:
    """Quoted when that is unambiguous, else hex (wpa_supplicant reads both)."""
    if all(" " <= c <= "~" for c in ssid) and '"' not in ssid:
        return f'"{ssid}"'
    return ssid.encode("utf-8").hex()


def render_network(ssid: str, psk_hex: str, country: str) -> str:
    return (
        "# Written by `jukebox firstboot` from the boot partition's jukebox/site.toml.\n"
        "# The passphrase is stored as its derived key (wpa_passphrase), never in clear.\n"
        "ctrl_interface=DIR=/run/wpa_supplicant GROUP=netdev\n"
        "update_config=0\n"
        f"country={country}\n"
        "\n"
        "network={\n"
        f"\tssid={ssid_value(ssid)}\n"
        "\tkey_mgmt=WPA-PSK\n"
        f"\tpsk={psk_hex}\n"
        "}\n"
    )


def network_conf(wifi: WifiConfig) -> str:
    """The configuration for a network whose passphrase is known."""
    if wifi.psk is None:
        raise ValueError("the passphrase is needed to write the network configuration")
    return render_network(wifi.ssid, derive_psk(wifi.psk, wifi.ssid), wifi.country)


def reuse_key(existing: str, wifi: WifiConfig) -> str | None:
    """The configuration for `wifi` keeping the key of an earlier file for the same network
    (say, only the country changed), or None when that file is for another network."""
    psk = _PSK_LINE.search(existing)
    ssid = _SSID_LINE.search(existing)
    if psk is None or ssid is None or ssid.group(1).strip() != ssid_value(wifi.ssid):
        return None
    return render_network(wifi.ssid, psk.group(1), wifi.country)
