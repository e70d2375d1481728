"""A simulated kiosk in its own process, driven through its control socket.

The demo, the daemon tests and the benchmarks all run the real `jukebox run --simulate`
this way, so they exercise the same start-up, signals and shutdown as a kiosk.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from device.sim.control import ControlClient

HEADLESS_FOLDER_CONFIG = """
[device]
state_dir = "state"
content_dir = "content"
[audio]
backend = "null"
[display]
driver = "none"
[[buttons]]
name = "play"
pin = 17
press = "play_pause"
"""
"""A kiosk with no screen, no sound and one button, playing its content folder: what the
benchmarks and the start-up tests run (paths relative to the configuration file)."""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


class KioskProcess:
    def __init__(
        self,
        config: Path,
        socket: Path,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.env = dict(env) if env is not None else None
        self.socket = socket
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.client: ControlClient | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "jukebox", "run", "--simulate", "--no-keyboard",
            "--config", str(self.config), "--control-socket", str(self.socket),
        ]  # fmt: skip

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        output: IO[bytes] | int = subprocess.DEVNULL
        if self.log is not None:
            output = open(self.log, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(
                self.command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
            )
        finally:
            if not isinstance(output, int):
                output.close()

    def connect(self, timeout: float = 30) -> ControlClient:
        """Wait until the control socket answers; fails at once if the kiosk exits."""
        process = self.process
        assert process is not None, "start() first"

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the kiosk exited with code {process.returncode}")
            try:
                client = ControlClient(self.socket)
            except OSError:
                return False
            self.client = client
            return True

        wait_for(answers, timeout, f"the control socket {self.socket}")
        assert self.client is not None
        return self.client

    def status(self) -> dict[str, Any]:
        assert self.client is not None, "connect() first"
        answer = self.client.send(cmd="status")
        if not answer.get("ok"):
            raise RuntimeError(f"status refused: {answer}")
        status: dict[str, Any] = answer["status"]
        return status

    def wait_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> None:
        wait_for(lambda: predicate(self.status()), timeout, what)

    def quit(self, timeout: float = 30) -> int:
        """An orderly stop through the control socket; returns the exit code."""
        assert self.process is not None and self.client is not None
        self.client.send(cmd="quit")
        self.client.close()
        self.client = None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would stop it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.client is not None:
            self.client.close()
            self.client = None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
