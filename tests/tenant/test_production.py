"""Running the tenant as a service: its systemd units, what stops their restarts, and a backup
restored (both databases)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tenant.broker.process import free_port
from tenant.broker.settings import BrokerAccount, BrokerSettings, save_broker_settings
from tenant.cli import EX_CONFIG
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


def installed(tmp_path: Path, unit: str) -> Path:
    """The units side by side, pointing at this checkout's virtualenv; the path of `unit`
    (a template's instance, such as jukebox-tenant-ingest@1.service, links to the template)."""
    for each in UNITS:
        text = each.read_text().replace("/opt/jukebox/venv/bin/jukebox", str(JUKEBOX))
        (tmp_path / each.name).write_text(text)
    if "@1" in unit:
        (tmp_path / unit).symlink_to(tmp_path / unit.replace("@1", "@"))
    return tmp_path / unit


@pytest.mark.parametrize("unit", [u.name.replace("@", "@1") for u in UNITS])
def test_the_tenant_units_pass_systemd_analyze_verify(tmp_path: Path, unit: str) -> None:
    assert len(UNITS) == 3
    result = analyze("verify", str(installed(tmp_path, unit)))
    assert result.returncode == 0, result.stderr
    assert unit not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "unit",
    ["jukebox-tenant.service", "jukebox-tenant-ingest@1.service", "jukebox-tenant-broker.service"],
)
def test_the_tenant_units_are_sandboxed_like_the_kiosk(tmp_path: Path, unit: str) -> None:
    result = analyze("security", "--offline=true", str(installed(tmp_path, unit)))
    exposure = re.search(rf"Overall exposure level for {unit}: ([0-9.]+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 3.0


@pytest.mark.parametrize("unit", ["jukebox-tenant.service", "jukebox-tenant-ingest@.service"])
def test_the_units_restart_on_every_failure_but_what_the_operator_must_fix(unit: str) -> None:
    """EX_CONFIG: a database to migrate, a broken file or setting; 2: a bad command line."""
    text = (UNIT_DIR / unit).read_text()
    assert re.findall(r"^Restart=(.*)$", text, re.MULTILINE) == ["always"]
    prevented = re.findall(r"^RestartPreventExitStatus=(.*)$", text, re.MULTILINE)
    assert [set(p.split()) for p in prevented] == [{str(EX_CONFIG), "2"}]
    assert re.findall(r"^StartLimitIntervalSec=(.*)$", text, re.MULTILINE) == ["0"]


@pytest.mark.parametrize("command", ["serve", "ingest"])
def test_an_unreachable_database_is_named_and_exits_1_for_systemd_to_restart(
    tmp_path: Path, command: str
) -> None:
    data = tmp_path / "tenant"
    if command == "ingest":  # it reads broker.json before it opens the database
        account = BrokerAccount("ingester", "broker-pw")
        save_broker_settings(data, BrokerSettings("127.0.0.1", free_port(), account, account))
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://jukebox:db-secret@127.0.0.1:{port}/jukebox"

    result = jukebox(command, "--data", str(data), "--database-url", url)

    assert result.returncode == 1, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("jukebox tenant")]
    assert len(said) == 1, result.stderr  # one line in the journal, the driver's words joined
    assert said[0].startswith(
        f"jukebox tenant {command}: cannot reach the database "
        f"postgresql+psycopg://jukebox:***@127.0.0.1:{port}/jukebox: "
    )
    assert "Connection refused" in said[0]
    assert "Traceback" not in result.stderr and "db-secret" not in result.stderr


def test_an_unusable_certificate_is_named_and_not_restarted(tmp_path: Path) -> None:
    cert, key = tmp_path / "api.pem", tmp_path / "api.key"
    cert.write_text("not a certificate\n")
    result = jukebox("serve", "--data", str(tmp_path / "tenant"), "--port", str(free_port()),
                     "--certfile", str(cert), "--keyfile", str(key))  # fmt: skip
    assert result.returncode == EX_CONFIG, result.stderr
    assert f"jukebox tenant serve: TLS certificate {cert} and key {key}: " in result.stderr


def jukebox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukebox", "tenant", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_backup_taken_while_the_service_runs_is_restored(
    service: RunningTenant, flac_tracks: list[dict[str, object]], tmp_path: Path
) -> None:
    url = service.database_url
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
        assert analysed(store, "tracks")  # statistics at once, not at autovacuum's leisure
    finally:
        store.close()
    assert [p["id"] for p in service.admin("lib-a").playlists()] == ["kept"]


def analysed(store: TenantStore, table: str) -> bool:
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            query = "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :table"
        else:
            query = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = :table"
        found = conn.execute(text(query), {"table": table}).scalar()
    return bool(found)


def test_a_missing_backup_file_is_named(tmp_path: Path) -> None:
    url = default_database_url(tmp_path)
    result = jukebox("restore", "--data", str(tmp_path), "--database-url", url,
                     "--input", str(tmp_path / "nope.backup"))  # fmt: skip
    assert result.returncode == 1
    assert f"{tmp_path / 'nope.backup'}: no such backup file" in result.stderr
