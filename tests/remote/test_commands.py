"""Commands: every request gets exactly one result, with what it did or what was wrong."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.display.model import IdentifyScreen
from device.journal.outbox import PlayJournal
from tests.remote.support import DEVICE_ID, RemoteRig, wait_for


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Iterator[RemoteRig]:
    rig = RemoteRig(tmp_path, journal)
    yield rig
    rig.admin.close()


def command(rig: RemoteRig, name: str, **fields: Any) -> dict[str, Any]:
    """Send one request and return its one result."""
    before = len(rig.publisher.results)
    request = {"v": 1, "request_id": f"req-{name}", "command": name, **fields}
    rig.admin.on_command(json.dumps(request).encode())
    rig.drain()
    assert len(rig.publisher.results) == before + 1
    return rig.publisher.results[-1]


def test_resync_asks_the_content_sync_for_a_pass(rig: RemoteRig) -> None:
    result = command(rig, "resync")
    assert result == {
        "v": 1,
        "request_id": "req-resync",
        "command": "resync",
        "ok": True,
        "result": {"sync": "started"},
    }
    assert rig.syncs == 1


def test_identify_flashes_the_name_for_the_asked_time(rig: RemoteRig) -> None:
    result = command(rig, "identify", args={"seconds": 12})
    assert result["ok"] and result["result"] == {"seconds": 12}
    assert rig.display.last() == IdentifyScreen("Salle 2", DEVICE_ID)
    rig.clock.advance(11.9)
    rig.kiosk.tick()
    assert rig.display.last() == IdentifyScreen("Salle 2", DEVICE_ID)
    rig.clock.advance(0.2)
    rig.kiosk.tick()
    assert not isinstance(rig.display.last(), IdentifyScreen)


def test_identify_lasts_30_seconds_by_default(rig: RemoteRig) -> None:
    assert command(rig, "identify")["result"] == {"seconds": 30}
    assert rig.kiosk.identify_until == rig.clock.now + 30


def test_reboot_answers_first_then_asks_systemd(rig: RemoteRig) -> None:
    result = command(rig, "reboot")
    assert result["ok"] and result["result"] == {"reboot_in_s": 0.01}
    assert wait_for(lambda: len(rig.reboots) == 1)
    assert rig.publisher.order == ["result reboot", "reboot"]


def test_a_failed_reboot_is_logged(
    tmp_path: Path, journal: PlayJournal, caplog: pytest.LogCaptureFixture
) -> None:
    class Refused:
        def reboot(self) -> None:
            raise OSError("systemctl reboot failed: Access denied")

    rig = RemoteRig(tmp_path, journal)
    rig.admin = rig.new_admin(rebooter=Refused())
    with caplog.at_level(logging.ERROR):
        assert command(rig, "reboot")["ok"]
        assert wait_for(lambda: "the requested reboot failed: systemctl" in caplog.text)
    rig.admin.close()


def test_closing_cancels_a_pending_reboot(rig: RemoteRig) -> None:
    rig.admin = rig.new_admin(reboot_delay_s=0.5)
    command(rig, "reboot")
    rig.admin.close()
    assert not wait_for(lambda: bool(rig.reboots), timeout_s=0.8)


def test_diagnostics_sends_recent_lines_and_a_state_summary_without_secrets(
    rig: RemoteRig,
) -> None:
    logger = logging.getLogger("device.test")
    logger.addHandler(rig.logs)
    logger.setLevel(logging.INFO)
    try:
        for i in range(60):
            logger.info("line %d", i)
        logger.warning("token refreshed: access_token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
        logger.info("mqtt login password=hunter2 user=jk-1")
    finally:
        logger.removeHandler(rig.logs)
    result = command(rig, "diagnostics", args={"lines": 5})
    assert result["ok"]
    log, state = result["result"]["log"], result["result"]["state"]
    assert len(log) == 5
    assert log[-1].endswith("INFO device.test: mqtt login password=[redacted] user=jk-1")
    assert "hunter2" not in json.dumps(result) and "eyJhbGci" not in json.dumps(result)
    assert state["kiosk"]["mode"] == "idle" and state["kiosk"]["volume"] == 40
    assert state["journal"] == {**state["journal"], "open": 0, "finished": 0}
    assert state["versions"]["firmware"] == "9.9.9"
    assert state["desired"] == {"version": 0}
    default = command(rig, "diagnostics")
    assert len(default["result"]["log"]) == 50  # all the ring buffer holds (100 asked)


def test_diagnostics_fit_in_one_message(tmp_path: Path, journal: PlayJournal) -> None:
    rig = RemoteRig(tmp_path, journal)
    rig.admin = rig.new_admin(recent_logs=lambda n: ["é" * 1000] * n)
    result = command(rig, "diagnostics", args={"lines": 500})
    encoded = json.dumps(result, ensure_ascii=False).encode()
    assert len(encoded) <= 256 * 1024
    assert result["result"]["log_dropped"] > 0
    assert len(result["result"]["log"]) + result["result"]["log_dropped"] == 500
    rig.admin.close()


@pytest.mark.parametrize(
    ("payload", "request_id", "error"),
    [
        (
            {"v": 1, "request_id": "r1", "command": "selfdestruct"},
            "r1",
            "command-request: command: 'selfdestruct' must be one of",
        ),
        (
            {"v": 1, "request_id": "r2", "command": "identify", "args": {"seconds": 0}},
            "r2",
            "args.seconds: 0 must be bigger than or equal to 1",
        ),
        (
            {"v": 1, "request_id": "r3", "command": "identify", "args": {"seconds": "5"}},
            "r3",
            "args.seconds: '5' must be integer",
        ),
        (
            {"v": 1, "request_id": "r4", "command": "identify", "args": {"lines": 5}},
            "r4",
            "args.lines: not an argument of identify",
        ),
        ({"v": 1, "command": "resync"}, None, "must contain ['request_id'] properties"),
        ({"v": 2, "request_id": "r5", "command": "resync"}, "r5", "v: 2 must be 1"),
        (
            {"v": 1, "request_id": "x" * 65, "command": "resync"},
            None,
            "must be shorter than or equal to 64 characters",
        ),
        ({"v": 1, "request_id": 7, "command": "resync"}, None, "request_id: 7 must be string"),
    ],
)
def test_a_bad_request_gets_one_error_naming_the_problem(
    rig: RemoteRig, payload: dict[str, Any], request_id: str | None, error: str
) -> None:
    rig.admin.on_command(json.dumps(payload).encode())
    [result] = rig.publisher.results
    assert result["ok"] is False and result["request_id"] == request_id
    assert error in result["error"]
    assert rig.syncs == 0 and rig.drain() == 0


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", "command-request: not JSON"),
        (b"resync", "command-request: not JSON"),
        (b'{"v": 1, "request_id": "\xff"}', "command-request: not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "command-request: not JSON"),
        (b'{"v": 1, "request_id": "big", "pad": "' + b"x" * 300_000 + b'"}', "more than 262144"),
    ],
)
def test_unreadable_requests_get_an_error_with_a_null_request_id(
    rig: RemoteRig, payload: bytes, error: str
) -> None:
    rig.admin.on_command(payload)
    [result] = rig.publisher.results
    assert result == {**result, "request_id": None, "ok": False}
    assert error in result["error"]


def test_a_bug_in_a_command_still_gets_its_one_result(
    tmp_path: Path, journal: PlayJournal, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("sync thread gone")

    rig = RemoteRig(tmp_path, journal)
    rig.admin = rig.new_admin(sync_now=broken)
    with caplog.at_level(logging.ERROR):
        result = command(rig, "resync")
    assert result["ok"] is False and result["request_id"] == "req-resync"
    assert result["error"] == "internal error: sync thread gone"
    rig.admin.close()


def test_diagnostics_report_a_journal_that_cannot_be_read(
    tmp_path: Path, journal: PlayJournal
) -> None:
    rig = RemoteRig(tmp_path, journal)
    journal.close()  # as if the file had gone bad: stats() raises
    result = command(rig, "diagnostics")
    assert result["ok"]
    assert "error" in result["result"]["state"]["journal"]
    rig.admin.close()


def test_a_publisher_that_fails_never_reaches_the_mqtt_thread(
    tmp_path: Path, journal: PlayJournal, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def publish_reported(self, payload: dict[str, Any]) -> None:
            raise RuntimeError("outbox gone")

        def publish_result(self, payload: dict[str, Any]) -> None:
            raise RuntimeError("outbox gone")

    rig = RemoteRig(tmp_path, journal)
    rig.admin.publisher = Broken()
    with caplog.at_level(logging.ERROR):
        rig.admin.on_command(b'{"v": 1, "request_id": "r", "command": "resync"}')
        rig.admin.on_command(b"garbage")
        rig.admin.on_desired(b"garbage")
        rig.admin.on_desired(b'{"v": 1, "version": 1, "playlists": []}')
    # Logged, not raised; a failed answer is not tried twice (it would fail the same way).
    assert caplog.text.count("command handling failed") == 2
    assert "could not report the failure either" in caplog.text
    rig.admin.close()
