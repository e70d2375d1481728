"""`jukebox demo` end to end: the kiosk, the tenant, mosquitto over TLS and the ingester, all
real and each in its own process, as `scripts/demo` runs them (about 70 s)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from demo.console_tour import browser_problem
from demo.scenario import demo


def children() -> list[int]:
    """Processes whose parent is this one (the demo must leave none, not even a zombie)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_plays_reach_the_tenant_and_the_push_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(children())
    result = demo(tmp_path / "demo")
    shown = capsys.readouterr().out

    assert result.kiosk_exit == 0
    assert result.push_applied
    assert result.ok
    # Every play the tenant acknowledged was stored, none twice: it holds at least the plays the
    # kiosk deleted from its outbox and at most every play the kiosk ever recorded.
    assert result.journal is not None and result.journal.last_seq is not None
    delivered = result.journal.last_seq - result.journal.total
    assert 0 < delivered <= result.plays_stored <= result.journal.last_seq
    with open(tmp_path / "demo" / "plays.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(row["plays"]) for row in rows) == result.plays_stored
    assert sum(int(row["listened_s"]) for row in rows) > 0
    assert any(int(row["counted_streams"]) > 0 for row in rows)  # the 5 s rule counted some

    lines = shown.splitlines()
    # The push's volume ceiling (50) clamps the visitor's 55 at once (on a machine so loaded
    # that the push outlasted the idle timeout, the idle reset to 40 came first), and after
    # the idle reset the pushed featured playlist is the one selected.
    applied = next(line for line in lines if "volume limits apply" in line)
    assert int(re.search(r"vol +(\d+)", applied).group(1)) <= 50, applied  # type: ignore[union-attr]
    assert "(scene-locale)" in next(line for line in lines if "idle timeout" in line)
    assert "1 of 1 kiosk(s) applied" in shown
    assert "The web console: http://127.0.0.1:" in shown  # its address
    # Each person acted with their own token: the audit log names the technician for the claim
    # and the curator for the push (demo/tenant_side.py).
    audit = lines[lines.index("Who did what to the kiosk, from the tenant's audit log:") :]
    assert any(re.search(r"\bkarim +device\.claim\b", line) for line in audit), audit
    assert any(re.search(r"\bclaire +device\.push\b", line) for line in audit), audit
    if browser_problem() is None:  # the web console as the curator sees it
        for name in ("console-board.png", "console-playlist.png", "console-report.png"):
            assert (tmp_path / "demo" / name).read_bytes().startswith(b"\x89PNG"), name
    assert set(children()) <= before  # kiosk, tenant, ingester and mosquitto all stopped
