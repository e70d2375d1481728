"""image-build/ota-test's reading of the serial console, without QEMU.

The scenarios themselves are the slow proof (docs/image.md). Here: that the markers it waits
for are found in console lines copied from a real run's log (`bad`, image of d2015ad).
"""

from __future__ import annotations

import io
from typing import Any

from tests.image_build import load

ota_test = load("ota_test")
progress = load("progress")

GATE = (
    "[  128.491233] jukebox[305]: device.update.health: slot B (None) not healthy: "
    "jukebox.service failed, no READY, no tenant, no MQTT; back to slot A"
)
ROLLBACK = (
    "[  180.632548] jukebox[317]: device.update.health: rollback reported: running None on "
    "slot A; rolled back: slot B (None) not healthy: jukebox.service failed, no READY"
)
SLOT = "jukebox-boot: slot A (partition 2), tries left A=2 B=3"


def console() -> Any:
    return ota_test.Console(io.StringIO(), progress.Steps(1))


def test_a_rollback_line_is_both_rolled_back_and_marked_bad() -> None:
    """The run that waited for `rolled_back` until its timeout: the line also matched
    `marked_bad`, and only the last marker matched was returned."""
    c = console()
    assert c._line(ROLLBACK.encode()) == {"rolled_back", "marked_bad"}
    assert c.index("rolled_back") >= 0 and c.index("marked_bad") >= 0


def test_the_gates_verdict_on_the_new_slot_is_not_a_rollback() -> None:
    c = console()
    assert c._line(GATE.encode()) == {"marked_bad"}
    assert c.index("rolled_back") == -1


def test_the_booted_slot_is_read_and_a_plain_line_matches_nothing() -> None:
    c = console()
    assert c._line(SLOT.encode()) == {"slot"}
    assert c.values("slot") == ["A"]
    assert c._line(b"[   12.0] systemd[1]: Reached target basic.target.") == set()
    log = c.record.getvalue()
    assert "basic.target" in log and SLOT in log
