"""A local control socket for the simulated kiosk: scripts, the demo and tests press buttons.

One JSON object per line in, one per line out. Requests:
  {"cmd": "tap" | "press" | "release", "button": NAME}
  {"cmd": "hold", "button": NAME, "seconds": S}
  {"cmd": "rotate", "steps": N}          positive is clockwise
  {"cmd": "status"}                      the core's KioskStatus
  {"cmd": "screenshot", "path": FILE}    the last frame drawn, as PNG
  {"cmd": "quit"}
Answers are {"ok": true, ...} or {"ok": false, "error": "..."}; a bad request never stops
the kiosk.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from device.core.kiosk import KioskStatus
from device.sim.panel import SimulatedPanel, UnknownButton

log = logging.getLogger(__name__)
MAX_REQUEST = 4096


class ControlServer:
    def __init__(
        self,
        path: Path,
        panel: SimulatedPanel,
        status: Callable[[], KioskStatus],
        screenshot: Callable[[Path], bool],
        quit: Callable[[], None],
    ) -> None:
        self.path = path
        self.panel = panel
        self.status = status
        self.screenshot = screenshot
        self.quit = quit
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()
        control = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while line := self.rfile.readline(MAX_REQUEST):
                    answer = control.answer(line)
                    self.wfile.write(json.dumps(answer).encode() + b"\n")

        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        os.chmod(self.path, 0o600)
        threading.Thread(target=self._server.serve_forever, name="control", daemon=True).start()
        log.info("control socket listening on %s", self.path)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.path.unlink(missing_ok=True)

    def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("expected a JSON object")
            return {"ok": True, **self._do(request)}
        except (ValueError, UnknownButton, TypeError, RecursionError) as exc:
            message = exc.args[0] if isinstance(exc, UnknownButton) else str(exc)
            return {"ok": False, "error": message}

    def _do(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("cmd")
        if command in ("tap", "press", "release", "hold"):
            button = request.get("button")
            if not isinstance(button, str):
                raise ValueError(f"'{command}' needs \"button\": a button name")
            if command == "hold":
                seconds = request.get("seconds", 1.5)
                if not isinstance(seconds, int | float) or not 0 < seconds <= 30:
                    raise ValueError("'hold' needs \"seconds\" between 0 and 30")
                self.panel.hold(button, float(seconds))
            else:
                getattr(self.panel, command)(button)
            return {}
        if command == "rotate":
            steps = request.get("steps")
            if not isinstance(steps, int) or isinstance(steps, bool) or not 0 < abs(steps) <= 50:
                raise ValueError("'rotate' needs \"steps\": a whole number from -50 to 50, not 0")
            self.panel.rotate(steps)
            return {}
        if command == "status":
            return {"status": asdict(self.status())}
        if command == "screenshot":
            path = request.get("path")
            if not isinstance(path, str):
                raise ValueError("'screenshot' needs \"path\": a file name")
            if not self.screenshot(Path(path)):
                raise ValueError("nothing has been drawn yet")
            return {"path": path}
        if command == "quit":
            self.quit()
            return {}
        raise ValueError(
            f"unknown command {command!r}: expected tap, press, release, hold, rotate, "
            "status, screenshot or quit"
        )


class ControlClient:
    """Talks to a running simulated kiosk (used by the demo, tests and `jukebox control`)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def send(self, **request: Any) -> dict[str, Any]:
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the kiosk closed the control socket")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
