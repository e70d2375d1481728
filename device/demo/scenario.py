"""`jukebox demo`: a simulated kiosk plays a curated playlist while a script presses its buttons.

Everything is real but the hardware: tracks are synthesised FLAC files with real tags, the
daemon is `jukebox run --simulate` in its own process (mpv, gpiozero MockFactory pins, the
luma emulator), buttons are pressed through its control socket, and the play journal is the
daemon's own SQLite file, printed at the end.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from device.demo.tenant_side import DemoTenant
from device.demo.tracks import TrackSpec, synthesise_track
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity, PlayReport
from device.sim.control import ControlClient
from device.sim.process import KioskProcess

FESTIVAL = [
    TrackSpec("Ouverture sous les platanes", "Lila Ferrand", 9, "FRZ032600101", "Suds 2026", 392),
    TrackSpec("Mistral, mistral", "Les Calanques Électriques", 7, "FRZ032600102", None, 330),
    TrackSpec("Fête de la musique à l'Estaque", "Björn & Nadia", 8, "FRZ032600103", None, 440),
]
LOCAL = [
    TrackSpec("Rue d'Aubagne", "Collectif Noailles", 8, "FRZ032600201", None, 494),
    TrackSpec("Minuit au Panier", "Sami K.", 9, "FRZ032600202", None, 262),
]

PLAYLISTS = """\
featured = "festival-suds-2026"

[[playlist]]
id = "festival-suds-2026"
title = "Festival des Suds 2026"
note = "Les artistes du festival, à écouter avant les concerts du 10 juillet."
tracks = [
  { file = "festival-1.flac", id = "ferrand-ouverture" },
  { file = "festival-2.flac", id = "calanques-mistral" },
  { file = "festival-3.flac", id = "bjorn-nadia-estaque" },
]

[[playlist]]
id = "scene-locale"
title = "Scène locale : Marseille"
note = "Choisie par l'équipe de la médiathèque de l'Alcazar."
tracks = [
  { file = "local-1.flac", id = "noailles-aubagne" },
  { file = "local-2.flac", id = "sami-k-panier" },
]
"""

CONFIG = """\
[device]
name = "Médiathèque de démonstration"
state_dir = "state"

[tenant]
url = "{tenant_url}"
sync_interval_s = 10

[audio]
backend = "null"          # silent: this machine may have no sound card
default_volume = 40
min_volume = 20
max_volume = 70
volume_step = 5

[visitor]
idle_timeout_s = 8

[playback]
at_playlist_end = "loop"

[display]
driver = "emulated"
emulator = "gif"
emulator_output = "screen.gif"
emulator_fps = 5
dim_after_s = 5
move_every_s = 2

[[buttons]]
name = "play"
pin = 17
press = "play_pause"
hold = "technician"

[[buttons]]
name = "next"
pin = 27
press = "next"
hold = "next_playlist"

[[buttons]]
name = "prev"
pin = 22
press = "previous"

[rotary]
pin_a = 5
pin_b = 6
"""


def prepare(output: Path) -> Path:
    """Write the tracks and a local playlists file; return the content folder."""
    content = output / "content"
    content.mkdir(parents=True, exist_ok=True)
    for name, specs in (("festival", FESTIVAL), ("local", LOCAL)):
        for i, spec in enumerate(specs, start=1):
            path = content / f"{name}-{i}.flac"
            if not path.exists():
                synthesise_track(path, spec)
    # A damaged file, as a library will one day have: the kiosk must skip it and go on.
    (output / "damaged.flac").write_bytes(b"fLaC" + os.urandom(4096))
    # The same tracks as a local content folder, for `jukebox run` without a tenant
    # (docs/examples/simulate.toml).
    (content / "playlists.toml").write_text(PLAYLISTS, encoding="utf-8")
    return content


class Script:
    def __init__(self, client: ControlClient, started: float) -> None:
        self.client = client
        self.started = started

    def step(self, text: str, **request: Any) -> None:
        answer = self.client.send(**request) if request else {"ok": True}
        time.sleep(0.2)  # let the core take the press before asking what it did
        status = self.client.send(cmd="status")["status"]
        now = time.monotonic() - self.started
        what = status["title"] or status["screen"]
        print(f"  {now:5.1f}s  {text:<38} → {status['mode']:<8} vol {status['volume']:>2}  {what}")
        if not answer.get("ok"):
            print(f"         the kiosk refused: {answer.get('error')}")

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


def scenario(script: Script) -> None:
    script.step("kiosk idle, attract screen")
    script.wait(1)
    script.step("visitor presses ▶", cmd="tap", button="play")
    script.wait(4)
    script.step("turns the volume knob up 3 steps", cmd="rotate", steps=3)
    script.wait(2)
    script.step("presses next", cmd="tap", button="next")
    script.wait(3)
    script.step("pauses", cmd="tap", button="play")
    script.wait(2)
    script.step("resumes", cmd="tap", button="play")
    script.wait(2)
    script.step("holds next: next playlist", cmd="hold", button="next", seconds=1.3)
    script.wait(3)
    script.step("presses next (a damaged file follows)", cmd="tap", button="next")
    script.wait(4)
    script.step("technician holds ▶: technician screen", cmd="hold", button="play", seconds=1.3)
    script.wait(3)
    script.step("holds ▶ again: back", cmd="hold", button="play", seconds=1.3)
    script.wait(1)
    script.step("pauses and walks away", cmd="tap", button="play")
    script.wait(8.5)
    script.step("idle timeout: volume and playlist reset")
    script.wait(4)
    script.step("attract screen dims and moves")


def print_journal(path: Path) -> list[PlayReport]:
    identity = JournalIdentity("", "", "", "", "")
    with PlayJournal(path, identity, exclusive=False) as journal:
        plays = journal.plays()
    print(f"\nPlay journal ({path}):")
    header = f"{'seq':>3}  {'playlist':<20} {'track':<24} {'isrc':<13} {'listened':>8}  end"
    print(header)
    print("-" * len(header))
    for play in plays:
        track = play.track_id if len(play.track_id) <= 24 else play.track_id[:21] + "..."
        print(
            f"{play.seq:>3}  {play.playlist_id:<20} {track:<24} {play.isrc or '':<13} "
            f"{play.listened_ms / 1000:>7.1f}s  {play.end_reason or 'open'} "
            f"({play.started_by.value})"
        )
    return plays


def run_demo(output: Path) -> int:
    output = output.resolve()
    print(f"Preparing tracks in {output}")
    content = prepare(output)
    for stale in ("screen.gif", "kiosk.log"):
        (output / stale).unlink(missing_ok=True)
    shutil.rmtree(output / "state", ignore_errors=True)  # a new kiosk, never claimed

    print("\nThe library network: a reference tenant on this machine")
    tenant = DemoTenant(output / "tenant")
    kiosk: KioskProcess | None = None
    try:
        tenant.start()
        tenant.publish(content, output / "damaged.flac")
        config = output / "jukebox.toml"
        config.write_text(CONFIG.replace("{tenant_url}", tenant.url), encoding="utf-8")

        kiosk = KioskProcess(config, output / "state" / "control.sock", output / "kiosk.log")
        print("\nA new kiosk boots:", " ".join(kiosk.command[2:]))
        started = time.monotonic()
        kiosk.start()
        client = kiosk.connect()
        kiosk.wait_until(lambda s: s["claim_code"] is not None, 30, "a claim code")
        code = kiosk.status()["claim_code"]
        print(
            f"It shows claim code {code} after {time.monotonic() - started:.2f}s; "
            "an admin claims it:"
        )
        claimed = time.monotonic()
        tenant.admin("claim", code, "--site", "alcazar", "--name", "Kiosque de l'entrée")
        kiosk.wait_until(lambda s: s["playlist_id"] is not None, 60, "the synced playlists")
        print(
            f"Claimed, synced and ready {time.monotonic() - claimed:.2f}s later; "
            "visitors press its buttons:"
        )
        scenario(Script(client, started))
        exit_code = kiosk.quit()
        print()
        tenant.admin("devices")
    finally:
        if kiosk is not None:
            kiosk.close()
        tenant.stop()
    gif = output / "screen.gif"
    plays = print_journal(output / "state" / "journal.sqlite3")
    print(f"\nScreen recording: {gif}" if gif.exists() else "\nNo screen recording was written")
    print(f"Kiosk log: {output / 'kiosk.log'}; tenant log: {output / 'tenant' / 'tenant.log'}")
    if exit_code != 0 or not plays:
        print(f"The demo failed (kiosk exit code {exit_code}); see {output / 'kiosk.log'}")
        return 1
    return 0
