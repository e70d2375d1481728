r"""A simulated fleet against one mosquitto and its ingesters: how many kiosks until acks slow down.

Each simulated kiosk is a real MQTT 5 client (paho) following the protocol: retained online
status with a last will, a heartbeat every `--heartbeat` seconds, and one finished play every
`--play-every` seconds (first ones spread at random over the first period of the measured
run), each sent as a batch and timed until the ingester's `plays/ack` comes back. The kiosks
are spread over `--processes` worker processes, each driving its share from one selector loop
(paho's external-loop API), so that the simulation does not measure itself; the broker and the
ingesters (`jukebox tenant ingest`, each its own process, on the shared subscription) are the
real ones (bench/fleet_backend.py starts them).

    .venv/bin/python bench/fleet.py [--fleet 500,1000,2000] [--duration 60] [--processes 2]
                                    [--play-every 120] [--heartbeat 60] [--acker ingester|echo]
                                    [--tls] [--ingesters 1] [--database sqlite|postgresql]

`--tls`: the broker as `jukebox tenant broker-setup` writes it (TLS, dynamic security), every
kiosk with its own account and role, as in production. `--ingesters N`: N ingesters share the
plays. `--database postgresql`: the tenant's database on a throwaway PostgreSQL server (fsync on)
instead of SQLite in the data directory. The national figure (issue 16):

    .venv/bin/python bench/fleet.py --fleet 10000 --duration 120 --tls --ingesters 2 \
                                    --database postgresql

With `--acker echo` the ingester is replaced by an echo acker in the bench's own process
(parses the batch, acknowledges, stores nothing): the ceiling of the simulation and the broker.

For each fleet size it prints plays acked, ack latency p50/p99/max, messages per second, and
the CPU the broker, the ackers and the simulated kiosks used (in % of one core), then for the
broker and each acker its CPU seconds over the run and its peak memory (VmHWM); the largest
fleet with p99 under 1 s is the figure (aim: 2,000; 10,000 with `--tls`). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import selectors
import ssl
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
from fleet_backend import (
    TENANT,
    Databases,
    Target,
    cpu_seconds,
    device_id,
    peak_memory_mib,
    start_backend,
)
from paho.mqtt.enums import CallbackAPIVersion

from contract.protocol import DeviceTopics, encode

CONNECT_TIMEOUT_S = 60.0  # after the last connect call of a kiosk process
CONNECT_EACH_S = 0.02  # the parent waits this much more per kiosk of a process (TLS handshakes)
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
    cpu_s: dict[str, float]  # broker, ingest-1… or acker, kiosks: CPU seconds over the run
    peak_mib: dict[str, float]  # broker, ingest-1… or acker: VmHWM at the end of the run


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


def make_kiosk(
    i: int, target: Target, tls: ssl.SSLContext | None, latencies: list[float]
) -> SimulatedKiosk:
    name = device_id(i)
    topics = DeviceTopics(TENANT, name)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    if target.password is not None:
        client.username_pw_set(name, target.password)
    if tls is not None:
        client.tls_set_context(tls)
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
    client.connect(target.host, target.port, keepalive=120, clean_start=True)
    return kiosk


def run_share(
    indices: list[int],
    target: Target,
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
    tls = target.tls_context()
    for n, i in enumerate(indices):
        kiosk = make_kiosk(i, target, tls, latencies)
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
        sock = kiosk.client.socket()  # TLS: records already decrypted wake no select()
        for _ in range(100):
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                break
            kiosk.client.loop_read()
            sock = kiosk.client.socket()
    for kiosk in kiosks[:: max(1, len(kiosks) // 50)]:
        kiosk.client.loop_misc()


def run_fleet(
    size: int, target: Target, args: argparse.Namespace, pids: dict[str, int]
) -> FleetResult:
    context = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[int] = context.Queue()
    results: multiprocessing.Queue[ShareResult] = context.Queue()
    go = context.Event()
    processes = min(args.processes, size)
    workers = [
        context.Process(
            target=run_share,
            args=(list(range(w, size, processes)), target, args, ready, go, results),
        )
        for w in range(processes)
    ]
    for worker in workers:
        worker.start()
    connect_s = CONNECT_TIMEOUT_S + 60 + CONNECT_EACH_S * size / processes
    connected = sum(ready.get(timeout=connect_s) for _ in workers)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.monotonic()
    go.set()
    shares = [results.get(timeout=args.duration + DRAIN_S + 120) for _ in workers]
    elapsed = time.monotonic() - began
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    peak = {name: peak_memory_mib(pid) for name, pid in pids.items()}
    cpu["kiosks"] = sum(s.cpu_s for s in shares)
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
        peak,
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raise_open_files() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--fleet", default="500,1000,2000")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--play-every", type=float, default=120.0)
    parser.add_argument("--heartbeat", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=2, help="simulating the kiosks")
    parser.add_argument("--acker", choices=("ingester", "echo"), default="ingester")
    parser.add_argument("--ingesters", type=int, default=1, help="ingester processes")
    parser.add_argument("--tls", action="store_true", help="TLS, an account per kiosk")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.ingesters < 1 or args.processes < 1:
        parser.error("--ingesters and --processes must be 1 or more")
    sizes = [int(s) for s in args.fleet.split(",")]
    limit = raise_open_files()  # the broker, started from here, inherits it
    if limit < max(sizes) + 1000:
        print(f"warning: open files limit {limit} is low for {max(sizes)} kiosks (ulimit -Hn)")
    ackers = f"{args.ingesters} ingester(s)" if args.acker == "ingester" else "echo"
    print(
        f"open files limit {limit}; each size runs {args.duration:.0f} s; a play every "
        f"{args.play_every:g} s and a heartbeat every {args.heartbeat:g} s per kiosk; "
        f"{args.processes} kiosk processes; acker: {ackers}; database: {args.database}; "
        f"broker: {'TLS, an account per kiosk' if args.tls else 'plain MQTT, anonymous'}"
    )
    print(
        f"{'kiosks':>7} {'online':>7} {'plays':>6} {'acked':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'msg/s':>7} {'cpu% broker':>11} {'ackers':>6} {'kiosks':>6}",
        flush=True,
    )
    best = 0
    databases = Databases(args.database)
    try:
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
                backend = start_backend(
                    Path(tmp),
                    size,
                    tls=args.tls,
                    ingesters=args.ingesters,
                    database_url=databases.new() if args.acker == "ingester" else None,
                    echo=args.acker == "echo",
                )
                try:
                    result = run_fleet(size, backend.target, args, backend.pids)
                finally:
                    backend.stop()
                stored, by_ingester = backend.stored()
            print_result(result, stored, by_ingester)
            p99 = percentile(result.latencies_s, 0.99)
            if p99 < 1.0 and result.connected == size:
                best = max(best, size)
    finally:
        databases.close()
    print(f"largest fleet with ack p99 under 1 s: {best} (aim: {10000 if args.tls else 2000})")


def print_result(result: FleetResult, stored: int | None, by_ingester: dict[str, int]) -> None:
    acked = [x for x in result.latencies_s if x != float("inf")]
    p99 = percentile(result.latencies_s, 0.99)
    cpu = {name: seconds / result.elapsed_s * 100 for name, seconds in result.cpu_s.items()}
    ackers = sum(v for name, v in cpu.items() if name not in ("broker", "kiosks"))
    print(
        f"{result.size:>7} {result.connected:>7} {result.plays_sent:>6} {len(acked):>6} "
        f"{percentile(acked, 0.5) * 1000:>8.1f} {p99 * 1000:>8.1f} "
        f"{(max(acked) if acked else float('nan')) * 1000:>8.1f} "
        f"{result.messages / result.elapsed_s:>7.1f} {cpu['broker']:>11.0f} "
        f"{ackers:>6.0f} {cpu['kiosks']:>6.0f}",
        flush=True,
    )
    processes = "; ".join(
        f"{name} {result.cpu_s[name]:.1f} s CPU, peak {mib:.1f} MiB"
        + (f", stored {by_ingester[name]}" if name in by_ingester else "")
        for name, mib in result.peak_mib.items()
    )
    in_database = "" if stored is None else f"; {stored} plays in the database"
    print(f"{'':>7} over {result.elapsed_s:.0f} s: {processes}{in_database}", flush=True)


if __name__ == "__main__":
    main()
