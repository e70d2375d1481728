"""Running the tenant as a service: its systemd units, and a backup restored (both databases)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tenant.store import TenantStore, default_database_url
from tests.support.tenant import RunningTenant
from tests.tenant.kiosk import Kiosk

UNIT_DIR = Path(__file__).parents[2] / "systemd" / "tenant"
UNITS = sorted(UNIT_DIR.glob("*.service"))
JUKEBOX = Path(sys.executable).parent / "jukebox"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def installed(tmp_path: Path) -> Path:
    """The units side by side, pointing at this checkout's virtualenv."""
    for unit in UNITS:
        text = unit.read_text().replace("/opt/jukebox/venv/bin/jukebox", str(JUKEBOX))
        (tmp_path / unit.name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("unit", [u.name.replace("@", "@1") for u in UNITS])
def test_the_tenant_units_pass_systemd_analyze_verify(tmp_path: Path, unit: str) -> None:
    assert len(UNITS) == 3
    folder = installed(tmp_path)
    if "@1" in unit:  # a template is verified as one of its instances
        (folder / unit).symlink_to(folder / unit.replace("@1", "@"))
    result = analyze("verify", str(folder / unit))
    assert result.returncode == 0, result.stderr
    assert unit not in result.stderr, result.stderr


@pytest.mark.parametrize("unit", ["jukebox-tenant.service", "jukebox-tenant-broker.service"])
def test_the_tenant_units_are_sandboxed_like_the_kiosk(tmp_path: Path, unit: str) -> None:
    result = analyze("security", "--offline=true", str(installed(tmp_path) / unit))
    exposure = re.search(rf"Overall exposure level for {unit}: ([0-9.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 3.0


def jukebox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukebox", "tenant", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_backup_taken_while_the_service_runs_is_restored(
    service: RunningTenant, flac_tracks: list[dict[str, object]], tmp_path: Path
) -> None:
    url = service.database_url or default_database_url(service.data_dir)
    data = str(service.data_dir)
    track_ids = [str(t["id"]) for t in flac_tracks]
    service.create_playlist("lib-a", "kept", "Kept", track_ids[:2], sites=("centre",))
    kiosk = Kiosk(service.url("lib-a"), service.settings.clock)
    service.claim("lib-a", kiosk.claim_code(), "centre")
    backup_file = tmp_path / "backups" / "tenant.backup"

    made = jukebox("backup", "--data", data, "--database-url", url, "--output", str(backup_file))
    assert made.returncode == 0, made.stderr
    service.create_playlist("lib-a", "after", "After the backup", track_ids[:1])
    service.create_playlist("lib-a", "kept", "Changed after the backup", track_ids[:1])
    service.stop()
    restored = jukebox("restore", "--data", data, "--database-url", url, "--input",
                       str(backup_file))  # fmt: skip
    service.start()

    assert restored.returncode == 0, restored.stderr
    store = TenantStore(url)
    try:
        playlists = {p.id: p for p in store.list_playlists("lib-a")}
        assert set(playlists) == {"kept"}
        assert playlists["kept"].title == "Kept"
        assert [d.status for d in store.list_devices("lib-a")] == ["active"]
        assert {t.id for t in store.list_tracks("lib-a")} == set(track_ids)
    finally:
        store.close()
    assert [p["id"] for p in service.admin("lib-a").playlists()] == ["kept"]


def test_a_missing_backup_file_is_named(tmp_path: Path) -> None:
    url = default_database_url(tmp_path)
    result = jukebox("restore", "--data", str(tmp_path), "--database-url", url,
                     "--input", str(tmp_path / "nope.backup"))  # fmt: skip
    assert result.returncode == 1
    assert f"{tmp_path / 'nope.backup'}: no such backup file" in result.stderr
