"""The Wi-Fi file: the key WPA2 derives, as wpa_passphrase computes it, never the passphrase."""

from __future__ import annotations

from contract.site import WifiConfig
from device.firstboot import wpa


def test_the_key_is_the_ieee_802_11i_derivation() -> None:
    # IEEE 802.11i-2004, annex H.4.1, first test vector.
    expected = "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
    assert wpa.derive_psk("password", "IEEE") == expected


def test_a_64_hex_digit_psk_is_already_the_key() -> None:
    raw = "F42C6FC52DF0EBEF9EBB4B90B38A5F902E83FE1B135A70E23AED762E9710A12E"
    assert wpa.derive_psk(raw, "anything") == raw.lower()


def test_network_names_are_quoted_when_plain_and_hex_otherwise() -> None:
    assert wpa.ssid_value("Bibliothèque") == "4269626c696f7468c3a8717565"
    assert wpa.ssid_value('Say "hi"') == "5361792022686922"
    assert wpa.ssid_value("Staff Net") == '"Staff Net"'


def test_the_file_holds_the_country_and_the_key_but_not_the_passphrase() -> None:
    text = wpa.network_conf(WifiConfig("Staff", "FR", "correct horse battery"))
    assert "country=FR\n" in text
    assert '\tssid="Staff"\n' in text
    assert f"\tpsk={wpa.derive_psk('correct horse battery', 'Staff')}\n" in text
    assert "correct horse" not in text


def test_the_key_is_reused_only_for_the_same_network() -> None:
    first = wpa.network_conf(WifiConfig("Staff", "FR", "correct horse battery"))
    again = wpa.reuse_key(first, WifiConfig("Staff", "BE"))
    assert again == first.replace("country=FR", "country=BE")
    assert wpa.reuse_key(first, WifiConfig("Public", "FR")) is None
