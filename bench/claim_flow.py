"""A new kiosk's first minutes: first contact to claim code on screen, claim to first music.

A local tenant (`jukebox tenant serve`, its own process) with a curated playlist of three
tracks for site "bench"; each run boots a never-claimed simulated kiosk (`jukebox run
--simulate`, its own process), waits for the claim code on its screen, claims it through the
admin API (`--claim-after` seconds after the code shows), waits until the playlist is synced
and presses play. The kiosk polls at once, then `interval` (5 s) after each poll was sent; it
says it waits 25 s for an answer (`Prefer: wait=25`) and the tenant holds its pending poll up
to 20 s, answering it at the claim (long polling). A hold is longer than the interval, so the
next poll goes as soon as one ends: a poll is always waiting and any claim is answered within
a round trip. `--claim-after 0` claims during the first held poll; `--runs 1 --claim-after 0
1 2 3 4 5 6 7 8 9` spreads claims over time (before this long polling, over one 9.5 s cycle of
a 4.5 s hold and a 5 s wait).

    .venv/bin/python bench/claim_flow.py [--runs 3] [--claim-after 0 [7 ...]]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from demo.tenant_side import DemoTenant
from demo.tracks import TrackSpec, synthesise_track
from device.sim.process import KioskProcess

CONFIG = """
[device]
state_dir = "state"
[tenant]
url = "{url}"
[audio]
backend = "null"
[display]
driver = "none"
[[buttons]]
name = "play"
pin = 17
press = "play_pause"
"""


def one_run(root: Path, tenant: DemoTenant, claim_after: float) -> tuple[float, float, float]:
    shutil.rmtree(root / "state", ignore_errors=True)
    kiosk = KioskProcess(root / "jukebox.toml", root / "control.sock")
    try:
        began = time.monotonic()
        kiosk.start()
        client = kiosk.connect()
        kiosk.wait_until(lambda s: s["screen"] == "ClaimScreen", 30, "the claim code")
        code_shown = time.monotonic() - began
        code = kiosk.status()["claim_code"]
        time.sleep(claim_after)
        claimed = time.monotonic()
        with tenant.client() as admin:
            admin.claim(code, "bench")
        kiosk.wait_until(lambda s: s["playlist_id"] is not None, 60, "the playlist")
        ready = time.monotonic() - claimed
        client.send(cmd="tap", button="play")
        kiosk.wait_until(lambda s: s["plays_started"] == 1, 30, "the first play")
        music = time.monotonic() - claimed
        kiosk.quit()
        return code_shown, ready, music
    finally:
        kiosk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--claim-after",
        type=float,
        nargs="+",
        default=[0.0],
        help="seconds from claim code to claim; several: --runs runs of each",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tenant = DemoTenant(root / "tenant")
        try:
            tenant.start()
            with tenant.client() as admin:
                ids = []
                for i in range(3):
                    path = synthesise_track(root / f"t{i}.flac", TrackSpec(f"T{i}", "Bench", 20))
                    ids.append(admin.import_file(path).track["id"])
                admin.put_playlist("bench", "Bench", ids)
                admin.assign("bench", sites=["bench"], featured=True)
            (root / "jukebox.toml").write_text(CONFIG.format(url=tenant.url))
            runs = [
                one_run(root, tenant, after) for after in args.claim_after for _ in range(args.runs)
            ]
        finally:
            tenant.stop()
    shown, ready, music = zip(*runs, strict=True)
    afters = ", ".join(f"{after:g}" for after in args.claim_after)
    print(
        f"new kiosk against a local tenant, {len(runs)} runs, claimed {afters} s "
        "after the code showed (median, max):"
    )
    print(
        f"  process start to claim code on screen  {statistics.median(shown):6.2f} s  "
        f"{max(shown):6.2f} s"
    )
    print(
        f"  claim to playlist synced               {statistics.median(ready):6.2f} s  "
        f"{max(ready):6.2f} s"
    )
    print(
        f"  claim to first music (play pressed)    {statistics.median(music):6.2f} s  "
        f"{max(music):6.2f} s   (poll interval 5 s, hold up to 20 s)"
    )


if __name__ == "__main__":
    main()
