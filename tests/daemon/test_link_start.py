"""The tenant link's start after READY (device/link_start.py): built once, on its own
thread; a pack imported meanwhile still reaches the sync; a failure is a visible problem;
`close` waits for the build and closes what it made, in order; and the saved desired state,
which the daemon reads before READY, applies in a real kiosk process."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from device.link_start import LinkStarter, StartedLink
from device.remote.desired import STATE_FILE
from device.sim.process import HEADLESS_FOLDER_CONFIG, KioskProcess


class Build:
    """A build that records what happens to what it made; `gate` holds it mid-way."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0
        self.log: list[str] = []

    def __call__(self) -> StartedLink:
        self.calls += 1
        self.entered.set()
        self.gate.wait(10)
        if self.fail:
            raise OSError("state directory unreadable")
        return StartedLink(
            lambda: self.log.append("content replaced"),
            closers=[lambda: self.log.append("link closed"), lambda: self.log.append("admin")],
        )


def test_close_waits_for_the_build_and_closes_what_it_made_in_order() -> None:
    build = Build()
    build.gate.clear()
    starter = LinkStarter(build)
    starter.start()
    assert build.entered.wait(10)
    closer = threading.Thread(target=starter.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive() and build.log == []  # waits for the build under way
    build.gate.set()
    closer.join(10)
    assert not closer.is_alive()
    assert build.log == ["link closed", "admin"]
    assert starter.problem is None


def test_a_pack_imported_while_the_link_is_built_reaches_the_sync_afterwards() -> None:
    build = Build()
    build.gate.clear()
    starter = LinkStarter(build)
    starter.start()
    assert build.entered.wait(10)
    starter.content_replaced()
    assert build.log == []
    build.gate.set()
    starter.close()
    assert build.log == ["content replaced", "link closed", "admin"]


def test_a_pack_imported_once_the_link_runs_goes_straight_to_it() -> None:
    build = Build()
    starter = LinkStarter(build)
    starter.start()
    starter.content_replaced()  # before or after the build ends: reaches it exactly once
    starter.close()
    assert build.log.count("content replaced") == 1


def test_a_link_that_cannot_be_built_is_a_problem_and_nothing_is_closed() -> None:
    build = Build(fail=True)
    starter = LinkStarter(build)
    starter.start()
    starter.close()
    assert starter.problem == "tenant link: state directory unreadable"
    assert build.log == []


def test_closed_before_its_thread_runs_nothing_is_built() -> None:
    build = Build()
    starter = LinkStarter(build)
    starter.close()  # a start-up error after the starter was registered, before READY
    starter.start()
    starter.close()
    assert build.calls == 0


def test_a_tenant_kiosk_applies_its_saved_desired_state_with_nobody_answering(
    tmp_path: Path,
) -> None:
    """Read by the daemon before READY, not by the link (built after it): the volume limit
    saved last time clamps the configured default (40) with the tenant unreachable."""
    state = tmp_path / "state"
    state.mkdir()
    saved = {"v": 1, "version": 3, "playlists": [], "volume": {"min": 10, "max": 30}}
    (state / STATE_FILE).write_text(json.dumps(saved))
    config = tmp_path / "jukebox.toml"
    config.write_text(HEADLESS_FOLDER_CONFIG + '[tenant]\nurl = "http://127.0.0.1:9/t/nobody"\n')
    kiosk = KioskProcess(config, tmp_path / "control.sock", tmp_path / "kiosk.log")
    try:
        kiosk.start()
        kiosk.connect()
        kiosk.wait_until(lambda s: s["volume"] != 0, 10, "the core's first status")
        assert kiosk.status()["volume"] == 30
        kiosk.wait_until(lambda s: s["tenant_state"] == "unreachable", 30, "the link's first try")
        assert kiosk.quit() == 0
    finally:
        kiosk.close()
    log = (tmp_path / "kiosk.log").read_text()
    assert "applying the saved desired state 3" in log  # remote administration, after READY
