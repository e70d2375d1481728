"""`jukebox tenant serve` in its own process, for the demo, tests and benchmarks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests


class TenantServeError(RuntimeError):
    pass


def start_serve(data: Path, port: int, log: Path, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Start the service on 127.0.0.1:`port` and return once /healthz answers."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "jukebox", "tenant", "serve", "--data", str(data),
             "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_serve(process)
            raise TenantServeError(f"tenant serve did not start; see {log}")
        time.sleep(0.05)


def stop_serve(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
