"""A simulated fleet against one mosquitto and one ingester: how many kiosks until acks slow down.

Each simulated kiosk is a real MQTT 5 client (paho) following the protocol: retained online
status with a last will, a heartbeat every `--heartbeat` seconds, and one finished play every
`--play-every` seconds (first ones spread at random over the first period of the measured
run), each sent as a batch and timed until the ingester's `plays/ack` comes back. The kiosks
are spread over `--processes` worker processes, each driving its share from one selector loop
(paho's external-loop API), so that the simulation does not measure itself; the broker and the
ingester (`jukebox tenant ingest`, its own process, with the tenant's SQLite file) are the real
ones.

    .venv/bin/python bench/fleet.py [--fleet 500,1000,2000] [--duration 60] [--processes 2]
                                    [--play-every 120] [--heartbeat 60] [--acker ingester|echo]

With `--acker echo` the ingester is replaced by an echo acker in the bench's own process
(parses the batch, acknowledges, stores nothing): the ceiling of the simulation and the broker.

For each fleet size it prints plays acked, ack latency p50/p99/max, messages per second, and
the CPU the broker, the acker and the simulated kiosks used (in % of one core); the largest
fleet with p99 under 1 s is the figure (aim: 2,000). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.protocol import (
    INGEST_GROUP,
    PLAYS,
    DeviceTopics,
    encode,
    parse_topic,
    shared,
    wildcard,
)
from tenant.broker.process import MosquittoProcess
from tenant.broker.settings import BrokerAccount, BrokerSettings, save_broker_settings

TENANT = "bench-fleet"
CONNECT_TIMEOUT_S = 60.0
DRAIN_S = 5.0  # after the run, acks still on their way are waited for (late ones count too)


@dataclass
class SimulatedKiosk:
    topics: DeviceTopics
    client: mqtt.Client
    next_play: float = 0.0
    next_heartbeat: float = 0.0
    seq: int = 0
    sent: dict[str, float] = field(default_factory=dict)  # batch id -> monotonic send time
    connected: bool = False


@dataclass
class ShareResult:
    """What one worker process measured."""

    connected: int
    plays_sent: int
    latencies_s: list[float]  # inf: never acknowledged
    messages: int
    cpu_s: float


@dataclass
class FleetResult:
    size: int
    connected: int
    plays_sent: int
    latencies_s: list[float]
    messages: int
    elapsed_s: float
    cpu_percent: dict[str, float]  # broker, acker, kiosks


def play_batch(kiosk: SimulatedKiosk) -> tuple[str, bytes]:
    kiosk.seq += 1
    batch_id = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    play = {
        "event_id": str(uuid.uuid4()),
        "seq": kiosk.seq,
        "tenant": kiosk.topics.tenant,
        "site": "bench",
        "device_id": kiosk.topics.device_id,
        "firmware_version": "bench",
        "boot_id": "bench",
        "playlist_id": "festival",
        "playlist_revision": "r1",
        "track_id": f"t{kiosk.seq % 40}",
        "isrc": None,
        "track_duration_ms": 180_000,
        "started_by": "visitor",
        "started_wall_ms": now_ms - 180_000,
        "clock_synced": True,
        "started_uptime_ms": 1000,
        "listened_ms": 175_000,
        "end_reason": "finished",
        "ended_wall_ms": now_ms,
        "error": None,
    }
    return batch_id, encode("play-batch", {"v": 1, "batch_id": batch_id, "plays": [play]})


def make_kiosk(i: int, host: str, port: int, latencies: list[float]) -> SimulatedKiosk:
    device_id = f"jk-fleet{i:012d}"
    topics = DeviceTopics(TENANT, device_id)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    client.will_set(
        topics.status, encode("status", {"v": 1, "online": False, "reason": "lost"}), 1, True
    )
    kiosk = SimulatedKiosk(topics, client)

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        kiosk.connected = True
        c.subscribe(topics.ack, qos=1)
        c.publish(topics.status, encode("status", {"v": 1, "online": True}), qos=1, retain=True)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        ack = json.loads(message.payload)
        sent = kiosk.sent.pop(ack.get("batch_id"), None)
        if sent is not None:
            latencies.append(time.monotonic() - sent)

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, port, keepalive=120, clean_start=True)
    return kiosk


def run_share(
    indices: list[int],
    host: str,
    port: int,
    args: argparse.Namespace,
    ready: multiprocessing.Queue[int],
    go: EventType,
    results: multiprocessing.Queue[ShareResult],
) -> None:
    """One worker process: connect its kiosks, say how many are online, wait for `go`, then
    run the load for the duration and report."""
    raise_open_files()
    latencies: list[float] = []
    selector = selectors.DefaultSelector()
    kiosks: list[SimulatedKiosk] = []
    for n, i in enumerate(indices):
        kiosk = make_kiosk(i, host, port, latencies)
        kiosks.append(kiosk)
        sock = kiosk.client.socket()
        assert sock is not None
        selector.register(sock, selectors.EVENT_READ, kiosk)
        if n % 100 == 99:  # let CONNACKs in while connecting the rest
            _pump(selector, kiosks, 0.01)
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while sum(k.connected for k in kiosks) < len(kiosks) and time.monotonic() < deadline:
        _pump(selector, kiosks, 0.05)
    live = [k for k in kiosks if k.connected]
    ready.put(len(live))
    while not go.is_set():
        _pump(selector, kiosks, 0.05)  # keep the connections alive
    cpu_before = time.process_time()
    began = time.monotonic()
    for kiosk in live:  # spread over the first period, like a fleet switched on long ago
        kiosk.next_play = began + random.uniform(0, args.play_every)
        kiosk.next_heartbeat = began + random.uniform(0, args.heartbeat)
    messages = plays = 0
    while (now := time.monotonic()) - began < args.duration:
        for kiosk in live:
            if now >= kiosk.next_play:
                batch_id, payload = play_batch(kiosk)
                kiosk.sent[batch_id] = time.monotonic()
                kiosk.client.publish(kiosk.topics.plays, payload, qos=1)
                kiosk.next_play += args.play_every
                plays += 1
                messages += 1
            if now >= kiosk.next_heartbeat:
                body = {"v": 1, "uptime_s": int(now - began), "firmware_version": "bench"}
                kiosk.client.publish(kiosk.topics.heartbeat, encode("heartbeat", body), qos=0)
                kiosk.next_heartbeat += args.heartbeat
                messages += 1
        _pump(selector, kiosks, 0.01)
    drain_until = time.monotonic() + DRAIN_S
    while any(k.sent for k in live) and time.monotonic() < drain_until:
        _pump(selector, kiosks, 0.01)
    cpu_s = time.process_time() - cpu_before
    latencies.extend([float("inf")] * sum(len(k.sent) for k in live))
    for kiosk in kiosks:
        kiosk.client.disconnect()
        kiosk.client.loop_write()
    selector.close()
    results.put(ShareResult(len(live), plays, latencies, messages, cpu_s))


def _pump(selector: selectors.BaseSelector, kiosks: list[SimulatedKiosk], timeout: float) -> None:
    for kiosk in kiosks:
        if kiosk.client.want_write():
            kiosk.client.loop_write()
    for key, _ in selector.select(timeout):
        kiosk = key.data
        kiosk.client.loop_read()
    for kiosk in kiosks[:: max(1, len(kiosks) // 50)]:
        kiosk.client.loop_misc()


def run_fleet(
    size: int, host: str, port: int, args: argparse.Namespace, pids: dict[str, int]
) -> FleetResult:
    context = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[int] = context.Queue()
    results: multiprocessing.Queue[ShareResult] = context.Queue()
    go = context.Event()
    workers = [
        context.Process(
            target=run_share,
            args=(list(range(w, size, args.processes)), host, port, args, ready, go, results),
        )
        for w in range(min(args.processes, size))
    ]
    for worker in workers:
        worker.start()
    connected = sum(ready.get(timeout=CONNECT_TIMEOUT_S + 60) for _ in workers)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.monotonic()
    go.set()
    shares = [results.get(timeout=args.duration + DRAIN_S + 120) for _ in workers]
    elapsed = time.monotonic() - began
    cpu = {
        name: (cpu_seconds(pid) - cpu_before[name]) / elapsed * 100 for name, pid in pids.items()
    }
    cpu["kiosks"] = sum(s.cpu_s for s in shares) / elapsed * 100
    for worker in workers:
        worker.join(timeout=30)
    return FleetResult(
        size,
        connected,
        sum(s.plays_sent for s in shares),
        [x for s in shares for x in s.latencies_s],
        sum(s.messages for s in shares),
        elapsed,
        cpu,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raise_open_files() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# A backend: started in a work directory, gives (host, port, {name: pid to watch}, stop).
Backend = Callable[[Path], tuple[str, int, dict[str, int], Callable[[], None]]]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--fleet", default="500,1000,2000")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--play-every", type=float, default=120.0)
    parser.add_argument("--heartbeat", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=2, help="simulating the kiosks")
    parser.add_argument("--acker", choices=("ingester", "echo"), default="ingester")
    args = parser.parse_args()
    limit = raise_open_files()
    backend = start_broker_and_ingester if args.acker == "ingester" else start_broker_and_echo
    print(
        f"open files limit {limit}; each size runs {args.duration:.0f} s; a play every "
        f"{args.play_every:g} s and a heartbeat every {args.heartbeat:g} s per kiosk; "
        f"{args.processes} kiosk processes; acker: {args.acker}"
    )
    print(
        f"{'kiosks':>7} {'online':>7} {'plays':>6} {'acked':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'msg/s':>7} {'cpu% broker':>11} {'acker':>6} {'kiosks':>6}",
        flush=True,
    )
    best = 0
    for size in (int(s) for s in args.fleet.split(",")):
        with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
            host, port, pids, stop = backend(Path(tmp))
            try:
                result = run_fleet(size, host, port, args, pids)
            finally:
                stop()
        acked = [x for x in result.latencies_s if x != float("inf")]
        p99 = percentile(result.latencies_s, 0.99)
        cpu = result.cpu_percent
        print(
            f"{result.size:>7} {result.connected:>7} {result.plays_sent:>6} {len(acked):>6} "
            f"{percentile(acked, 0.5) * 1000:>8.1f} {p99 * 1000:>8.1f} "
            f"{(max(acked) if acked else float('nan')) * 1000:>8.1f} "
            f"{result.messages / result.elapsed_s:>7.1f} {cpu['broker']:>11.0f} "
            f"{cpu['acker']:>6.0f} {cpu['kiosks']:>6.0f}",
            flush=True,
        )
        if p99 < 1.0 and result.connected == size:
            best = max(best, size)
    print(f"largest fleet with ack p99 under 1 s: {best} (aim: 2000)")


def start_broker_and_ingester(work: Path) -> tuple[str, int, dict[str, int], Callable[[], None]]:
    """An anonymous mosquitto (accounts are not what is measured) and `jukebox tenant ingest`
    as its own process over a fresh tenant data directory."""
    broker = MosquittoProcess(work / "broker").start()
    data = work / "tenant"
    data.mkdir()
    account = BrokerAccount("jk-ingester", "unused")
    save_broker_settings(
        data, BrokerSettings(broker.host, broker.port, service=account, ingester=account)
    )
    log = (work / "ingest.log").open("wb")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "tenant", "ingest", "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30  # connected and subscribed: its log says so
    while b"connected" not in (work / "ingest.log").read_bytes():
        if time.monotonic() > deadline or ingest.poll() is not None:
            raise RuntimeError((work / "ingest.log").read_text())
        time.sleep(0.1)
    time.sleep(0.5)

    def stop() -> None:
        ingest.terminate()
        ingest.wait(timeout=20)
        log.close()
        broker.stop()

    return broker.host, broker.port, {"broker": broker_pid(), "acker": ingest.pid}, stop


def start_broker_and_echo(work: Path) -> tuple[str, int, dict[str, int], Callable[[], None]]:
    """mosquitto and, in this process, a client that acknowledges every batch unread: what
    the simulation and the broker can do with an acker that costs nothing."""
    broker = MosquittoProcess(work / "broker").start()
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = 2000
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="echo", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    subscribed = threading.Event()

    def on_message(c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        address = parse_topic(message.topic)
        batch = json.loads(message.payload)
        if address is not None:
            ack = {"v": 1, "batch_id": batch["batch_id"], "event_ids": []}
            c.publish(DeviceTopics(address.tenant, address.device_id).ack, json.dumps(ack), 1)

    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe(shared(INGEST_GROUP, wildcard(PLAYS)), 1)
    client.connect(broker.host, broker.port, properties=properties)
    client.loop_start()
    subscribed.wait(10)

    def stop() -> None:
        client.disconnect()
        client.loop_stop()
        broker.stop()

    return broker.host, broker.port, {"broker": broker_pid(), "acker": os.getpid()}, stop


def broker_pid() -> int:
    """The mosquitto this process started last (a child of ours)."""
    children = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _parent_and_name(p) == (os.getpid(), "mosquitto")
    ]
    return max(children)


def _parent_and_name(proc: Path) -> tuple[int, str] | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    return int(stat[stat.rindex(")") + 2 :].split()[1]), name


if __name__ == "__main__":
    main()
