"""Desired state: applied to the real core, reported (syncing -> applied, rejected), versioned,
and kept across a restart."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.core.desired import DesiredState
from device.journal.outbox import PlayJournal
from device.remote.desired import STATE_FILE
from tests.remote.support import RemoteRig, wait_for


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Iterator[RemoteRig]:
    rig = RemoteRig(tmp_path, journal)
    yield rig
    rig.admin.close()


def wish(version: int = 1, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "version": version, "playlists": ["festival", "local"], **fields}


def send(rig: RemoteRig, payload: dict[str, Any] | bytes) -> None:
    rig.admin.on_desired(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    rig.drain()


def test_a_desired_state_is_applied_and_reported_syncing_until_its_playlists_are_here(
    rig: RemoteRig,
) -> None:
    rig.present = {"festival"}
    send(rig, wish(featured="local", volume={"min": 10, "max": 30}))
    assert rig.kiosk.desired is not None and rig.kiosk.desired.version == 1
    assert rig.player.volume == 30  # clamped at once (configured default 40)
    assert rig.kiosk.status.playlist_id == "local"
    assert rig.syncs == 1  # the content sync was asked to fetch what was assigned
    assert rig.publisher.reported == [
        {
            "v": 1,
            "version": 1,
            "status": "syncing",
            "missing": ["local"],
            "firmware_version": "9.9.9",
        }
    ]
    assert rig.admin.desired_version == 1
    rig.present.add("local")  # the sync finished: the watcher notices within a few checks
    assert wait_for(lambda: rig.publisher.reported[-1]["status"] == "applied")
    assert rig.publisher.reported[-1] == {
        "v": 1,
        "version": 1,
        "status": "applied",
        "firmware_version": "9.9.9",
    }
    assert len(rig.publisher.reported) == 2  # no repeats while nothing changes
    rig.admin.recheck()
    assert len(rig.publisher.reported) == 2


def test_a_state_whose_playlists_are_all_here_is_applied_at_once(rig: RemoteRig) -> None:
    rig.present = {"festival", "local", "other"}
    send(rig, wish())
    assert [r["status"] for r in rig.publisher.reported] == ["applied"]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"{not json", "desired-state: not JSON"),
        (b"\xff\xfe", "desired-state: not UTF-8"),
        (b"[]", "desired-state: (top level): [] must be object"),
        (json.dumps(wish(2, volume={"min": 80, "max": 20})).encode(), "volume: min (80)"),
        (json.dumps(wish(2, featured="jazz")).encode(), "featured: 'jazz' is not one of"),
        (
            json.dumps(wish(2, opening_hours=[{"days": "mon", "from": "10:00", "to": "10:00"}])),
            "opening_hours[0].from and to are both 10:00",
        ),
        (
            json.dumps(
                wish(2, schedule=[{"playlist": "x", "days": "mon", "from": "1:00", "to": "2:00"}])
            ),
            "schedule[0].from: '1:00' must match pattern",
        ),
        (
            json.dumps(
                wish(
                    2,
                    schedule=[{"playlist": "jazz", "days": "mon", "from": "01:00", "to": "02:00"}],
                )
            ),
            "schedule[0].playlist: 'jazz' is not an assigned playlist",
        ),
        (json.dumps(wish(2, playlists="festival")).encode(), "playlists: 'festival' must be array"),
        (
            json.dumps(wish(2, extra=1)).encode(),
            "(top level): must not contain {'extra'} properties",
        ),
        (
            json.dumps(wish(2, timezone="Mars/Olympus")).encode(),
            "timezone: 'Mars/Olympus' is not a time zone this kiosk knows",
        ),
        (json.dumps(wish(2, timezone="../../etc/passwd")).encode(), "timezone: '../../etc"),
        (b'{"v": 1, "playlists": [' + b'"a",' * 70000 + b'"b"]}', "bytes, more than 262144"),
        (json.dumps(wish(2, language="de")).encode(), "language: 'de' must be one of ['en', 'fr']"),
        (json.dumps(wish(2, autoplay="yes")).encode(), "autoplay: 'yes' must be boolean"),
        (json.dumps(wish(2, idle_timeout_s=0)).encode(), "idle_timeout_s: 0 must be"),
    ],
)
def test_a_malformed_desired_state_is_rejected_and_the_previous_one_stays(
    rig: RemoteRig, payload: bytes | str, problem: str
) -> None:
    rig.present = {"festival", "local"}
    send(rig, wish(1, volume={"min": 10, "max": 30}))
    saved = (rig.state_dir / STATE_FILE).read_bytes()
    send(rig, payload.encode() if isinstance(payload, str) else payload)
    [_, rejected] = rig.publisher.reported
    assert rejected["status"] == "rejected"
    assert problem in rejected["problem"]
    # The version is echoed when it can be read, else the one still in force.
    assert rejected["version"] in (1, 2)
    assert rig.kiosk.desired is not None and rig.kiosk.desired.version == 1
    assert rig.kiosk.rules.maximum == 30
    assert (rig.state_dir / STATE_FILE).read_bytes() == saved
    assert rig.admin.desired_version == 1


def test_a_rejected_version_is_echoed(rig: RemoteRig) -> None:
    send(rig, wish(7, featured="jazz"))
    [rejected] = rig.publisher.reported
    assert rejected["version"] == 7 and rejected["status"] == "rejected"
    assert rig.admin.desired_version == 0 and rig.kiosk.desired is None


def test_older_versions_are_ignored_and_the_same_one_again_is_reported_again(
    rig: RemoteRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.present = {"festival", "local"}
    send(rig, wish(5, featured="local"))
    assert len(rig.publisher.reported) == 1
    with caplog.at_level(logging.INFO, logger="device.remote"):
        send(rig, wish(4, featured="festival"))
    assert len(rig.publisher.reported) == 1  # nothing published for an older version
    assert "ignoring desired state 4: 5 is in force" in caplog.text
    assert rig.kiosk.status.playlist_id == "local"
    send(rig, wish(5, featured="local"))  # the broker's retained copy, after a reconnect
    assert [r["version"] for r in rig.publisher.reported] == [5, 5]
    assert rig.publisher.reported[1]["status"] == "applied"
    assert rig.drain() == 0 and rig.syncs == 1  # not applied twice
    send(rig, wish(6, featured="festival"))
    assert rig.kiosk.status.playlist_id == "festival"
    assert rig.publisher.reported[-1]["version"] == 6


def test_the_applied_state_survives_a_restart_without_network(
    tmp_path: Path, journal: PlayJournal
) -> None:
    rig = RemoteRig(tmp_path, journal)
    send(rig, wish(3, featured="local", volume={"min": 25, "max": 35}))
    rig.admin.close()
    # A new boot: a fresh core and a fresh admin over the same state directory.
    again = RemoteRig(tmp_path, journal)
    assert again.admin.desired_version == 3
    assert again.drain() == 1
    desired = again.kiosk.desired
    assert isinstance(desired, DesiredState) and desired.featured == "local"
    assert again.kiosk.rules.minimum == 25 and again.player.volume == 35
    assert again.kiosk.status.playlist_id == "local"
    assert again.publisher.reported[0]["version"] == 3
    assert again.publisher.reported[0]["status"] == "syncing"
    again.admin.close()


def test_a_damaged_saved_state_is_ignored_with_a_log(
    tmp_path: Path, journal: PlayJournal, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / STATE_FILE).write_bytes(b'{"v": 1, "version": 3, "playl')
    with caplog.at_level(logging.ERROR):
        rig = RemoteRig(tmp_path, journal)
    assert "ignoring the saved desired state" in caplog.text
    assert rig.admin.desired_version == 0 and rig.drain() == 0
    assert rig.publisher.reported == []
    send(rig, wish(1))  # a new push replaces it
    assert rig.admin.desired_version == 1
    rig.admin.close()


def test_a_state_that_cannot_be_saved_is_applied_and_says_so(rig: RemoteRig) -> None:
    rig.admin.path = rig.tmp_path / "missing-dir" / STATE_FILE
    rig.present = {"festival", "local"}
    send(rig, wish(2))
    [report] = rig.publisher.reported
    assert report["status"] == "applied" and report["version"] == 2
    assert report["problem"].startswith("applied but not saved, lost at restart")


def test_a_rejection_stays_reported_while_the_previous_state_finishes_syncing(
    rig: RemoteRig,
) -> None:
    send(rig, wish(1))  # syncing: nothing on disk yet
    send(rig, wish(2, volume={"min": 90, "max": 10}))
    rig.present = {"festival", "local"}
    rig.admin.recheck()
    assert not wait_for(lambda: rig.publisher.reported[-1]["status"] != "rejected", 0.3)
    assert [(r["version"], r["status"]) for r in rig.publisher.reported] == [
        (1, "syncing"),
        (2, "rejected"),
    ]
    send(rig, wish(3))
    assert rig.publisher.reported[-1] == {**rig.publisher.reported[-1], "status": "applied"}


def test_a_failure_while_applying_is_reported_and_changes_nothing(
    tmp_path: Path, journal: PlayJournal, caplog: pytest.LogCaptureFixture
) -> None:
    rig = RemoteRig(tmp_path, journal)

    def full(_event: object) -> None:
        raise RuntimeError("queue closed")

    rig.admin.close()
    rig.admin = rig.new_admin()
    rig.admin.sink = full
    with caplog.at_level(logging.ERROR):
        rig.admin.on_desired(json.dumps(wish(4)).encode())
    [report] = rig.publisher.reported
    assert report == {**report, "version": 4, "status": "rejected"}
    assert report["problem"] == "internal error: queue closed"
    assert rig.admin.desired_version == 0
    assert not (rig.state_dir / STATE_FILE).exists()
    rig.admin.close()


def test_site_settings_in_the_desired_state_reach_the_core_and_survive_a_restart(
    rig: RemoteRig,
) -> None:
    rig.present = {"festival", "local"}
    send(rig, wish(language="fr", autoplay=True, idle_timeout_s=45))
    state = rig.kiosk.desired
    assert state is not None
    assert (state.language, state.autoplay, state.idle_timeout_s) == ("fr", True, 45.0)
    assert rig.kiosk.language == "fr"
    assert [r["status"] for r in rig.publisher.reported] == ["applied"]
    saved = json.loads((rig.state_dir / STATE_FILE).read_text())
    assert saved["language"] == "fr" and saved["idle_timeout_s"] == 45
