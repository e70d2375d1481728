"""Button edge to sound: from a GPIO edge to mpv's playback-restart for a cached track.

The whole real path runs in this process: a gpiozero MockFactory pin edge, GpioPanel's
callback, the core's queue and thread, the play journal (SQLite, synchronous=FULL), MpvPlayer
and libmpv (ao=null). Beside it, in the same run, the time the `mpv` command needs to start
the same file: the figure a kiosk that spawns mpv per track would pay.

With `--load`, the same kiosk is pressed again while it works as a busy kiosk does: a sync
downloads at full speed from a local tenant (`jukebox tenant serve`, over and over into fresh
caches, on a thread lowered as the daemon's sync thread is, its downloads in an idle-class
process of their own as the daemon's are; `--downloads thread` keeps them on the sync's own
threads, as before, for a comparison) and 10,000 plays queued in the
kiosk's own journal flush through a real mosquitto to the tenant's ingester (the device's MQTT
link and play publisher, as in bench/report_flush.py). A flush takes seconds, so the queued
plays flush `--rounds` times (queued again between rounds, while nobody presses) and the
presses during the flushes are counted apart from those with the sync alone. The tenant, the
broker and the ingester stand in for other machines: they run at nice 19 (`--tenant-nice 0`
lets them compete with the kiosk as equals, `--tenant-idle` puts them in the idle CPU class as
well). Idle and loaded figures come from the same run; mpv's audio underrun warnings are
counted over the whole run. `--stages` says where the presses' time goes, step by step (the
core thread, mpv's commands, the event thread's turns), idle and during flushes.

The press path runs in the real-time class as the daemon's does (device/platform/priority.py:
the core thread, mpv's threads, and this script's main thread, which drives the pin as the
buttons' watcher thread does on a kiosk); `--foreground normal` leaves it at normal priority,
as before. The real-time class needs root, or an RLIMIT_RTPRIO of 1 as systemd grants the daemon.

    .venv/bin/python bench/button_latency.py [--presses 50] [--load] [--plays 10000] [--rounds 8]
                                             [--stages] [--tenant-idle] [--foreground normal]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import queue
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from gpiozero.pins.mock import MockFactory
from mpv_baseline import mpv_cli_start_seconds
from report_flush import IDENTITY, TENANT, _NoRemoteAdmin, fill
from sync_throughput import claim, make_tracks, serve

from contract.media import MediaCache
from contract.protocol import DeviceTopics
from demo.tracks import TrackSpec, synthesise_track
from device.buttons.gpio_panel import GpioPanel
from device.config import parse_config
from device.content.folder import FolderContentSource
from device.core.kiosk import Kiosk
from device.daemon import LOCK_TURN_S
from device.display.luma_display import NullDisplay
from device.events import ButtonDown, Event, PlaybackStarted, Shutdown
from device.journal.outbox import PlayJournal
from device.mqtt.health import HeartbeatSource
from device.mqtt.link import MqttLink
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount
from device.platform.clock import SystemClock
from device.platform.priority import lower_this_thread, make_realtime
from device.player.mpv_player import MpvPlayer
from device.sync.fetch_process import ProcessFetcher
from device.sync.syncer import DOWNLOADS_DIR, Syncer
from tenant.admin_client import AdminClient, Credentials
from tenant.broker.process import MosquittoProcess, free_port
from tenant.broker.settings import BrokerAccount as TenantBrokerAccount
from tenant.broker.settings import BrokerSettings
from tenant.ingest import Ingester
from tenant.setup import init_tenant
from tenant.store import TenantStore, default_database_url


class Stages:
    """Where a press's time goes (`--stages`): a mark at each step of its path, one press at a
    time. The player's steps are marked by wrappers put around MpvPlayer's methods (this
    bench's instrumentation; the daemon has none of it)."""

    # Each step, after "edge", with what the time since the step before it is spent on.
    SPANS = (
        ("core", "the core thread takes the press"),
        ("command", "the core decides; loadfile and unpause return"),
        ("start-file", "mpv leaves the old file; the event thread's turn"),
        ("on_load", "the event thread checks the entry at mpv's hook"),
        ("restart", "mpv opens, decodes, starts output; the event thread's turn"),
    )

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.rows: list[dict[str, float]] = []

    def mark(self, step: str) -> None:
        if "edge" in self.marks:
            self.marks.setdefault(step, time.monotonic())
        if step == "restart" and "edge" in self.marks:
            self.rows.append(self.marks)
            self.marks = {}

    def begin(self) -> None:
        self.marks = {"edge": time.monotonic()}

    def install(self) -> None:
        """Wrap the player's steps; before the player is built."""
        stages = self

        def after(name: str, step: str) -> None:
            method = getattr(MpvPlayer, name)

            def wrapper(self: MpvPlayer, *args: Any) -> Any:
                try:
                    return method(self, *args)
                finally:
                    stages.mark(step)

            setattr(MpvPlayer, name, wrapper)

        def before(name: str, step: str) -> None:
            method = getattr(MpvPlayer, name)

            def wrapper(self: MpvPlayer, *args: Any) -> Any:
                stages.mark(step)
                return method(self, *args)

            setattr(MpvPlayer, name, wrapper)

        after("play", "command")
        before("_on_start_file", "start-file")
        after("_on_load", "on_load")

    def describe(self, name: str, rows: list[dict[str, float]]) -> list[str]:
        lines = [f"  {name}, by step of the path (ms):"]
        previous = "edge"
        for step, what in self.SPANS:
            spans = [row[step] - row[previous] for row in rows if step in row and previous in row]
            previous = step
            if spans:
                p50, p95, p99 = percentiles(spans)
                lines.append(f"    {what:<58} p50 {p50:5.1f}  p95 {p95:5.1f}  "
                             f"p99 {p99:5.1f}  max {max(spans) * 1000:5.1f}")  # fmt: skip
        return lines


class TimedInbox(queue.Queue[Event]):
    """The core's queue, noting when each PlaybackStarted arrives (on mpv's thread)."""

    def __init__(self, stages: Stages | None = None) -> None:
        super().__init__()
        self.started: queue.Queue[tuple[int, float]] = queue.Queue()
        self.stages = stages

    def put(self, item: Event, block: bool = True, timeout: float | None = None) -> None:
        if isinstance(item, PlaybackStarted):
            self.started.put((item.token, time.monotonic()))
            if self.stages is not None:
                self.stages.mark("restart")
        super().put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Event:
        item = super().get(block, timeout)
        if self.stages is not None and isinstance(item, ButtonDown):
            self.stages.mark("core")
        return item


class Underruns(logging.Handler):
    """Counts mpv's "audio device underrun" warnings and "Too many events queued" errors (a
    client's queue of 1,000 events overflowing: python-mpv's unread main handle did, until
    MpvPlayer turned its events off); both reach us through MpvPlayer's log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.events_dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().lower()
        if "underrun" in message:
            self.count += 1
        if "too many events" in message:
            self.events_dropped += 1


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in ms (nearest rank: values that were really measured)."""
    ms = sorted(s * 1000 for s in seconds)

    def rank(fraction: float) -> float:
        return ms[max(0, int(-(-fraction * len(ms) // 1)) - 1)]

    return rank(0.50), rank(0.95), rank(0.99)


def describe(name: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{name:<44} (no presses)"
    p50, p95, p99 = percentiles(seconds)
    return f"{name:<44} p50 {p50:6.1f}   p95 {p95:6.1f}   p99 {p99:6.1f} ms   (n={len(seconds)})"


class BenchKiosk:
    """The kiosk's real parts in this process, pressed through a MockFactory pin."""

    def __init__(self, folder: Path, stages: Stages | None = None, realtime: bool = True) -> None:
        self.stages = stages
        content = folder / "content"
        for i in range(3):
            synthesise_track(content / f"t{i}.flac", TrackSpec(f"T{i}", "Bench", 30.0))
        (content / "playlists.toml").write_text(
            '[[playlist]]\nid = "bench"\ntitle = "Bench"\n'
            'tracks = ["t0.flac", "t1.flac", "t2.flac"]\n'
        )
        document = {
            "device": {"state_dir": str(folder / "state")},
            "audio": {"backend": "null"},
            "display": {"driver": "none"},
            "buttons": [{"name": "next", "pin": 27, "press": "next", "bounce_ms": 0}],
        }
        self.config = parse_config(document, "bench")
        self.cache = MediaCache(self.config.device.cache_dir)
        library = FolderContentSource(content, self.cache).load()
        self.journal = PlayJournal(self.config.device.journal_path, IDENTITY)
        self.inbox = TimedInbox(stages)
        self.player = MpvPlayer(self.inbox.put, self.cache.root, ao="null")
        if realtime:  # as device.daemon.run does
            make_realtime(self.player.native_threads, "mpv's threads", inherited=True)
        factory = MockFactory()
        self.panel = GpioPanel(self.config.buttons, None, factory)
        self.panel.start(self.inbox.put)
        kiosk = Kiosk(
            self.config, self.player, NullDisplay(), self.journal, SystemClock(), library,
            events=self.inbox,
        )  # fmt: skip

        def core() -> None:
            if realtime:
                make_realtime([threading.get_native_id()], "the core thread", inherited=False)
            kiosk.run()

        self.core = threading.Thread(target=core, name="core")
        self.core.start()
        self.pin = factory.pin(27)

    def press(
        self, presses: int, warm_up: int = 3, until: Callable[[], bool] | None = None
    ) -> list[tuple[float, float]]:
        """(edge time, edge to playback-restart in s) per press after the warm-up; with
        `until`, as many presses as come before it is true (`presses` at the most)."""
        results = []
        for press in range(presses + warm_up):
            time.sleep(0.15)  # let the previous track settle, as a visitor would
            if until is not None and until():
                break
            while not self.inbox.started.empty():
                self.inbox.started.get_nowait()
            if self.stages is not None:
                self.stages.begin()
            edge = time.monotonic()
            self.pin.drive_low()
            _, started = self.inbox.started.get(timeout=10)
            self.pin.drive_high()
            if press >= warm_up:  # the first presses warm up mpv's decoders and caches
                results.append((edge, started - edge))
        return results

    def close(self) -> None:
        self.inbox.put(Shutdown("bench done"))
        self.core.join(timeout=10)
        self.panel.close()
        self.player.close()
        self.journal.close()


class Load:
    """A sync at full speed and a flush of queued plays, both as the daemon runs them."""

    def __init__(
        self,
        folder: Path,
        journal_path: Path,
        tracks: int,
        mb: float,
        tenant_nice: int,
        downloads: str = "process",
        tenant_idle: bool = False,
    ) -> None:
        self.folder = folder
        self.downloads = downloads
        self.stop = threading.Event()
        self.synced_mb = 0.0
        data = folder / "tenant"
        token = init_tenant(data, "bench", "Bench network")
        port = free_port()
        self.service = serve(data, port)
        renice_process(self.service.pid, tenant_nice, tenant_idle)
        base_url = f"http://127.0.0.1:{port}/t/bench"
        admin = AdminClient(Credentials(f"http://127.0.0.1:{port}", "bench", token))
        print(f"preparing {tracks} tracks of ~{mb} MB at a local tenant ...", flush=True)
        ids = make_tracks(admin, folder / "files", tracks, int(mb * 1e6), "load")
        self.session = claim(admin, base_url, folder / "device")
        admin.put_playlist("bench-load", "Load", ids)
        admin.assign("bench-load", devices=[self.session.key.device_id])

        self.broker = MosquittoProcess(folder / "mosquitto").start()
        renice_process(self.broker.pid, tenant_nice, tenant_idle)
        (folder / "tenant-plays").mkdir()
        # The ingester is the tenant's work, on another machine in the field: its own process
        # here, so that it does not share the kiosk's interpreter lock.
        self.ingester_stop = multiprocessing.get_context("spawn").Event()
        self.ingester = multiprocessing.get_context("spawn").Process(
            target=run_ingester,
            args=(
                folder / "tenant-plays",
                self.broker.host,
                self.broker.port,
                self.ingester_stop,
                tenant_nice,
                tenant_idle,
            ),
            name="ingester",
        )
        self.ingester.start()
        self.outbox = PlayJournal(journal_path, IDENTITY, exclusive=False)
        self.link = MqttLink(
            BrokerAccount(self.broker.host, self.broker.port, False, IDENTITY.device_id, "x"),
            DeviceTopics(TENANT, IDENTITY.device_id),
            self.outbox,
            inbox=_NoRemoteAdmin(),
            remote=RemoteOutbox(),
            heartbeat=HeartbeatSource(firmware_version="0.1.0", state_dir=folder),
        )
        self.staged = 0
        self.threads = [
            threading.Thread(target=self._sync, name="sync", daemon=True),
        ]

    def start(self) -> None:
        self.started = time.monotonic()
        self.link.start()
        for thread in self.threads:
            thread.start()

    def _sync(self) -> None:
        """Sync into a fresh cache again and again: downloading all the time."""
        lower_this_thread()  # as Syncer.run does on the daemon's sync thread
        run = 0
        while not self.stop.is_set():
            state = self.folder / f"sync-{run}"
            cache = MediaCache(state / "cache")
            fetcher = None  # the sync's own threads
            if self.downloads == "process":  # as device/link.py builds it
                fetcher = ProcessFetcher(self.session, self.session.base_url, cache,
                                         state / DOWNLOADS_DIR,
                                         log_to=subprocess.DEVNULL)  # fmt: skip
            syncer = Syncer(self.session, cache, state, lambda e: None, 1 << 40, 300,
                            fetcher=fetcher)  # fmt: skip
            syncer._stop = self.stop
            result = syncer.sync_once()
            self.synced_mb += result.bytes_downloaded / 1e6
            shutil.rmtree(state, ignore_errors=True)
            run += 1

    def queue(self, plays: int) -> None:
        """Queue `plays` new finished plays again, at once (between rounds, while nobody
        presses): recorded in a journal of their own, then copied in one transaction, so that
        the publisher does not send them while they are being recorded."""
        self.staged += 1
        staging = self.folder / f"staged-{self.staged}.sqlite3"
        with PlayJournal(staging, IDENTITY) as staged:
            fill(staged, plays)
        with contextlib.closing(sqlite3.connect(self.outbox.path, timeout=30)) as conn:
            conn.execute("ATTACH DATABASE ? AS staged", (str(staging),))
            columns = ", ".join(
                row[1] for row in conn.execute("PRAGMA staged.table_info(plays)")
                if row[1] != "seq"  # the outbox numbers them after its own
            )  # fmt: skip
            with conn:
                conn.execute(f"INSERT INTO plays ({columns}) SELECT {columns} FROM staged.plays")

    def flush(self) -> FlushRound:
        """Wake the publisher for the plays queued until now."""
        flush = FlushRound(self.outbox)
        self.link.publisher.wake()
        return flush

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.link.close()
        self.ingester_stop.set()
        self.ingester.join(timeout=30)
        self.outbox.close()
        self.broker.stop()
        self.service.terminate()
        self.service.wait(10)


class FlushRound:
    """One flush of the queued plays: `done()` once none of them is left in the outbox.

    The kiosk's own presses add plays (and keep one open) meanwhile: told apart by seq.
    """

    def __init__(self, outbox: PlayJournal) -> None:
        self.outbox = outbox
        self.queued_up_to = outbox.stats().last_seq or 0
        self.started = time.monotonic()
        self.seconds: float | None = None

    def done(self) -> bool:
        if self.seconds is None:
            oldest = self.outbox.finished_after(0, 1)
            if oldest and oldest[0].seq <= self.queued_up_to:
                return False
            self.seconds = time.monotonic() - self.started
        return True


def renice_process(pid: int | None, nice: int, idle: bool = False) -> None:
    """Every thread of `pid` at `nice`, and in the idle class with `idle` (threads it starts
    later inherit both)."""
    if pid is None:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        if nice:
            os.setpriority(os.PRIO_PROCESS, int(task.name), nice)
        if idle:
            os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))


def run_ingester(
    folder: Path, host: str, port: int, stop: EventType, nice: int, idle: bool
) -> None:
    """The tenant's ingester in a process of its own, until `stop` is set."""
    renice_process(os.getpid(), nice, idle)
    store = TenantStore(default_database_url(folder))
    settings = BrokerSettings(
        host=host,
        port=port,
        service=TenantBrokerAccount("jk-service", "unused"),
        ingester=TenantBrokerAccount("jk-ingester", "unused"),
    )
    ingester = Ingester(
        store, settings, client_id="jk-bench", now_ms=lambda: int(time.time() * 1000)
    )
    ingester.start()
    stop.wait()
    ingester.stop()
    store.close()


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--load", action="store_true", help="press again under sync and flush")
    parser.add_argument("--plays", type=int, default=10_000, help="queued plays to flush")
    parser.add_argument("--tracks", type=int, default=40, help="tracks the sync downloads")
    parser.add_argument("--mb", type=float, default=5.0, help="MB per synced track")
    parser.add_argument("--rounds", type=int, default=8,
                        help="flushes of the queued plays to press during")  # fmt: skip
    parser.add_argument("--tenant-nice", type=int, default=19,
                        help="nice of the tenant, broker and ingester (another machine in the "
                        "field); 0 lets them compete with the kiosk as equals")  # fmt: skip
    parser.add_argument("--tenant-idle", action="store_true",
                        help="the tenant, broker and ingester in the idle CPU class as well: "
                        "closer still to other machines")  # fmt: skip
    parser.add_argument("--stages", action="store_true",
                        help="where each press's time goes, step by step")  # fmt: skip
    parser.add_argument("--downloads", choices=("process", "thread"), default="process",
                        help="where the sync's downloads run: an idle-class process, as the "
                        "daemon's do, or the sync's own threads (before)")  # fmt: skip
    parser.add_argument("--lock-turn-ms", type=float, default=LOCK_TURN_S * 1000,
                        help="switch interval (default: the daemon's)")  # fmt: skip
    parser.add_argument("--foreground", choices=("realtime", "normal"), default="realtime",
                        help="the press path's class: real-time, as the daemon's, or normal "
                        "priority (before)")  # fmt: skip
    args = parser.parse_args()
    realtime = args.foreground == "realtime"
    if realtime and not make_realtime([threading.get_native_id()], "the pin's driver",
                                      inherited=False):  # fmt: skip
        sys.exit("the real-time class was refused: run as root, or with `--foreground normal`")
    sys.setswitchinterval(args.lock_turn_ms / 1000)  # as device.daemon.run sets it
    logging.basicConfig(level=logging.ERROR)
    underruns = Underruns()
    logging.getLogger("device.player.mpv_player").addHandler(underruns)
    logging.getLogger("device.player.mpv_player").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        load = None
        if args.load:
            print(f"recording {args.plays} finished plays in the kiosk's journal ...", flush=True)
            (folder / "state").mkdir()
            queued = PlayJournal(folder / "state" / "journal.sqlite3", IDENTITY)
            fill(queued, args.plays)
            queued.close()
            load = Load(folder, folder / "state" / "journal.sqlite3", args.tracks, args.mb,
                        args.tenant_nice, args.downloads, args.tenant_idle)  # fmt: skip
        stages = None
        if args.stages:
            stages = Stages()
            stages.install()
        kiosk = BenchKiosk(folder, stages, realtime)
        try:
            idle_load = loadavg()
            idle = [latency for _, latency in kiosk.press(args.presses)]
            idle_rows = list(stages.rows[-len(idle) :]) if stages else []
            flush_rows: list[dict[str, float]] = []
            sync_rows: list[dict[str, float]] = []
            flushing: list[float] = []
            syncing: list[float] = []
            rounds: list[float | None] = []
            if load is not None:
                load.start()
                for n in range(args.rounds):  # a flush lasts seconds: press through several
                    if n:
                        load.queue(args.plays)  # while nobody presses
                    flush = load.flush()
                    pressed = kiosk.press(args.presses, warm_up=0, until=flush.done)
                    flushing += [latency for _, latency in pressed]
                    if stages and pressed:
                        flush_rows += stages.rows[-len(pressed) :]
                    deadline = time.monotonic() + 120
                    while not flush.done() and time.monotonic() < deadline:
                        time.sleep(0.1)  # a flush that never ends (no ingester) stops the rounds
                    rounds.append(flush.seconds)
                    if flush.seconds is None:
                        break
                syncing = [latency for _, latency in kiosk.press(args.presses, warm_up=0)]
                if stages and syncing:
                    sync_rows = stages.rows[-len(syncing) :]
                busy_load = loadavg()
                load.close()
        finally:
            kiosk.close()
        track = next((folder / "state" / "cache" / "media").rglob("*"))
        while track.is_dir():
            track = next(track.iterdir())
        cli = mpv_cli_start_seconds(track, runs=min(args.presses, 20))
    print(f"button edge to playback-restart, {args.presses} presses, same cached 30 s FLAC "
          f"(interpreter switch interval {args.lock_turn_ms:g} ms, press path "
          f"{'real-time' if realtime else 'at normal priority'}):")  # fmt: skip
    print(describe(f"kiosk idle (load average {idle_load})", idle))
    if load is not None:
        print(describe(f"kiosk under load (load average {busy_load})", flushing + syncing))
        print(describe("  of which: sync + flush of queued plays", flushing))
        print(describe("  of which: sync only", syncing))
        took = ", ".join("unfinished" if s is None else f"{s:.1f}" for s in rounds)
        print(f"  {len(rounds)} flushes of {args.plays} plays: {took} s; "
              f"sync downloaded {load.synced_mb:.0f} MB")  # fmt: skip
        where = "an idle-class process" if args.downloads == "process" else "the sync's threads"
        idle_class = " in the idle class" if args.tenant_idle else ""
        print(f"  tenant, broker and ingester at nice {args.tenant_nice}{idle_class}; "
              f"downloads on {where}")  # fmt: skip
    if stages is not None:
        print("\n".join(stages.describe("idle", idle_rows)))
        if flush_rows:
            print("\n".join(stages.describe("during flushes", flush_rows)))
        if sync_rows:
            print("\n".join(stages.describe("with the sync alone", sync_rows)))
    print(describe("`mpv` command spawn to playing (baseline)", cli))
    ratio = statistics.median(cli) / statistics.median(idle)
    print(f"the kiosk answers {ratio:.1f}x faster than starting mpv per track (median, idle)")
    print(f"mpv audio underrun warnings during the run: {underruns.count}")
    print(f"mpv 'too many events queued' errors during the run: {underruns.events_dropped}")


if __name__ == "__main__":
    main()
