"""The health gate: a slot on trial is committed only after READY, the tenant and MQTT within
the time limit, else marked bad and rebooted; the committed slot is never rejected for a
missing network; the rollback is reported from the old slot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device.update import status
from device.update.health import Signals, run_gate, verdict
from device.update.rauc import InstallFailed
from tests.update.fakes import FakeUpdater

ALL_UP = Signals(ready=True, tenant=True, mqtt=True)
NO_NETWORK = Signals(ready=True, tenant=False, mqtt=False)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def gate(
    state: Path, updater: FakeUpdater, seen: list[Signals], reboots: list[str]
) -> dict[str, Any]:
    clock = Clock()
    stream = iter(seen)
    last = [seen[0]]

    def signals() -> Signals:
        last[0] = next(stream, last[0])
        return last[0]

    return run_gate(
        state, updater, signals, reboot=lambda: reboots.append("reboot"),
        monotonic=clock.monotonic, sleep=clock.sleep, limit_s=60, poll_s=5,
    )  # fmt: skip


def installed(state: Path) -> None:
    record = {"phase": "installed", "target": "0.2.0", "seq": 4}
    status.write(status.folder(state) / status.INSTALL, record)


def test_the_verdict_table() -> None:
    assert verdict(ALL_UP, on_trial=True, elapsed_s=1, limit_s=60) == "good"
    assert verdict(NO_NETWORK, on_trial=True, elapsed_s=59, limit_s=60) == "wait"
    assert verdict(NO_NETWORK, on_trial=True, elapsed_s=60, limit_s=60) == "bad"
    assert verdict(NO_NETWORK, on_trial=False, elapsed_s=1, limit_s=60) == "good"
    not_ready = Signals(ready=False, tenant=True, mqtt=True)
    assert verdict(not_ready, on_trial=False, elapsed_s=600, limit_s=60) == "wait"
    gave_up = Signals(ready=False, tenant=False, mqtt=False, failed=True)
    assert verdict(gave_up, on_trial=True, elapsed_s=1, limit_s=60) == "bad"
    assert verdict(gave_up, on_trial=False, elapsed_s=600, limit_s=60) == "wait"


def test_a_first_boot_commits_its_slot_without_network(tmp_path: Path) -> None:
    updater, reboots = FakeUpdater(), list[str]()
    record = gate(tmp_path, updater, [NO_NETWORK], reboots)
    assert updater.marks == [True] and record["committed"] == "A" and not reboots


def test_a_new_slot_that_comes_up_healthy_is_committed(tmp_path: Path) -> None:
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    installed(tmp_path)
    updater = FakeUpdater(booted="B", versions={"A": "0.1.0", "B": "0.2.0"})
    reboots: list[str] = []
    record = gate(tmp_path, updater, [NO_NETWORK, NO_NETWORK, ALL_UP], reboots)
    assert updater.marks == [True] and not reboots
    assert record["committed"] == "B" and record["phase"] == "committed"
    report = status.update_report(tmp_path)
    assert report["phase"] == "committed" and report["booted"] == "B"
    assert {"name": "B", "state": "booted good", "version": "0.2.0"} in report["slots"]


def test_the_committed_record_shows_the_slots_as_they_are_after_the_commit(
    tmp_path: Path,
) -> None:
    """The trial boot used the new slot's one try, so RAUC calls it "bad" until mark-good:
    the record must not report a committed slot as "booted bad" (QEMU good run, 085a9d5)."""
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    installed(tmp_path)
    updater = FakeUpdater(booted="B", versions={"A": "0.1.0", "B": "0.2.0"},
                          boot_status={"A": "good", "B": "bad"})  # fmt: skip
    record = gate(tmp_path, updater, [ALL_UP], [])
    assert record["phase"] == "committed"
    assert {"name": "B", "state": "booted good", "version": "0.2.0"} in record["slots"]
    assert {"name": "A", "state": "inactive good", "version": "0.1.0"} in record["slots"]


def test_a_new_slot_without_tenant_or_mqtt_in_time_is_marked_bad_and_left(tmp_path: Path) -> None:
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    installed(tmp_path)
    updater = FakeUpdater(booted="B", versions={"A": "0.1.0", "B": "0.2.0"})
    reboots: list[str] = []
    up_but_no_mqtt = Signals(ready=True, tenant=True, mqtt=False)
    record = gate(tmp_path, updater, [up_but_no_mqtt], reboots)
    assert updater.marks == [False] and reboots == ["reboot"]
    assert record["committed"] == "A" and "no MQTT" in record["result"]
    # the boot script falls back to A; there the gate commits A and reports the rollback
    updater = FakeUpdater(booted="A", versions={"A": "0.1.0", "B": "0.2.0"})
    record = gate(tmp_path, updater, [NO_NETWORK], reboots)
    assert updater.marks == [True] and reboots == ["reboot"]
    assert record["phase"] == "rolled_back" and "within 60 s: no MQTT" in record["result"]
    assert status.update_report(tmp_path)["phase"] == "rolled_back"


def test_a_slot_that_never_reached_the_gate_is_reported_rolled_back(tmp_path: Path) -> None:
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    installed(tmp_path)
    updater = FakeUpdater(booted="A", versions={"A": "0.1.0", "B": "0.2.0"})
    record = gate(tmp_path, updater, [ALL_UP], [])
    assert record["phase"] == "rolled_back" and "never reached the health gate" in record["result"]
    # the next boot says nothing new
    record = gate(tmp_path, updater, [ALL_UP], [])
    assert record["phase"] == "rolled_back" and record["seq"] > 5


def test_an_install_finished_while_the_gate_waited_is_still_judged_at_the_next_boot(
    tmp_path: Path,
) -> None:
    """The gate reads install.json when it starts, then may wait for RAUC; an install that
    ends meanwhile is newer than what it judged, though older than its verdict (ota-test)."""
    base = status.folder(tmp_path)
    status.write(base / status.HEALTH, {"committed": "A", "seq": 3})
    status.write(base / status.INSTALL, {"phase": "installing", "target": "0.2.0", "seq": 4})
    updater = FakeUpdater(booted="A", versions={"A": "0.1.0", "B": None}, mark_failures=2)

    def installer_finishes() -> Signals:
        if status.read(base / status.INSTALL) == {"phase": "installing", "target": "0.2.0",
                                                  "seq": 4}:  # fmt: skip
            updater.versions["B"] = "0.2.0"
            record = {"phase": "installed", "target": "0.2.0", "seq": status.next_seq(tmp_path)}
            status.write(base / status.INSTALL, record)
        return ALL_UP

    clock = Clock()
    verdict_ = run_gate(
        tmp_path, updater, installer_finishes, reboot=lambda: None,
        monotonic=clock.monotonic, sleep=clock.sleep, limit_s=60, poll_s=5,
    )  # fmt: skip
    install = status.read(base / status.INSTALL) or {}
    assert verdict_["seq"] > install["seq"] > verdict_["install_seq"] == 4
    assert verdict_["committed"] == "A" and verdict_.get("phase") != "rolled_back"
    # B's one try was spent without reaching the gate: the next boot, on A, says so.
    record = gate(tmp_path, FakeUpdater(booted="A", versions={"A": "0.1.0", "B": "0.2.0"}),
                  [ALL_UP], [])  # fmt: skip
    assert record["phase"] == "rolled_back" and "never reached the health gate" in record["result"]


def test_the_committed_slot_is_never_rejected_for_a_missing_network(tmp_path: Path) -> None:
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    updater, reboots = FakeUpdater(booted="A"), list[str]()
    gate(tmp_path, updater, [Signals(ready=False, tenant=False, mqtt=False), NO_NETWORK], reboots)
    assert updater.marks == [True] and not reboots


def test_a_slot_installed_before_the_first_commit_is_still_on_trial(tmp_path: Path) -> None:
    installed(tmp_path)  # installed on the card's first boot, before its gate ran
    updater = FakeUpdater(booted="B", versions={"A": None, "B": "0.2.0"})
    reboots: list[str] = []
    record = gate(tmp_path, updater, [Signals(ready=False, tenant=False, mqtt=False)], reboots)
    assert updater.marks == [False] and reboots == ["reboot"] and "no READY" in record["result"]


def test_a_new_slot_whose_daemon_failed_for_good_is_left_at_once(tmp_path: Path) -> None:
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    installed(tmp_path)
    updater = FakeUpdater(booted="B", versions={"A": "0.1.0", "B": "0.2.0"})
    reboots: list[str] = []
    starting = Signals(ready=False, tenant=False, mqtt=False)
    gave_up = Signals(ready=False, tenant=False, mqtt=False, failed=True)
    record = gate(tmp_path, updater, [starting, gave_up], reboots)
    assert updater.marks == [False] and reboots == ["reboot"]
    assert "jukebox.service failed" in record["result"] and "within" not in record["result"]
    updater = FakeUpdater(booted="A", versions={"A": "0.1.0", "B": "0.2.0"})
    record = gate(tmp_path, updater, [ALL_UP], reboots)
    assert record["phase"] == "rolled_back" and "jukebox.service failed" in record["result"]


def test_the_gate_waits_for_rauc_status_within_its_limit(tmp_path: Path) -> None:
    status.write(status.folder(tmp_path) / status.HEALTH, {"committed": "A", "seq": 3})
    installed(tmp_path)
    updater = FakeUpdater(booted="B", versions={"A": "0.1.0", "B": "0.2.0"}, status_failures=2)
    reboots: list[str] = []
    record = gate(tmp_path, updater, [ALL_UP], reboots)
    assert updater.marks == [True] and record["phase"] == "committed" and not reboots
    never = FakeUpdater(booted="B", status_failures=1000)
    with pytest.raises(InstallFailed):
        gate(tmp_path, never, [ALL_UP], reboots)
    assert never.marks == [] and not reboots


def test_mark_good_waits_for_an_install_in_progress(tmp_path: Path) -> None:
    """On the card's first boot the install may run beside the gate: RAUC's service answers
    one request at a time, so mark-good is asked again rather than the gate failing (found by
    ota-test: the slot then lost a try at every boot)."""
    updater = FakeUpdater(mark_failures=3)
    record = gate(tmp_path, updater, [ALL_UP], [])
    assert updater.marks == [True] and record["committed"] == "A"
