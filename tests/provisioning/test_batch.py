# ruff: noqa: E501  (a table of messages reads best one per line)
"""`--batch devices.csv`: one image or one site file per row, with progress; any bad row
refuses the whole batch before anything is written, naming the row and the column."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.site import parse_site_config
from tests.provisioning.conftest import PSK, PUBLIC_TOML, TENANT, jukebox, mtype, sha256

HEADER = "name,site,wifi_ssid,wifi_psk,wifi_country,enrollment_token\n"
GOOD_ROWS = [f"Kiosque {i},alcazar,Staff,{PSK},FR,tok-{i}\n" for i in range(1, 6)]

BROKEN = [
    (
        HEADER + "K 1,alcazar,Staff,short,FR,t1\n",
        "devices.csv row 2: wifi.psk: expected 8 to 63 characters, or 64 hex digits, got 5 characters",
    ),
    (
        HEADER + f"K 1,alcazar,Staff,{PSK},FR,t1\nK 2,,,,,t2\n",
        "devices.csv row 3: device.site: missing, this key is required",
    ),
    (
        HEADER + f"K 1,alcazar,Staff,{PSK},FX,t1\n",
        "devices.csv row 2: wifi.country: expected a two-letter ISO 3166 country code like 'FR', got 'FX'",
    ),
    (
        HEADER + "K 1,alcazar,Staff,,FR,t1\n",
        "devices.csv row 2: wifi.psk: missing, the Wi-Fi network 'Staff' needs it",
    ),
    (
        HEADER + f"K 1,alcazar,,{PSK},,t1\n",
        "devices.csv row 2: wifi.ssid: missing, required with wifi.psk",
    ),
    (
        HEADER + "K 1,alcazar,,,,t1\nk-1,bmvr,,,,t2\n",
        "devices.csv row 3: device.name: 'k-1' gives the same file name as row 2 (k-1.img); make the names distinct",
    ),
    (
        HEADER + "K 1,alcazar,,,,same\nK 2,alcazar,,,,same\n",
        "devices.csv row 3: tenant.enrollment_token: the same token as row 2; a one-time token serves one kiosk",
    ),
    (HEADER + "K 1,alcazar,,,,t1,extra\n", "devices.csv row 2: 7 cells, the header has 6"),
    (
        "name,site,wifi_pks\nK 1,alcazar,x\n",
        "devices.csv: wifi_pks: unknown column, did you mean 'wifi_psk'?",
    ),
    (
        "name,wifi_ssid\nK 1,x\n",
        "devices.csv: site: missing column; the header needs name and site",
    ),
    ("name,site,name\nK,a,K\n", "devices.csv: name: this column appears twice"),
    (HEADER, "devices.csv: no devices, only a header"),
]


@pytest.mark.parametrize(("csv", "message"), BROKEN, ids=[m for _, m in BROKEN])
def test_a_bad_row_or_header_refuses_the_batch_naming_the_row_and_column(
    csv: str,
    message: str,
    base_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("devices.csv").write_text(csv)
    code = jukebox(
        "provision", "image", base_image, "--tenant-url", TENANT,
        "--batch", "devices.csv", "--out-dir", "out",
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"jukebox provision: {message}\n"
    assert not Path("out").exists()


def test_a_batch_makes_one_image_per_row_with_progress(
    base_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = tmp_path / "devices.csv"
    devices.write_text(HEADER + "".join(GOOD_ROWS))
    site = tmp_path / "site.toml"
    site.write_text(PUBLIC_TOML)
    before = sha256(base_image)
    out = tmp_path / "out"
    code = jukebox(
        "provision", "image", base_image, "--site-config", site,
        "--batch", devices, "--out-dir", out,
    )  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{devices}: 5 kiosks, all valid"
    assert lines[1:6] == [f"[{i}/5] Kiosque {i} → {out}/kiosque-{i}.img" for i in range(1, 6)]
    assert lines[6].startswith(f"5 images in {out} (")
    for i in range(1, 6):
        config = parse_site_config(mtype(out / f"kiosque-{i}.img"), "back")
        assert (config.device_name, config.enrollment_token) == (f"Kiosque {i}", f"tok-{i}")
        assert config.tenant_url == TENANT and config.wifi and config.wifi.psk == PSK
    assert sha256(base_image) == before


def test_one_bad_row_among_many_writes_no_image_at_all(
    base_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*GOOD_ROWS[:3], "Kiosque 4,alcazar,Staff,tiny,FR,tok-4\n", GOOD_ROWS[4]]
    devices = tmp_path / "devices.csv"
    devices.write_text(HEADER + "".join(rows))
    out = tmp_path / "out"
    code = jukebox(
        "provision", "image", base_image, "--tenant-url", TENANT,
        "--batch", devices, "--out-dir", out,
    )  # fmt: skip
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{devices} row 5: wifi.psk: expected 8 to 63 characters" in captured.err
    assert not out.exists()


def test_config_only_writes_a_card_folder_per_row_from_a_spreadsheet_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = tmp_path / "devices.csv"  # as a French spreadsheet saves it: BOM, semicolons
    devices.write_text("\ufeffName;Site\r\nKiosque de l'entrée;alcazar\r\n;;\r\nSalle 2; bmvr\r\n")
    out = tmp_path / "cards"
    code = jukebox(
        "provision", "image", "--config-only", "--tenant-url", TENANT,
        "--batch", devices, "--out-dir", out,
    )  # fmt: skip
    assert code == 0
    entree = out / "kiosque-de-l-entree" / "jukebox" / "site.toml"
    assert f"[1/2] Kiosque de l'entrée → {entree}" in capsys.readouterr().out
    config = parse_site_config(entree.read_text(), "back")
    assert (config.device_name, config.site, config.wifi) == (
        "Kiosque de l'entrée",
        "alcazar",
        None,
    )
    salle = parse_site_config((out / "salle-2" / "jukebox" / "site.toml").read_text(), "back")
    assert salle.site == "bmvr"
    assert entree.stat().st_mode & 0o777 == 0o644  # no secret in it


def test_a_shared_enrollment_token_is_refused_for_a_batch(
    base_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = tmp_path / "devices.csv"
    devices.write_text("name,site\nK,a\n")
    site = tmp_path / "site.toml"
    site.write_text(PUBLIC_TOML.replace("[device]", 'enrollment_token = "shared"\n[device]'))
    code = jukebox(
        "provision", "image", base_image, "--site-config", site,
        "--batch", devices, "--out-dir", tmp_path / "out",
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        f"jukebox provision: {site}: tenant.enrollment_token: a one-time token cannot be shared "
        "by a batch; give one per row in the enrollment_token column\n"
    )
