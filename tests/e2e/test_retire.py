"""Retiring at work on a real kiosk: a retired track and a retired playlist leave the kiosk at
its next sync and their cached files are evicted; the plays already counted stay in reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli import admin
from tests.e2e.rig import PLAYLIST, SITE, SLUG, Rig, eventually


def cached(root: Path, sha256: str) -> bool:
    return any(root.rglob(sha256))


def test_retired_tracks_and_playlists_leave_the_kiosk_and_its_cache_plays_stay(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    tracks = {t["id"]: t for t in rig.tenant.admin(SLUG).tracks()}
    first, second, *_ = rig.track_ids
    rig.tenant.create_playlist(SLUG, "extra", "Extra", [second], sites=(SITE,))
    kiosk = rig.kiosk("hall", autoplay=True)
    device_id = rig.claim(kiosk)
    kiosk.wait_until(lambda s: s["playlists"] == 2, 30, "both playlists synced")
    first_sha, second_sha = tracks[first]["sha256"], tracks[second]["sha256"]
    assert cached(kiosk.state_dir, first_sha) and cached(kiosk.state_dir, second_sha)
    kiosk.wait_until(lambda s: s["plays_started"] >= 2, 20, "plays of the festival")
    eventually(lambda: rig.stored_seqs(device_id) or None, 30, "plays stored by the tenant")
    before = rig.tenant.admin(SLUG).plays("track")["groups"]

    code, _, err = admin(rig, capsys, "track", "retire", first)
    assert code == 0, err
    code, _, err = admin(rig, capsys, "playlist", "retire", "extra")
    assert code == 0, err

    eventually(lambda: not cached(kiosk.state_dir, first_sha), 40, "the retired track evicted")
    kiosk.wait_until(lambda s: s["playlists"] == 1, 30, "the retired playlist gone")
    assert cached(kiosk.state_dir, second_sha)  # still in the festival
    assert kiosk.status()["playlist_id"] == PLAYLIST
    after = {g["key"]: g for g in rig.tenant.admin(SLUG).plays("track")["groups"]}
    for group in before:  # counted plays stay, the retired track's too
        assert after[group["key"]]["plays"] >= group["plays"]
