"""A simulated kiosk process and the real tenant service: claim, sync, play, outage, revoke."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.tracks import TrackSpec, synthesise_track
from device.domain import EndReason
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity, PlayReport
from device.sim.process import KioskProcess
from tests.support.tenant import RunningTenant, running_tenant

SLUG = "mediatheques-sud"
CONFIG = """
[device]
state_dir = "state"
[audio]
backend = "null"
[display]
driver = "none"
[tenant]
url = "{url}"
sync_interval_s = 5
[[buttons]]
name = "play"
pin = 17
press = "play_pause"
"""


class Kiosk(KioskProcess):
    def __init__(self, root: Path) -> None:
        super().__init__(root / "jukebox.toml", root / "control.sock", root / "kiosk.log")
        self.root = root

    def plays(self) -> list[PlayReport]:
        identity = JournalIdentity("", "", "", "", "")
        with PlayJournal(self.root / "state" / "journal.sqlite3", identity, exclusive=False) as j:
            return j.plays()


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[RunningTenant]:
    with running_tenant(tmp_path / "tenant", slugs=(SLUG,)) as tenant:
        tracks = []
        for i in range(2):
            path = synthesise_track(
                tmp_path / f"t{i}.flac", TrackSpec(f"Titre {i}", "Artiste", 8.0, f"FRZ03260000{i}")
            )
            tracks.append(tenant.import_file(SLUG, path)["id"])
        tenant.create_playlist(
            SLUG, "festival", "Festival des Suds", tracks, note="À écouter", featured=True,
            sites=("alcazar",),
        )  # fmt: skip
        yield tenant


@pytest.fixture
def kiosk(tmp_path: Path, tenant: RunningTenant) -> Iterator[Kiosk]:
    root = tmp_path / "kiosk"
    root.mkdir()
    (root / "jukebox.toml").write_text(CONFIG.format(url=tenant.url(SLUG)))
    kiosk = Kiosk(root)
    yield kiosk
    kiosk.close()


def claim(kiosk: Kiosk, tenant: RunningTenant) -> str:
    kiosk.wait_until(lambda s: s["claim_code"] is not None, 20, "a claim code")
    status = kiosk.status()
    assert status["screen"] == "ClaimScreen" and status["tenant_state"] == "pending"
    code: str = status["claim_code"]
    tenant.claim(SLUG, code, site="alcazar")
    kiosk.wait_until(lambda s: s["playlist_id"] == "festival", 30, "the synced playlist")
    return code


def test_a_new_kiosk_shows_a_code_is_claimed_syncs_and_plays(
    kiosk: Kiosk, tenant: RunningTenant
) -> None:
    kiosk.start()
    client = kiosk.connect()
    claim(kiosk, tenant)
    assert kiosk.status()["tenant_state"] == "active"
    [device] = tenant.devices(SLUG)
    assert device["status"] == "active" and device["site"] == "alcazar"
    client.send(cmd="tap", button="play")
    kiosk.wait_until(lambda s: s["plays_started"] == 1, 15, "the first play")
    assert kiosk.process is not None
    daemon_pid = kiosk.process.pid
    assert kiosk.quit() == 0
    # The media came through a download process of its own (device/sync/fetch_process.py).
    assert kiosk.log is not None
    log = kiosk.log.read_text()
    fetched_by = re.findall(r"download process (\d+): \d+ file\(s\)", log)
    assert fetched_by and daemon_pid not in map(int, fetched_by)
    [play] = kiosk.plays()
    assert (play.tenant, play.site, play.device_id) == (SLUG, "alcazar", device["device_id"])
    assert play.isrc == "FRZ032600000" and play.end_reason is EndReason.STOPPED


def test_with_the_tenant_down_at_boot_the_kiosk_plays_its_cache(
    kiosk: Kiosk, tenant: RunningTenant
) -> None:
    kiosk.start()
    kiosk.connect()
    claim(kiosk, tenant)
    assert kiosk.quit() == 0
    tenant.stop()
    kiosk.start()
    client = kiosk.connect()
    kiosk.wait_until(lambda s: s["playlist_id"] == "festival", 10, "the cached playlist")
    client.send(cmd="tap", button="play")
    kiosk.wait_until(lambda s: s["plays_started"] == 1, 15, "a play from the cache")
    kiosk.wait_until(lambda s: s["tenant_state"] == "unreachable", 20, "the outage noticed")
    assert kiosk.quit() == 0


def test_a_revoked_kiosk_says_so_and_is_reclaimed_without_reinstall(
    kiosk: Kiosk, tenant: RunningTenant
) -> None:
    kiosk.start()
    client = kiosk.connect()
    first_code = claim(kiosk, tenant)
    [device] = tenant.devices(SLUG)
    client.send(cmd="tap", button="play")
    kiosk.wait_until(lambda s: s["plays_started"] == 1, 15, "the first play")
    tenant.revoke(SLUG, device["device_id"])
    kiosk.wait_until(lambda s: s["tenant_state"] == "revoked", 30, "the revocation")
    kiosk.wait_until(lambda s: s["mode"] == "idle", 5, "the music to stop")
    kiosk.wait_until(lambda s: s["claim_code"] not in (None, first_code), 90, "a re-claim code")
    status = kiosk.status()
    assert status["screen"] == "RevokedScreen"
    tenant.claim(SLUG, status["claim_code"], site="alcazar")
    kiosk.wait_until(lambda s: s["tenant_state"] == "active", 30, "the re-claim")
    [again] = tenant.devices(SLUG)
    assert again["device_id"] == device["device_id"] and again["status"] == "active"
    assert kiosk.quit() == 0
    assert kiosk.plays()[0].end_reason is EndReason.STOPPED  # the journal was kept


def test_a_provisioned_card_enrolls_with_the_tenant_named_on_its_boot_partition(
    tmp_path: Path, tenant: RunningTenant
) -> None:
    root = tmp_path / "kiosk"
    boot = tmp_path / "boot" / "jukebox"
    boot.mkdir(parents=True)
    (boot / "site.toml").write_text(
        f'[tenant]\nurl = "{tenant.url(SLUG)}"\nenrollment_token = "one-time-123"\n'
        '[device]\nname = "Kiosque de l\'entrée"\nsite = "alcazar"\n'
    )
    firstboot = subprocess.run(
        [sys.executable, "-m", "jukebox", "firstboot", "--boot-dir", str(boot.parent),
         "--state-dir", str(root / "state")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert firstboot.returncode == 0, firstboot.stderr
    assert "one-time-123" not in (boot / "site.toml").read_text()  # the secret left the card
    # The image's generic configuration names no tenant: the card's settings do.
    (root / "jukebox.toml").write_text(
        CONFIG.split("[tenant]")[0] + '[[buttons]]\nname = "play"\npin = 17\npress = "play_pause"\n'
    )
    kiosk = Kiosk(root)
    try:
        kiosk.start()
        kiosk.connect()
        claim(kiosk, tenant)
        [device] = tenant.devices(SLUG)
        assert device["site"] == "alcazar" and device["status"] == "active"
        assert kiosk.quit() == 0
    finally:
        kiosk.close()
