"""`jukebox demo`: a simulated kiosk plays a curated playlist while a script presses its buttons.

Everything is real but the hardware: tracks are synthesised FLAC files with real tags, the
daemon is `jukebox run --simulate` in its own process (mpv, gpiozero MockFactory pins, the
luma emulator), buttons are pressed through its control socket. The library network is the
reference tenant with its mosquitto broker (TLS, an account per kiosk) and its ingester, each
in its own process: plays reach the tenant as they end, and a push changes the kiosk's
featured playlist and volume limits. The kiosk's own play journal is printed at the end.

Size: a little over 400 lines on purpose: the demo's script, its start-up and its printed
account are one story, read top to bottom.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from demo.console_tour import browser_problem, screenshots
from demo.tenant_side import CURATOR, TECHNICIAN, DemoTenant, broker_problem
from demo.tracks import TrackSpec, synthesise_track
from device.journal.outbox import JournalStats, PlayJournal
from device.journal.report import JournalIdentity
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
ca_file = {ca_file}        # the demo's CA, which signed the broker's certificate
heartbeat_s = 5

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
language = "fr"          # the libraries are French: every screen speaks French

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


SITE = "alcazar"
IDLE_WAIT_S = 8.5  # from the last press to the idle reset (idle_timeout_s = 8), with margin
COUNTED_STREAM_S = "5"  # the demo's tracks last 7 to 9 s; a library's rule is 30 s by default


@dataclass(frozen=True)
class DemoResult:
    """What the demo showed, for its exit status and its test."""

    kiosk_exit: int | None  # None: the kiosk did not get as far as quitting
    plays_stored: int  # at the tenant, by the ingester
    push_applied: bool
    journal: JournalStats | None  # the kiosk's outbox at the end

    @property
    def ok(self) -> bool:
        return self.kiosk_exit == 0 and self.plays_stored > 0 and self.push_applied


class Script:
    def __init__(self, client: ControlClient, started: float) -> None:
        self.client = client
        self.started = started

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.client.send(cmd="status")["status"]
        return status

    def step(self, text: str, **request: Any) -> None:
        answer = self.client.send(**request) if request else {"ok": True}
        time.sleep(0.2)  # let the core take the press before asking what it did
        status = self.status()
        now = time.monotonic() - self.started
        what = status["title"] or f"{status['screen']} ({status['playlist_id']})"
        print(f"  {now:5.1f}s  {text:<38} → {status['mode']:<8} vol {status['volume']:>2}  {what}")
        if not answer.get("ok"):
            print(f"         the kiosk refused: {answer.get('error')}")

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


def visitor(script: Script) -> None:
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


def scenario(script: Script, tenant: DemoTenant, device_id: str) -> bool:
    """The visitor, then the library's side while the kiosk waits; True if the push applied."""
    visitor(script)
    walked_away = time.monotonic()
    print("\n  Meanwhile the plays that ended are at the tenant, stored by the ingester:")
    tenant.admin("plays", "--by", "track")
    print("\n  The library features its local scene from now on, with a lower volume ceiling:")
    pushed = tenant.admin(
        "push", "--site", SITE, "--featured", "scene-locale",
        "--volume-min", "20", "--volume-max", "50", "--wait", "20", check=False, person=CURATOR,
    )  # fmt: skip
    print()
    script.step("the new volume limits apply at once")
    script.wait(max(0.0, walked_away + IDLE_WAIT_S - time.monotonic()))
    script.step("idle timeout: new featured playlist")
    script.wait(4)
    script.step("attract screen dims and moves")
    script.wait(1)
    script.step("a new visitor presses ▶", cmd="tap", button="play")
    track = script.status()["track_id"]

    def heard(state: dict[str, Any]) -> bool:
        playing = (state.get("heartbeat") or {}).get("playing") or {}
        return bool(playing.get("track_id") == track)

    tenant.wait_status(device_id, heard, 12)
    print("\n  The tenant sees it in the kiosk's heartbeat, with the state it applied:")
    tenant.admin("status", person=TECHNICIAN)
    return pushed == 0


def wait_delivered(journal_path: Path, timeout: float) -> None:
    """Give the kiosk's publisher a moment to send the plays that just ended."""
    deadline = time.monotonic() + timeout
    while journal_stats(journal_path).finished and time.monotonic() < deadline:
        time.sleep(0.25)


def journal_stats(path: Path) -> JournalStats:
    with PlayJournal(path, JournalIdentity("", "", "", "", ""), exclusive=False) as journal:
        return journal.stats()


def print_journal(path: Path) -> JournalStats:
    """The kiosk's journal is its outbox: plays the tenant acknowledged are deleted from it."""
    with PlayJournal(path, JournalIdentity("", "", "", "", ""), exclusive=False) as journal:
        plays = journal.plays()
        stats = journal.stats()
    recorded = stats.last_seq or 0
    delivered = recorded - stats.total
    print(f"\nPlay journal ({path}):")
    print(
        f"{recorded} plays recorded; {delivered} delivered to the tenant, acknowledged and "
        f"deleted; {stats.total} not acknowledged yet"
        + (
            " (sent again when the kiosk next reaches the broker; the tenant stores a play once):"
            if plays
            else "."
        )
    )
    if not plays:
        return stats
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
    return stats


@contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that every process the demo started is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def show_console(tenant: DemoTenant, output: Path, serve: bool) -> None:
    """Screenshots of the web console as the curator sees it; with `serve`, keep everything
    running until Ctrl-C so a person can click around."""
    console = f"{tenant.url}/console/"
    problem = browser_problem()
    if problem is not None:
        print(f"\nNo screenshots of the web console: {problem}")
    else:
        saved = screenshots(console, CURATOR, tenant.passwords[CURATOR], output)
        print(f"\nThe web console, as the curator sees it: {', '.join(str(p) for p in saved)}")
    print(f"The web console: {console}")
    if serve:
        for person, password in tenant.passwords.items():
            print(f"  sign in as {person}, password {password}")
        print("Serving the tenant and the kiosk until Ctrl-C.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nStopping.")


def demo(output: Path, serve: bool = False) -> DemoResult:
    """The whole demo; raises when a part fails to start, after stopping every process."""
    output = output.resolve()
    print(f"Preparing tracks in {output}")
    content = prepare(output)
    for stale in ("screen.gif", "kiosk.log", "plays.csv"):
        (output / stale).unlink(missing_ok=True)
    shutil.rmtree(output / "state", ignore_errors=True)  # a new kiosk, never claimed
    journal_path = output / "state" / "journal.sqlite3"

    print("\nThe library network: a reference tenant, its MQTT broker and its ingester")
    tenant = DemoTenant(output / "tenant", broker=True)
    kiosk: KioskProcess | None = None
    exit_code: int | None = None
    push_applied = False
    plays_stored = 0
    try:
        tenant.start()
        print("\nThe network administrator gives the library's staff their accounts:")
        tenant.add_staff()
        print("\nThe curator imports and curates:")
        tenant.publish(content, output / "damaged.flac")
        tenant.admin("rules", "--counted-stream-s", COUNTED_STREAM_S)
        config = output / "jukebox.toml"
        config.write_text(
            CONFIG.replace("{tenant_url}", tenant.url).replace(
                "{ca_file}", json.dumps(str(tenant.ca_file))
            ),
            encoding="utf-8",
        )

        kiosk = KioskProcess(config, output / "state" / "control.sock", output / "kiosk.log")
        print("\nA new kiosk boots:", " ".join(kiosk.command[2:]))
        started = time.monotonic()
        kiosk.start()
        client = kiosk.connect()
        kiosk.wait_until(lambda s: s["claim_code"] is not None, 30, "a claim code")
        code = kiosk.status()["claim_code"]
        print(
            f"It shows claim code {code} after {time.monotonic() - started:.2f}s; "
            "the technician claims it:"
        )
        claimed = time.monotonic()
        tenant.admin(
            "claim", code, "--site", SITE, "--name", "Kiosque de l'entrée", person=TECHNICIAN
        )
        device_id = tenant.devices()[0]["device_id"]
        kiosk.wait_until(lambda s: s["playlist_id"] is not None, 60, "the synced playlists")
        print(f"Claimed and synced {time.monotonic() - claimed:.2f}s later.")
        if not tenant.wait_status(device_id, lambda s: bool(s["online"] and s["heartbeat"]), 30):
            raise TimeoutError(f"the kiosk did not come online on the broker; see {kiosk.log}")
        print(
            f"Online {time.monotonic() - claimed:.2f}s after the claim, with its own broker "
            "account over TLS; the tenant sees its heartbeat:"
        )
        tenant.admin("status", person=TECHNICIAN)
        print("\nVisitors press its buttons:")
        push_applied = scenario(Script(client, started), tenant, device_id)
        wait_delivered(journal_path, 10)
        show_console(tenant, output, serve)
        exit_code = kiosk.quit()
        print(f"\nThe kiosk stops (exit code {exit_code}). What the tenant counted:")
        tenant.admin("plays", "--by", "track", "--csv", str(output / "plays.csv"))
        print("\n".join(f"  {line}" for line in (output / "plays.csv").read_text().splitlines()))
        plays_stored = tenant.plays_stored()
        print("\nWho did what to the kiosk, from the tenant's audit log:")
        tenant.admin("audit", "--object", "device")
    except (OSError, RuntimeError) as exc:
        process = kiosk.process if kiosk is not None else None
        if process is not None and process.poll() is not None and exit_code is None:
            raise RuntimeError(
                f"the kiosk stopped unexpectedly (exit code {process.returncode}); "
                f"see {output / 'kiosk.log'}"
            ) from exc
        raise
    finally:
        if kiosk is not None:
            kiosk.close()
        tenant.stop()
    stats = print_journal(journal_path) if journal_path.exists() else None
    gif = output / "screen.gif"
    print(f"\nScreen recording: {gif}" if gif.exists() else "\nNo screen recording was written")
    print(f"Logs: kiosk {output / 'kiosk.log'}; tenant, ingester and broker in {tenant.folder}")
    return DemoResult(exit_code, plays_stored, push_applied, stats)


def run_demo(output: Path, serve: bool = False) -> int:
    """`jukebox demo`: 0 when the kiosk ran, plays reached the tenant and the push applied."""
    problem = broker_problem()
    if problem is not None:
        print(f"jukebox demo: {problem}")
        return 1
    try:
        with terminated_as_interrupt():
            result = demo(output, serve)
    except KeyboardInterrupt:
        print("\nInterrupted: the kiosk, tenant, ingester and broker are stopped.")
        return 130
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(f"\nThe demo failed: {exc}")
        return 1
    if result.ok:
        return 0
    problems = []
    if result.kiosk_exit != 0:
        problems.append(f"the kiosk exited with code {result.kiosk_exit}")
    if result.plays_stored == 0:
        problems.append("no play reached the tenant")
    if not result.push_applied:
        problems.append("the kiosk did not apply the push")
    print(f"The demo failed: {'; '.join(problems)} (see {output / 'kiosk.log'})")
    return 1
