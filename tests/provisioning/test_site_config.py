# ruff: noqa: E501  (a table of messages reads best one per line)
"""Site configurations: every broken one gets a message naming the source, the key and the
expectation, and no message ever repeats a secret."""

from __future__ import annotations

import pytest

from contract.site import (
    WIFI_PSK,
    WIFI_SSID,
    Layer,
    SiteConfig,
    SiteConfigError,
    WifiConfig,
    describe,
    parse_site_config,
    render_site_toml,
    site_config_from_layers,
    toml_layer,
)
from tests.provisioning.conftest import PSK, SITE_TOML, TENANT, TOKEN

TENANT_TABLE = f'[tenant]\nurl = "{TENANT}"\n'
DEVICE_TABLE = '[device]\nname = "K"\nsite = "alcazar"\n'
WIFI = '[wifi]\nssid = "Net"\n'

BROKEN = [
    (DEVICE_TABLE, "tenant.url: missing, this key is required"),
    (
        '[tenant]\nurl = "ftp://x/t/a"\n' + DEVICE_TABLE,
        "tenant.url: expected the tenant's base URL, like 'https://tenant.example/t/slug', got 'ftp://x/t/a'",
    ),
    (
        '[tenant]\nurl = "https://tenant.example/"\n' + DEVICE_TABLE,
        "tenant.url: expected the tenant's base URL, like 'https://tenant.example/t/slug', got 'https://tenant.example/'",
    ),
    (
        TENANT_TABLE + 'enrolment_token = "x"\n' + DEVICE_TABLE,
        "tenant.enrolment_token: unknown key, did you mean 'enrollment_token'?",
    ),
    (
        TENANT_TABLE + 'enrollment_token = "tok en"\n' + DEVICE_TABLE,
        "tenant.enrollment_token: expected printable ASCII characters without spaces, as the tenant gives",
    ),
    (
        TENANT_TABLE + "enrollment_token = 1234567\n" + DEVICE_TABLE,
        "tenant.enrollment_token: expected the token the tenant gave, as a string in quotes",
    ),
    (TENANT_TABLE + '[device]\nsite = "alcazar"\n', "device.name: missing, this key is required"),
    (
        TENANT_TABLE + '[device]\nname = "  "\nsite = "a"\n',
        "device.name: missing, this key is required",
    ),
    (
        TENANT_TABLE + '[device]\nname = "K\\nL"\nsite = "a"\n',
        "device.name: expected a name without line breaks or control characters",
    ),
    (
        TENANT_TABLE + '[device]\nname = "K"\nsite = 3\n',
        "device.site: expected a site name (a string in quotes), got 3",
    ),
    (
        TENANT_TABLE + f'[device]\nname = "{"x" * 301}"\nsite = "a"\n',
        "device.name: expected a name of at most 300 characters, got 301",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = "hunter2"\ncountry = "FR"\n',
        "wifi.psk: expected 8 to 63 characters, or 64 hex digits, got 7 characters",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + f'psk = "{"z" * 64}"\ncountry = "FR"\n',
        "wifi.psk: expected 8 to 63 characters, or 64 hex digits, got 64 characters, not all hex digits",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = "pässwörd-geheim"\ncountry = "FR"\n',
        "wifi.psk: expected printable ASCII characters only (no accents), as WPA2 requires",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = 12345678\ncountry = "FR"\n',
        "wifi.psk: expected the Wi-Fi passphrase as a string in quotes",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'country = "FR"\n',
        "wifi.psk: missing, the Wi-Fi network 'Net' needs it",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + '[wifi]\npsk = "12345678"\ncountry = "FR"\n',
        "wifi.ssid: missing, required with wifi.psk",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = "12345678"\n',
        "wifi.country: missing, required with wifi.ssid: the two-letter code of the kiosk's country, like 'FR' (it sets the radio's legal channels)",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = "12345678"\ncountry = "UK"\n',
        "wifi.country: 'UK' is not an ISO 3166 code, did you mean 'GB'?",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = "12345678"\ncountry = "France"\n',
        "wifi.country: expected a two-letter ISO 3166 country code like 'FR', got 'France'",
    ),
    (
        TENANT_TABLE
        + DEVICE_TABLE
        + f'[wifi]\nssid = "{"é" * 17}"\npsk = "12345678"\ncountry = "FR"\n',
        f"wifi.ssid: expected a network name of 1 to 32 bytes, got 34 bytes: '{'é' * 17}'",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + WIFI + 'psk = "12345678"\ncountry = "FR"\nhidden = true\n',
        "wifi.hidden: unknown key, expected one of: country, psk, ssid",
    ),
    (
        TENANT_TABLE + DEVICE_TABLE + '[wlan]\nssid = "x"\n',
        "wlan: unknown key, expected one of: device, tenant, wifi",
    ),
    ("tenant = 3\n", "tenant: expected a table [tenant], got 3"),
    (
        "[tenant\nurl = 1\n",
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)",
    ),
]


@pytest.mark.parametrize(("text", "message"), BROKEN, ids=[m for _, m in BROKEN])
def test_a_broken_site_file_is_refused_with_the_source_the_key_and_the_expectation(
    text: str, message: str
) -> None:
    with pytest.raises(SiteConfigError) as caught:
        parse_site_config(text, "site.toml")
    assert str(caught.value) == f"site.toml: {message}"


def test_a_valid_site_file_gives_every_fact_normalised() -> None:
    config = parse_site_config(SITE_TOML.replace('"FR"', '" fr "'), "site.toml")
    assert config == SiteConfig(
        TENANT,
        "Kiosque de l'entrée",
        "alcazar",
        TOKEN,
        WifiConfig("Médiathèque Public", "FR", PSK),
    )
    assert config.secret_keys == ("tenant.enrollment_token", "wifi.psk")


def test_empty_optional_values_mean_not_given_so_a_template_can_leave_blanks() -> None:
    text = TENANT_TABLE + 'enrollment_token = ""\n' + DEVICE_TABLE
    text += '[wifi]\nssid = ""\npsk = ""\ncountry = "FR"\n'
    assert parse_site_config(text, "site.toml") == SiteConfig(TENANT, "K", "alcazar")


def test_secrets_never_appear_in_repr_or_messages() -> None:
    config = parse_site_config(SITE_TOML, "site.toml")
    assert PSK not in repr(config) and TOKEN not in repr(config)
    assert all(PSK not in value and TOKEN not in value for _, value in describe(config))
    for bad in ("pässwörd-geheim", "short", "é" * 70):
        with pytest.raises(SiteConfigError) as caught:
            parse_site_config(SITE_TOML.replace(PSK, bad), "site.toml")
        assert bad not in str(caught.value)


def test_rendering_then_parsing_gives_the_same_configuration_with_or_without_secrets() -> None:
    config = parse_site_config(SITE_TOML, "site.toml")
    tricky = SiteConfig(TENANT, 'Kiosque "B" \\ étage', "a", None, WifiConfig('N"et', "DE", PSK))
    for c in (config, tricky):
        assert parse_site_config(render_site_toml(c, ["a comment"]), "again") == c
    public = render_site_toml(config.without_secrets())
    assert PSK not in public and TOKEN not in public
    assert parse_site_config(public, "s", allow_moved_psk=True) == config.without_secrets()
    with pytest.raises(SiteConfigError, match=r"wifi\.psk: missing"):
        parse_site_config(public, "s")


def test_later_layers_win_and_options_are_named_as_typed() -> None:
    file = toml_layer({"tenant": {"url": TENANT}, "device": {"name": "K", "site": "a"}}, "f.toml")
    options = {WIFI_SSID: "Staff", WIFI_PSK: "short", "wifi.country": "FR"}
    cli = Layer("command line", options, {WIFI_PSK: "--wifi-psk"}, options=True)
    with pytest.raises(SiteConfigError) as caught:
        site_config_from_layers([file, cli])
    assert str(caught.value) == (
        "command line: --wifi-psk: expected 8 to 63 characters, or 64 hex digits, got 5 characters"
    )
    missing = Layer("command line", {"device.site": "b"}, options=True)
    with pytest.raises(SiteConfigError) as caught:
        site_config_from_layers([toml_layer({"tenant": {"url": TENANT}}, "f.toml"), missing])
    assert str(caught.value) == "f.toml: device.name: missing, this key is required"


def test_a_new_network_does_not_inherit_the_passphrase_of_another() -> None:
    file = toml_layer(
        {
            "tenant": {"url": TENANT},
            "device": {"name": "K", "site": "a"},
            "wifi": {"ssid": "Staff", "psk": PSK, "country": "FR"},
        },
        "f.toml",
    )
    row = Layer("devices.csv row 2", {WIFI_SSID: "Public"})
    with pytest.raises(SiteConfigError) as caught:
        site_config_from_layers([file, row])
    assert (
        str(caught.value)
        == "devices.csv row 2: wifi.psk: missing, the Wi-Fi network 'Public' needs it"
    )
    wifi = site_config_from_layers([file, Layer("row", {"wifi.country": "BE"})]).wifi
    assert wifi == WifiConfig("Staff", "BE", PSK)


def test_every_problem_of_a_site_file_is_reported_at_once() -> None:
    text = '[tenant]\nurl = "ftp://x"\n[device]\nnam = "K"\n[wifi]\nssid = "Net"\n'
    with pytest.raises(SiteConfigError) as caught:
        parse_site_config(text, "site.toml")
    assert str(caught.value) == "site.toml: device.nam: unknown key, did you mean 'name'?"
    with pytest.raises(SiteConfigError) as caught:
        parse_site_config(text.replace("nam =", "name ="), "site.toml")
    assert str(caught.value).splitlines() == [
        "site.toml: tenant.url: expected the tenant's base URL, like "
        "'https://tenant.example/t/slug', got 'ftp://x'",
        "site.toml: device.site: missing, this key is required",
        "site.toml: wifi.country: missing, required with wifi.ssid: the two-letter code of the "
        "kiosk's country, like 'FR' (it sets the radio's legal channels)",
        "site.toml: wifi.psk: missing, the Wi-Fi network 'Net' needs it",
    ]


def test_a_site_file_nested_too_deeply_is_one_clear_error() -> None:
    with pytest.raises(SiteConfigError) as caught:
        parse_site_config("x = " + "[" * 5000 + "]" * 5000, "site.toml")
    assert str(caught.value) == "site.toml: not valid TOML: nested too deeply for this reader"
