"""The kiosk's update client: the tenant's `firmware` entry → a bundle in the other slot.

One thread ("update"). When the desired state names a firmware version other than the one
running, it downloads the bundle with the content sync's downloader (resumable, sha256 and
size checked; the bundle lives in ``STATE_DIR/update/cache``), throttled so that playback
never starves, and writes ``request.json`` for the root installer (installer.py). When the
installer says ``installed``, it arms the `RebootGate`, which reboots at a safe moment
(moment.py). Meanwhile it tells the health gate (health.py) whether the tenant and MQTT are
up, in ``$RUNTIME_DIRECTORY/health.json``. A refused or rolled-back version is not tried
again until the tenant names another one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.media import MediaCache
from device.platform.info import boot_id
from device.platform.priority import lower_this_thread
from device.ports import TenantHttp
from device.sync.downloader import Downloader, DownloadError
from device.update import status
from device.update.moment import RebootGate
from device.update.target import FirmwareTarget

log = logging.getLogger(__name__)

CHECK_S = 5.0  # the health file and the installer's record are looked at this often
RETRY_S = 300.0  # after a failed download or install
RATE_BYTES_S = 2 << 20  # the download's ceiling: well under an SD card's and the Wi-Fi's
CACHE = "cache"


class UpdateClient:
    def __init__(
        self,
        state_dir: Path,
        http: Callable[[], TenantHttp],
        gate: RebootGate,
        *,
        running: str,
        runtime_dir: Path | None,
        tenant_up: Callable[[], bool],
        mqtt_up: Callable[[], bool],
        rate_bytes_s: int = RATE_BYTES_S,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        this_boot: Callable[[], str] = boot_id,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._this_boot = this_boot
        self.base = status.folder(state_dir)
        self.http = http
        self.gate = gate
        self.running = running
        self.runtime_dir = runtime_dir
        self.tenant_up = tenant_up
        self.mqtt_up = mqtt_up
        self.rate = rate_bytes_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._target: FirmwareTarget | None = None
        self._phase: dict[str, Any] | None = None
        self._retry_at = 0.0
        self._failed_seq: object = None
        self._lock = threading.Lock()
        self._wake = threading.Event()

    # ------------------------------------------------------------------ other threads

    def set_target(self, target: FirmwareTarget | None) -> None:
        """From remote administration: the firmware the tenant wants (None: keep this one)."""
        with self._lock:
            changed = target != self._target
            self._target = target
        if changed:
            self._retry_at = 0.0
            self._wake.set()

    def wake(self) -> None:
        """Look again now: the link calls it after setting the stop event, so `run` returns
        at once instead of after up to CHECK_S (the link's join would time out first)."""
        self._wake.set()

    def report(self) -> dict[str, Any]:
        """The ``update`` object of the reported state and the heartbeat."""
        with self._lock:
            phase = dict(self._phase) if self._phase else None
        return status.update_report(self.state_dir, phase)

    def run(self, stop: threading.Event) -> None:
        lower_this_thread()  # below the core and mpv; the rate ceiling protects playback too
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("update client step failed")
            self._wake.wait(CHECK_S)
            self._wake.clear()
        log.debug("update client stopped")

    # ------------------------------------------------------------------ the thread's work

    def step(self) -> None:
        """One look: the health file, then what the target needs next."""
        self._write_health()
        with self._lock:
            target = self._target
        if target is None or self.gate.done:
            return
        install = status.read(self.base / status.INSTALL) or {}
        health = status.read(self.base / status.HEALTH) or {}
        running = status.booted_version(health) or self.running
        if target.version == running:
            return  # done (the booted slot's bundle version, else the package's)
        if health.get("target") == target.version and health.get("phase") in (
            status.ROLLED_BACK, status.REBOOTING,
        ):  # fmt: skip
            return  # rolled back: not again until the tenant names another version
        if install.get("target") == target.version and _seq(install) > status.judged_seq(health):
            phase = install.get("phase")
            if phase == status.INSTALLED:
                if install.get("boot_id") not in (None, self._this_boot()):
                    # Installed before a reboot: this boot is (or was) the new slot's one try,
                    # which the health gate judges. Arming again would reboot before its
                    # verdict: at night at once, and the slot, its try spent, would fall back.
                    return
                if not self.gate.armed:
                    log.info("firmware %s installed: reboot at a safe moment", target.version)
                    self._set_phase(status.INSTALLED, target, "waiting for a safe moment", 100)
                    self.gate.arm()
                return
            if phase == status.REFUSED:
                return  # the tenant must name another bundle
            if phase == status.FAILED and install.get("seq") != self._failed_seq:
                self._failed_seq = install.get("seq")  # a new failure: wait before retrying
                self._retry_at = self._monotonic() + RETRY_S
        if (self.base / status.REQUEST).exists() or self._monotonic() < self._retry_at:
            return  # the installer has it (or a power cut interrupted it: it retries at boot)
        self._download_and_request(target)

    def _download_and_request(self, target: FirmwareTarget) -> None:
        # A new install makes the other slot unbootable while RAUC writes it: no reboot into
        # it until the installer says `installed` again (step arms the gate then).
        self.gate.disarm()
        cache = MediaCache(self.base / CACHE)
        for old in cache.media.glob("*/*"):
            if old.name != target.sha256:
                old.unlink(missing_ok=True)  # an earlier target's bundle: room on the card
        downloader = Downloader(
            self.http(), cache, self.base / "downloads", url_path=lambda _sha: target.path
        )
        done = [0]
        started = self._monotonic()
        self._set_phase(status.DOWNLOADING, target, "", 0)

        def throttle(count: int) -> None:
            done[0] += count
            self._set_phase(status.DOWNLOADING, target, "", 100 * done[0] // target.size)
            ahead = done[0] / self.rate - (self._monotonic() - started)
            if ahead > 0:
                self._sleep(ahead)

        try:
            path = downloader.fetch(target.sha256, target.size, throttle)
        except (DownloadError, ValueError, OSError) as exc:
            log.warning("firmware %s: download stopped: %s", target.version, exc)
            self._set_phase(status.FAILED, target, f"download: {exc}", None)
            self._retry_at = self._monotonic() + RETRY_S
            return
        relative = path.relative_to(self.base)
        status.write(
            self.base / status.REQUEST,
            {
                "version": target.version,
                "bundle": str(relative),
                "sha256": target.sha256,
                "allow_downgrade": target.allow_downgrade,
                "seq": status.next_seq(self.state_dir),
            },
        )
        log.info("firmware %s downloaded: install requested", target.version)
        self._set_phase(status.DOWNLOADED, target, "install requested", 100)

    def _set_phase(
        self, phase: str, target: FirmwareTarget, result: str, progress: int | None
    ) -> None:
        seq = status.next_seq(self.state_dir)  # newer than every record on disk
        data: dict[str, Any] = {"phase": phase, "target": target.version, "seq": seq}
        if result:
            data["result"] = result
        if progress is not None:
            data["progress"] = max(0, min(100, progress))
        with self._lock:
            self._phase = data

    def _write_health(self) -> None:
        """For the root health gate: is the tenant reached, is MQTT up (READY it asks systemd)."""
        if self.runtime_dir is None:
            return
        try:
            signals = {"tenant": bool(self.tenant_up()), "mqtt": bool(self.mqtt_up())}
            status.write(self.runtime_dir / status.HEALTH, signals)
        except OSError as exc:
            log.warning("cannot write the health file: %s", exc)


def _seq(record: dict[str, Any]) -> int:
    value = record.get("seq", 0)
    return value if isinstance(value, int) else 0
