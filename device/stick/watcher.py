"""The daemon's half of the technician stick: read the helper's verdict, import the pack.

Started by the USB adapter's StorageAttached events (and a look at STICK_ROOT at start-up),
each stick is followed on its own short-lived thread, never the core's: it waits for the
helper's verdict, verifies and imports a content pack (the same checks the helper made, and
the media hashed again into the cache), answers the helper, and posts StickReport events
(and LibraryUpdated after an import) for the screen, said as phrases the core puts in the
kiosk's language. When the helper kept a kiosk.toml, the
configuration is read again with it (`settings`) and posted as SettingsChanged: the core
takes it without a restart; what only a restart applies (pins, panel) is said on the screen.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from contract.files import atomic_write
from contract.media import CacheError, MediaCache
from device.config import KioskConfig, restart_needed
from device.display.texts import Phrase, phrase, verbatim
from device.events import (
    EventSink,
    LibraryUpdated,
    SettingsChanged,
    StickReport,
    StorageAttached,
)
from device.identity.credentials import Credentials
from device.stick.contents import StickRefused, inspect_stick
from device.stick.layout import (
    STICK_ROOT,
    Verdict,
    ack_path,
    mount_point,
    valid_kernel_name,
    verdict_path,
)
from device.stick.pack import import_pack

__all__ = ["StickWatcher"]

log = logging.getLogger(__name__)

NOTHING_CHANGED = phrase("nothing_changed")
WRITING_DIAGNOSTICS = phrase("writing_diagnostics")


class StickWatcher:
    def __init__(
        self,
        state_dir: Path,
        cache: MediaCache,
        credentials: Callable[[], Credentials | None],
        sink: EventSink,
        *,
        stick_root: Path = STICK_ROOT,
        verdict_wait_s: float = 60.0,
        done_wait_s: float = 1800.0,
        poll_s: float = 0.25,
        on_imported: Callable[[], None] | None = None,
        settings: Callable[[], tuple[KioskConfig, list[str]]] | None = None,
        config: KioskConfig | None = None,
    ) -> None:
        self.state_dir = state_dir
        # The configuration read again with the state directory's kiosk.toml, and problems
        # (device/firstboot/site_settings.with_site_settings); `config` is the one in force.
        self.settings = settings
        self.config = config
        # Told after a pack became library.json (the syncer reloads it and posts the library);
        # without one, the watcher posts the pack's library itself.
        self.on_imported = on_imported
        self.cache = cache
        self.credentials = credentials
        self.sink = sink
        self.stick_root = stick_root
        self.verdict_wait_s = verdict_wait_s
        self.done_wait_s = done_wait_s
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._busy: dict[str, threading.Thread] = {}
        self._stop = threading.Event()

    def offer(self, event: StorageAttached) -> None:
        """A partition appeared: follow it if the helper turns out to mount it."""
        self.follow(event.device)

    def start(self) -> None:
        """Follow sticks the helper mounted before the daemon started."""
        try:
            names = [p.stem for p in self.stick_root.glob("*.json")]
        except OSError:
            return
        for name in names:
            self.follow(name, fresh_only=True)

    def follow(self, device: str, *, fresh_only: bool = False) -> None:
        if not valid_kernel_name(device):
            return
        with self._lock:
            running = self._busy.get(device)
            if running is not None and running.is_alive():
                return
            thread = threading.Thread(
                target=self._guarded, args=(device, fresh_only), name=f"stick-{device}",
                daemon=True,
            )  # fmt: skip
            self._busy[device] = thread
        thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._busy.values())
        for thread in threads:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ one stick

    def _guarded(self, device: str, fresh_only: bool) -> None:
        try:
            self._follow(device, fresh_only)
        except Exception:
            log.exception("stick %s: handling failed", device)
            self.sink(StickReport(False, phrase("stick_not_read"), (phrase("internal_error"),)))

    def _follow(self, device: str, fresh_only: bool) -> None:
        # A verdict older than this event belongs to an earlier stick with the same name.
        since = 0.0 if fresh_only else time.time() - 2.0
        verdict = self._wait(device, ("ready", "refused", "done"), self.verdict_wait_s, since)
        if verdict is None or (fresh_only and verdict.state != "ready"):
            return  # not a technician stick (or an old verdict): nothing to say
        if verdict.state == "refused":
            problems = (verbatim(problem) for problem in verdict.problems)
            self.sink(StickReport(False, phrase("stick_refused"), (*problems, NOTHING_CHANGED)))
            return
        lines = [*verdict.site, *self._settings(verdict)]
        ok = True
        if verdict.state == "ready" and verdict.pack:
            ok, pack_lines = self._import(device)
            lines += pack_lines
            answer = ack_path(self.state_dir, device)
            answer.parent.mkdir(mode=0o755, exist_ok=True)
            atomic_write(
                answer,
                json.dumps({"ok": ok, "lines": [p.to_json() for p in pack_lines]}).encode(),
                mode=0o644,
            )
        if verdict.diagnostics:
            lines.append(WRITING_DIAGNOSTICS)
        title = phrase("stick_read" if ok else "pack_refused")
        self.sink(StickReport(ok, title, tuple(lines)))
        final = (
            verdict
            if verdict.state == "done"
            else self._wait(device, ("done",), self.done_wait_s, since)
        )
        if final is None:
            return
        closing = [line for line in lines if line != WRITING_DIAGNOSTICS]
        if final.written is not None:
            closing.append(final.written)
        self.sink(StickReport(ok, phrase("remove_stick"), tuple(closing), done=True))

    def _settings(self, verdict: Verdict) -> list[Phrase]:
        """Apply a stick's new kiosk settings now; the lines that say what happened."""
        if not verdict.settings or self.settings is None:
            return list(verdict.settings)
        if verdict.settings == (phrase("kiosk_unchanged"),):
            return list(verdict.settings)
        config, problems = self.settings()
        refused = [p for p in problems if p.startswith("kiosk settings ignored")]
        if refused:  # valid alone, wrong over /etc: the kiosk keeps what it had
            log.error("stick kiosk settings not applied: %s", "; ".join(refused))
            return [*verdict.settings, *map(verbatim, refused)]
        later = restart_needed(self.config, config) if self.config is not None else []
        self.config = config
        self.sink(SettingsChanged(config))
        log.info("stick kiosk settings applied now%s", f"; at restart: {later}" if later else "")
        lines = [*verdict.settings, phrase("applied_now")]
        if later:
            lines.append(phrase("restart_for", settings=", ".join(later)))
        return lines

    def _import(self, device: str) -> tuple[bool, list[Phrase]]:
        credentials = self.credentials()
        try:
            contents = inspect_stick(mount_point(self.stick_root, device), credentials)
        except StickRefused as exc:
            log.error("stick %s: pack refused: %s", device, exc)
            point = f"{mount_point(self.stick_root, device)}/"
            problems = (verbatim(p.replace(point, "")) for p in exc.problems)
            return False, [*problems, phrase("content_unchanged")]
        pack = contents.pack
        if pack is None or credentials is None:
            return False, [phrase("pack_gone")]
        try:
            library = import_pack(pack, self.cache, self.state_dir, credentials.tenant_url)
        except (CacheError, OSError) as exc:
            log.error("stick %s: pack not imported: %s", device, exc)
            return False, [phrase("pack_not_imported", error=exc)]
        if self.on_imported is not None:
            self.on_imported()
        else:
            self.sink(LibraryUpdated(library))
        playlists, files = len(pack.document.playlists), len(pack.media)
        return True, [phrase("pack_imported", playlists=playlists, files=files)]

    def _wait(
        self, device: str, states: tuple[str, ...], timeout_s: float, since: float
    ) -> Verdict | None:
        path = verdict_path(self.stick_root, device)
        deadline = time.monotonic() + timeout_s
        while not self._stop.is_set():
            try:
                fresh = path.stat().st_mtime >= since
                verdict = Verdict.from_json(path.read_bytes())
                if fresh and verdict.state in states:
                    return verdict
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError, RecursionError) as exc:
                log.debug("stick verdict %s not readable yet: %s", path, exc)
            if time.monotonic() >= deadline:
                return None
            self._stop.wait(self.poll_s)
        return None
