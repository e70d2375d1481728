"""A mosquitto process with its own configuration on a free port: for the demo and the tests.

    with MosquittoProcess(tmp_path / "broker", dynsec_admin=("admin", "pw")) as broker:
        broker.port        # listening on 127.0.0.1
        broker.stop()      # the broker is down (connections refused)
        broker.start()     # up again: same port, same persistence and accounts

Production brokers are configured by their operators (docs/protocol.md says what they need);
this class writes a minimal configuration: one listener, no anonymous access when the
dynamic-security plugin is on, persistence so that retained messages and queued QoS 1 messages
survive a restart.
"""

from __future__ import annotations

import getpass
import glob
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["BrokerError", "BrokerTls", "MosquittoProcess", "dynsec_plugin_path", "free_port"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)


class BrokerError(RuntimeError):
    """mosquitto is missing, refused its configuration or did not start; says which."""


@dataclass(frozen=True)
class BrokerTls:
    """Server certificate and key, and the CA that signed them (PEM files)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def dynsec_plugin_path() -> Path:
    for pattern in PLUGIN_GLOBS:
        for found in glob.glob(pattern):
            return Path(found)
    raise BrokerError(
        "mosquitto's dynamic-security plugin was not found "
        f"({', '.join(PLUGIN_GLOBS)}): apt-get install mosquitto (2.0 or later)"
    )


class MosquittoProcess:
    def __init__(
        self,
        work_dir: Path,
        *,
        port: int = 0,
        dynsec_admin: tuple[str, str] | None = None,
        tls: BrokerTls | None = None,
        host: str = "127.0.0.1",
        executable: str = "mosquitto",
        config: Path | None = None,
    ) -> None:
        """`config`: run this configuration as written (by `jukebox tenant broker-setup`, for
        the demo) instead of writing one; it must listen on `host`:`port`."""
        self.work_dir = Path(work_dir).absolute()
        self.host = host
        self.port = port or free_port()
        self.dynsec_admin = dynsec_admin
        self.tls = tls
        self.executable = executable
        self._given_config = Path(config).absolute() if config is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running broker's process id (for priorities and diagnostics), None if stopped."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def config_file(self) -> Path:
        return self._given_config or self.work_dir / "mosquitto.conf"

    @property
    def dynsec_file(self) -> Path:
        return self.work_dir / "dynamic-security.json"

    @property
    def log_file(self) -> Path:
        return self.work_dir / "mosquitto.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> MosquittoProcess:
        if self.running:
            return self
        binary = shutil.which(self.executable) or shutil.which(self.executable, path="/usr/sbin")
        if binary is None:
            raise BrokerError("mosquitto is not installed: apt-get install mosquitto")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self._given_config is None:
            self._write_config()
        log_handle = self.log_file.open("ab")
        self._process = subprocess.Popen(
            [binary, "-c", str(self.config_file)],
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_handle.close()
        self._wait_listening()
        log.info("mosquitto listening on %s:%d (%s)", self.host, self.port, self.work_dir)
        return self

    def stop(self) -> None:
        """Stop cleanly (SIGTERM: mosquitto saves its persistence file)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash or a power cut would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "per_listener_settings false",
            "persistence true",
            f"persistence_location {self.work_dir}/",
            "autosave_interval 5",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "max_queued_messages 100000",
        ]
        if os.geteuid() == 0:
            lines.append(
                f"user {getpass.getuser()}"
            )  # do not drop to 'mosquitto': keep file access
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_file}",
                f"certfile {self.tls.cert_file}",
                f"keyfile {self.tls.key_file}",
                "tls_version tlsv1.2",
            ]
        if self.dynsec_admin is not None:
            if not self.dynsec_file.exists():
                self._init_dynsec(*self.dynsec_admin)
            lines += [
                "allow_anonymous false",
                f"plugin {dynsec_plugin_path()}",
                f"plugin_opt_config_file {self.dynsec_file}",
            ]
        else:
            lines.append("allow_anonymous true")
        self.config_file.write_text("\n".join(lines) + "\n")

    def _init_dynsec(self, username: str, password: str) -> None:
        """The plugin's first file, with one admin allowed to manage accounts ($CONTROL)."""
        ctrl = shutil.which("mosquitto_ctrl")
        if ctrl is None:
            raise BrokerError("mosquitto_ctrl is missing: apt-get install mosquitto-clients")
        result = subprocess.run(
            [ctrl, "dynsec", "init", str(self.dynsec_file), username, password],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not self.dynsec_file.exists():
            raise BrokerError(f"mosquitto_ctrl dynsec init failed: {result.stdout}{result.stderr}")
        self.dynsec_file.chmod(0o600)

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with {self._process.returncode}: {self._log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise BrokerError(f"mosquitto did not listen on port {self.port}: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"
