"""Why background work in the kiosk's own process can still delay a press: the interpreter lock.

A "core" thread waits on a queue as the kiosk's core does; events arrive 10-30 ms apart and
the time from `put` to the core running is measured. Meanwhile two workers do what the play
publisher does most (encoding and decoding batches of 250 plays as JSON), in one of five
arrangements, each run `--rounds` times, interleaved so the machine's load falls on all alike:

- threads at nice 10 (how the daemon lowers its sync and publisher threads today), with
  Python's default 5 ms switch interval, and with 1 ms;
- threads at nice 0, with 5 ms and with 1 ms;
- processes at nice 10 (the workers hold their own interpreter lock).

A thread at nice 10 that the kernel preempts while it holds the lock keeps the core waiting
until it runs again (priority inversion): on a busy machine that is tens of milliseconds.

    .venv/bin/python bench/gil_inversion.py [--seconds 8] [--rounds 3]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.context
import os
import queue
import random
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path


@dataclass(frozen=True)
class Arrangement:
    name: str
    switch_s: float
    nice: int
    processes: bool


ARRANGEMENTS = (
    Arrangement("threads, nice 10, switch 5 ms", 0.005, 10, False),
    Arrangement("threads, nice 10, switch 1 ms", 0.001, 10, False),
    Arrangement("threads, nice 0, switch 5 ms", 0.005, 0, False),
    Arrangement("threads, nice 0, switch 1 ms", 0.001, 0, False),
    Arrangement("processes, nice 10", 0.005, 10, True),
)


def encode_batches(stop: threading.Event | ProcessEvent, nice: int) -> None:
    """The publisher's kind of work: 250 plays to JSON and back, until `stop`."""
    if nice:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    plays = [
        {"event_id": f"{i:032x}", "listened_ms": i * 1000, "track_id": f"trk-{i:016x}"}
        for i in range(250)
    ]
    while not stop.is_set():
        json.loads(json.dumps(plays))


def wake_ups(arrangement: Arrangement, seconds: float) -> list[float]:
    """Seconds from each `put` to the core thread running, while the workers work."""
    sys.setswitchinterval(arrangement.switch_s)
    stop: threading.Event | ProcessEvent
    workers: list[threading.Thread] | list[multiprocessing.context.ForkProcess]
    if arrangement.processes:
        context = multiprocessing.get_context("fork")
        stop = context.Event()
        workers = [context.Process(target=encode_batches, args=(stop, arrangement.nice))
                   for _ in range(2)]  # fmt: skip
    else:
        stop = threading.Event()
        workers = [threading.Thread(target=encode_batches, args=(stop, arrangement.nice))
                   for _ in range(2)]  # fmt: skip
    for worker in workers:
        worker.start()
    inbox: queue.Queue[float | None] = queue.Queue()
    waited: list[float] = []

    def core() -> None:
        while (sent := inbox.get()) is not None:
            waited.append(time.monotonic() - sent)

    thread = threading.Thread(target=core, name="core")
    thread.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(random.uniform(0.010, 0.030))
        inbox.put(time.monotonic())
    inbox.put(None)
    thread.join()
    stop.set()
    for worker in workers:
        worker.join()
    sys.setswitchinterval(0.005)
    return waited


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per arrangement and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {a.name: [] for a in ARRANGEMENTS}
    load_before = Path("/proc/loadavg").read_text().split()[0]
    for _ in range(args.rounds):
        for arrangement in ARRANGEMENTS:
            results[arrangement.name] += wake_ups(arrangement, args.seconds)
    load_after = Path("/proc/loadavg").read_text().split()[0]
    print(f"core thread wake-up while two workers encode plays (load average "
          f"{load_before} before, {load_after} after; {args.rounds} rounds):")  # fmt: skip
    baseline = percentile(results[ARRANGEMENTS[-1].name], 0.99)
    for name, waited in results.items():
        p99 = percentile(waited, 0.99)
        ratio = p99 / baseline
        print(f"  {name:<32} p50 {percentile(waited, 0.5):6.2f}  p99 {p99:7.2f}  "
              f"max {max(waited) * 1000:7.1f} ms  (p99 {ratio:5.1f}x the processes')")  # fmt: skip


if __name__ == "__main__":
    main()
