"""Applies the tenant's desired state and runs its commands, answering each through MQTT.

`on_desired` and `on_command` run on the MQTT library's thread: they decode and check the
payload (size, JSON, schema, then what a schema cannot say), hand the result to the core as an
event, and publish exactly one answer: a reported state for every desired state (``rejected``
with the problem when it cannot be applied, the previous one staying in force), one command
result for every request. They never raise: a bug is logged and still answered.

The last applied desired state is kept in ``STATE_DIR/desired-state.json`` (written
atomically), so a kiosk that boots without network applies it at once. Its `firmware` entry
goes to the update client (device/update), whose report joins the reported state.

Over 400 lines: desired state, commands and their one lock belong together; splitting them
would share that lock across modules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from contract.files import atomic_write
from contract.protocol import PayloadError, decode, encode
from device import FIRMWARE_VERSION
from device.core.desired import DesiredState
from device.core.kiosk import KioskStatus
from device.events import DesiredStateReceived, EventSink, IdentifyRequested
from device.journal.outbox import JournalStats
from device.platform.boot_log import previous_boot_lines
from device.ports import Rebooter, RemotePublisher
from device.remote.desired import (
    STATE_FILE,
    DesiredStateError,
    SavedState,
    desired_from_payload,
    firmware_from_payload,
    load_saved,
    peek,
)
from device.remote.diagnostics import fit, plain, versions
from device.update.target import FirmwareTarget

log = logging.getLogger(__name__)

RECHECK_S = 5.0  # while syncing: how often the playlists on disk are compared with the wish
REBOOT_DELAY_S = 3.0  # time for the result to leave before systemd stops the link
IDENTIFY_DEFAULT_S = 30
DIAGNOSTICS_DEFAULT_LINES = 100
MAX_PROBLEM_CHARS = 500  # the reported-state schema's limit
MAX_ERROR_CHARS = 1000  # the command-result schema's limit
COMMAND_ARGS = {"resync": set(), "identify": {"seconds"}, "reboot": set(), "diagnostics": {"lines"}}


class RemoteAdmin:
    """The `RemoteInbox` the MQTT link calls; answers through its `RemotePublisher`.

    `sync_now` asks the content sync for an immediate pass (must not block);
    `playlists_present` gives the ids of the playlists wholly on disk; `status` and the
    optional `journal_stats` feed the diagnostics; `recent_logs(n)` gives the last n log lines,
    `previous_boot()` the last lines of the boot before this one (from the system journal);
    `saved()` the desired state saved last time, when the caller has read it already (the
    daemon does, before READY), else it is read here from the state directory.
    """

    def __init__(
        self,
        sink: EventSink,
        publisher: RemotePublisher,
        *,
        sync_now: Callable[[], None],
        playlists_present: Callable[[], Collection[str]],
        status: Callable[[], KioskStatus],
        rebooter: Rebooter,
        recent_logs: Callable[[int], list[str]],
        state_dir: Path,
        journal_stats: Callable[[], JournalStats] | None = None,
        previous_boot: Callable[[], list[str]] = previous_boot_lines,
        firmware: Callable[[FirmwareTarget | None], None] | None = None,
        update_report: Callable[[], dict[str, Any]] | None = None,
        firmware_version: str = FIRMWARE_VERSION,
        recheck_s: float = RECHECK_S,
        reboot_delay_s: float = REBOOT_DELAY_S,
        saved: Callable[[], SavedState | None] | None = None,
    ) -> None:
        self.sink = sink
        self.publisher = publisher
        self.sync_now = sync_now
        self.playlists_present = playlists_present
        self.status = status
        self.rebooter = rebooter
        self.recent_logs = recent_logs
        self.path = Path(state_dir) / STATE_FILE
        self.journal_stats = journal_stats
        self.previous_boot = previous_boot
        self.firmware = firmware  # the update client's target (device/update)
        self.update_report = update_report
        self.firmware_version = firmware_version
        self.recheck_s = recheck_s
        self.reboot_delay_s = reboot_delay_s
        self._lock = threading.RLock()
        self._applied: DesiredState | None = None
        self._reported: dict[str, Any] | None = None
        self._problem: str | None = None  # a problem of the applied state (not saved)
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watching = False  # under the lock: a watcher runs or is about to
        self._reboot: threading.Timer | None = None
        self._load(saved or (lambda: load_saved(self.path)))

    # ------------------------------------------------------------------ RemoteInbox

    @property
    def desired_version(self) -> int:
        """The version in force (0 before the first desired state), for heartbeats."""
        applied = self._applied
        return applied.version if applied else 0

    @property
    def applied(self) -> DesiredState | None:
        """The state in force. The saved one is posted to the core at construction; a daemon
        may also hand it over before the core's loop starts
        (``kiosk.handle(DesiredStateReceived(admin.applied))`` on the core's thread), so that
        the very first autoplay already follows it. Applying the same state twice is a no-op."""
        return self._applied

    def on_desired(self, payload: bytes) -> None:
        try:
            self._on_desired(payload)
        except Exception as exc:  # a bug here must neither reach paho nor go unanswered
            log.exception("desired state handling failed")
            version = peek(payload, "version")
            if version != self.desired_version:  # not applied (and so not reported) yet
                try:
                    self._report_rejected(version, f"internal error: {exc}")
                except Exception:
                    log.exception("could not report the failure either")

    def on_command(self, payload: bytes) -> None:
        answered = False

        def answer(result: dict[str, Any]) -> None:
            nonlocal answered
            answered = True
            self._publish_result(result)

        try:
            self._on_command(payload, answer)
        except Exception as exc:
            log.exception("command handling failed")
            if not answered:
                request_id, command = _request_id(payload), _command(payload)
                try:
                    answer(_failure(request_id, command, f"internal error: {exc}"))
                except Exception:
                    log.exception("could not send the failure either")

    def recheck(self) -> None:
        """Compare the playlists on disk with the desired ones; report if that changed.

        A rejection stays the reported state (the tenant must see it) until the next push.
        """
        with self._lock:
            reported = self._reported
            if self._applied is not None and (reported is None or reported["status"] != "rejected"):
                self._report_current(force=False)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            reboot, self._reboot = self._reboot, None
        if reboot is not None:
            reboot.cancel()
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout=5)

    # ------------------------------------------------------------------ desired state

    def _load(self, read: Callable[[], SavedState | None]) -> None:
        """The desired state saved last time, applied before any network is there."""
        saved = read()
        if saved is None:
            return
        state, firmware = saved
        log.info("applying the saved desired state %d", state.version)
        with self._lock:
            self._applied = state
            self.sink(DesiredStateReceived(state))
            self._set_firmware(firmware)
            self._report_current(force=True)

    def _on_desired(self, payload: bytes) -> None:
        try:
            data = decode("desired-state", payload)
            state = desired_from_payload(data)
            firmware = firmware_from_payload(data)
        except (PayloadError, DesiredStateError) as exc:
            log.warning("desired state refused, the previous one stays: %s", exc)
            self._report_rejected(peek(payload, "version"), str(exc))
            return
        with self._lock:
            current = self.desired_version
            if state.version < current:
                log.info("ignoring desired state %d: %d is in force", state.version, current)
                return
            if state.version == current:
                log.info("desired state %d received again: reporting it again", state.version)
                self._report_current(force=True)
                return
            log.info(
                "desired state %d: %d playlist(s), featured %s",
                state.version,
                len(state.playlists),
                state.featured or "(the document's)",
            )
            self.sink(DesiredStateReceived(state))  # first: if this fails, nothing changed
            self._problem = None
            try:
                atomic_write(self.path, encode("desired-state", data), mode=0o600)
            except OSError as exc:
                log.error("desired state %d applied but not saved: %s", state.version, exc)
                self._problem = f"applied but not saved, lost at restart: {exc}"
            self._applied = state
            self._set_firmware(firmware)
            self._report_current(force=True)
        try:
            self.sync_now()
        except Exception:
            log.exception("could not start a content sync for desired state %d", state.version)

    def _missing(self, state: DesiredState) -> list[str]:
        try:
            present = set(self.playlists_present())
        except Exception:
            log.exception("cannot tell which playlists are on disk")
            present = set()
        return [p for p in state.playlists if p not in present]

    def _report_current(self, *, force: bool) -> None:
        """Report the applied state (under the lock): `syncing` until every playlist is here."""
        state = self._applied
        assert state is not None
        missing = self._missing(state)
        report: dict[str, Any] = {
            "v": 1,
            "version": state.version,
            "status": "syncing" if missing else "applied",
            "firmware_version": self.firmware_version[:64],
        }
        if missing:
            report["missing"] = missing
        update = self._update()
        if update:
            report["update"] = update
        if self._problem:
            report["problem"] = self._problem[:MAX_PROBLEM_CHARS]
        if force or report != self._reported:
            if report["status"] == "applied" and self._reported is not None:
                log.info("desired state %d: every playlist is here", state.version)
            self._publish_reported(report)
        if missing:
            self._watch()

    def _set_firmware(self, firmware: FirmwareTarget | None) -> None:
        if self.firmware is None:
            return
        try:
            self.firmware(firmware)
        except Exception:
            log.exception("the update client refused the firmware entry")

    def _update(self) -> dict[str, Any]:
        if self.update_report is None:
            return {}
        try:
            return self.update_report()
        except Exception:
            log.exception("the update report failed and is omitted")
            return {}

    def _report_rejected(self, version: object, problem: str) -> None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            version = self.desired_version  # unreadable: the one still in force
        self._publish_reported(
            {
                "v": 1,
                "version": min(version, 2**53),
                "status": "rejected",
                "problem": _text(problem, MAX_PROBLEM_CHARS),
                "firmware_version": self.firmware_version[:64],
            }
        )

    def _publish_reported(self, report: dict[str, Any]) -> None:
        encode("reported-state", report)  # checked: a bug, not the network, could break this
        with self._lock:
            self._reported = report
        self.publisher.publish_reported(report)

    def _watch(self) -> None:
        """Re-check every `recheck_s` while syncing, on one short-lived thread (under the lock)."""
        if self._watching or self._closed.is_set():
            return
        self._watching = True
        self._watcher = threading.Thread(target=self._watch_loop, name="remote-sync", daemon=True)
        self._watcher.start()

    def _watch_loop(self) -> None:
        try:
            while not self._closed.wait(self.recheck_s):
                with self._lock:
                    self.recheck()
                    reported = self._reported
                    if reported is None or reported["status"] != "syncing":
                        self._watching = False  # a later `syncing` starts a new watcher
                        return
        except Exception:
            log.exception("the desired state watcher stopped")
        with self._lock:
            self._watching = False

    # ------------------------------------------------------------------ commands

    def _on_command(self, payload: bytes, answer: Callable[[dict[str, Any]], None]) -> None:
        try:
            request = decode("command-request", payload)
        except PayloadError as exc:
            log.warning("command refused: %s", exc)
            answer(_failure(_request_id(payload), _command(payload), str(exc)))
            return
        request_id, command = request["request_id"], request["command"]
        args: dict[str, Any] = request.get("args", {})
        unexpected = sorted(set(args) - COMMAND_ARGS[command])
        if unexpected:
            problem = f"args.{unexpected[0]}: not an argument of {command}"
            answer(_failure(request_id, command, f"command-request: {problem}"))
            return
        log.info("command %s (request %s)", command, request_id)
        match command:
            case "resync":
                self.sync_now()
                answer(_success(request_id, command, {"sync": "started"}))
            case "identify":
                seconds = args.get("seconds", IDENTIFY_DEFAULT_S)
                self.sink(IdentifyRequested(float(seconds)))
                answer(_success(request_id, command, {"seconds": seconds}))
            case "reboot":
                answer(_success(request_id, command, {"reboot_in_s": self.reboot_delay_s}))
                self._schedule_reboot()
            case "diagnostics":
                lines = args.get("lines", DIAGNOSTICS_DEFAULT_LINES)
                answer(_success(request_id, command, self._diagnostics(lines)))

    def _schedule_reboot(self) -> None:
        with self._lock:
            if self._reboot is not None or self._closed.is_set():
                return  # one is coming already
            self._reboot = threading.Timer(self.reboot_delay_s, self._do_reboot)
            self._reboot.daemon = True
            self._reboot.start()

    def _do_reboot(self) -> None:
        try:
            self.rebooter.reboot()
        except Exception as exc:
            log.error("the requested reboot failed: %s", exc)
        with self._lock:
            self._reboot = None

    def _diagnostics(self, lines: int) -> dict[str, Any]:
        state: dict[str, Any] = {
            "kiosk": plain(self.status()),
            "versions": versions(self.firmware_version),
            "desired": plain(self._reported or {"version": self.desired_version}),
        }
        if self.journal_stats is not None:
            try:
                state["journal"] = plain(self.journal_stats())
            except Exception as exc:  # a damaged journal is worth reporting, not failing on
                state["journal"] = {"error": plain(str(exc))}
        recent = list(self.recent_logs(lines))[-lines:]
        return fit(recent, state, previous_boot=self.previous_boot())

    def _publish_result(self, result: dict[str, Any]) -> None:
        try:
            encode("command-result", result)  # what the link will send must be sendable
        except (PayloadError, UnicodeError) as exc:  # our bug: still answer, saying what
            log.error("invalid command result %r: %s", result.get("command"), exc)
            result = _failure(result.get("request_id"), result.get("command"), str(exc))
        self.publisher.publish_result(result)


def _request_id(payload: bytes) -> str | None:
    """The request id of a request that failed its checks, when it can be read at all."""
    value = peek(payload, "request_id")
    return value if isinstance(value, str) and 1 <= len(value) <= 64 and _utf8(value) else None


def _command(payload: bytes) -> str | None:
    value = peek(payload, "command")
    return value if isinstance(value, str) and len(value) <= 64 and _utf8(value) else None


def _utf8(text: str) -> bool:
    """False for strings JSON can carry but UTF-8 cannot (lone surrogates like "\\ud800")."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(message: str, limit: int) -> str:
    """A message cut to a schema's limit, with anything UTF-8 cannot carry replaced."""
    return message.encode("utf-8", "replace").decode()[:limit]


def _success(request_id: str, command: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "request_id": request_id, "command": command, "ok": True, "result": result}


def _failure(request_id: object, command: object, error: str) -> dict[str, Any]:
    return {
        "v": 1,
        "request_id": request_id if isinstance(request_id, str) else None,
        "command": command if isinstance(command, str) else None,
        "ok": False,
        "error": _text(error, MAX_ERROR_CHARS),
    }
