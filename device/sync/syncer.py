"""The content sync: the tenant's playlists and media into the offline cache, safely.

One pass (`sync_once`) asks for the playlists document with ``If-None-Match`` (a 304 with
everything cached returns at once), validates it as a whole, makes room within the quota,
downloads what the cache lacks (playlists open now first, then upcoming ones, ahead of their
window) and activates the new document only when every track of its open playlists is
cached: until then the last complete library keeps playing. Activation writes
``library.json`` first, then posts `LibraryUpdated`, so a reboot plays what was last shown.

`run` repeats passes every `interval_s` on its own thread, backs off with jitter while the
tenant is unreachable, and between passes re-checks validity windows so a playlist opens (or
closes) on time without any network. The wall clock (injectable as `wall_clock`) is used only
for validity windows (and to stamp ``library.json`` for the technician); every duration,
timeout and throttle uses `time.monotonic()`.

Size: one pass is one transaction of the cache (plan, make room, download, activate); split
across modules its ordering rules would be harder to check, so it stays whole (over 400 lines).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

import requests

from contract.media import MediaCache
from device.domain import Library, PlaylistId, Sha256
from device.events import EventSink, LibraryUpdated, SyncProgress, SyncState
from device.platform.backoff import Backoff
from device.platform.priority import lower_this_thread
from device.ports import TenantHttp
from device.sync.document import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    PlaylistEntry,
    PlaylistsDocument,
    parse_document,
    read_limited,
)
from device.sync.downloader import Downloader, ServerTrouble
from device.sync.fetchers import Fetcher, FetchStopped, ThreadFetcher
from device.sync.quota import CacheQuota
from device.sync.source import WallClock, build_library, utc_now
from device.sync.store import ActiveDocument, load_active, save_active
from device.tenant_api.errors import (
    ClaimExpired,
    DeviceRevoked,
    NotClaimed,
    TenantError,
    TenantUnreachable,
)

__all__ = ["PLAYLISTS_PATH", "SyncOutcome", "SyncResult", "Syncer"]

log = logging.getLogger(__name__)

PLAYLISTS_PATH = "/v1/device/playlists"
DOWNLOADS_DIR = "downloads"
STOP_POLL_S = 0.5  # while waiting for a wake-up, how often `stop` is looked at
WINDOW_RECHECK_S = 60.0  # the wall clock may jump (NTP): re-check windows at least this often
DISK_RESERVE_BYTES = 32 << 20  # left free for the journal and the logs

SyncOutcome = Literal[
    "unchanged",  # 304 and everything cached: nothing done
    "complete",  # everything cached, nothing new to activate
    "activated",  # a new library was posted
    "incomplete",  # some files failed; the previous library keeps playing
    "refused",  # the document was invalid; the previous library keeps playing
    "over_quota",  # the new content does not fit; the previous library keeps playing
    "offline",  # the tenant is unreachable or failing; retried with backoff
    "revoked",  # the device was revoked; syncing stops
    "failed",  # any other refusal by the tenant
    "stopped",  # the stop event was set during the pass
]


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome
    activated: bool = False
    files_downloaded: int = 0
    files_failed: int = 0
    bytes_downloaded: int = 0
    files_missing: int = 0  # files the document needs that are still not cached
    detail: str = ""


class _Progress:
    """Posts SyncProgress: state changes at once, byte counts at most every `every_s`."""

    def __init__(self, sink: EventSink, every_s: float) -> None:
        self.sink = sink
        self.every_s = every_s
        self.last: SyncProgress | None = None
        self.last_at = float("-inf")

    def post(self, progress: SyncProgress, *, force: bool = False) -> None:
        if progress == self.last:
            return
        now = time.monotonic()
        same_state = self.last is not None and self.last.state == progress.state
        if not force and same_state and now - self.last_at < self.every_s:
            return
        self.last, self.last_at = progress, now
        self.sink(progress)


class Syncer:
    """Keeps the media cache and the kiosk's library in step with the tenant.

    `state_dir` holds ``library.json`` and ``downloads/``; `sink` receives LibraryUpdated and
    SyncProgress events; `quota_bytes` bounds the media cache; `interval_s` separates passes.
    `shown` is the library the daemon posted at boot (TenantContentSource.load()); by default
    the syncer assumes that one, as of its construction. `fetcher` runs the downloads: by
    default `parallel_downloads` threads of this process; the daemon passes a ProcessFetcher
    (device/sync/fetch_process.py), which runs them in an idle-class process of their own.
    """

    def __init__(
        self,
        http: TenantHttp,
        cache: MediaCache,
        state_dir: Path,
        sink: EventSink,
        quota_bytes: int,
        interval_s: float,
        *,
        wall_clock: WallClock = utc_now,
        backoff: Backoff | None = None,
        progress_every_s: float = 0.25,
        timeout_s: float = 30.0,
        parallel_downloads: int = 2,
        fetcher: Fetcher | None = None,
        shown: Library | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"the sync interval must be positive, got {interval_s}")
        self.http = http
        self.cache = cache
        self.state_dir = Path(state_dir)
        self.sink = sink
        self.interval_s = interval_s
        self.wall_clock = wall_clock
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff(base_s=5.0, cap_s=max(interval_s, 900.0))
        self.downloader = Downloader(
            http, cache, self.state_dir / DOWNLOADS_DIR, timeout_s=timeout_s
        )
        self.fetcher = fetcher or ThreadFetcher(self.downloader, parallel_downloads)
        self.quota = CacheQuota(cache, quota_bytes)
        self._progress = _Progress(sink, progress_every_s)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._active = load_active(self.state_dir)
        self._latest: PlaylistsDocument | None = self._active.document if self._active else None
        self._etag = self._active.etag if self._active else None
        self._complete = False  # every file `_latest` needs was seen in the cache
        # What the kiosk was given at boot (`shown`, by default what TenantContentSource gives
        # now), so that the first check posts only what changed since.
        self._posted = shown
        self._posted_key: tuple[str, frozenset[PlaylistId]] | None = None
        if self._active is not None and shown is None:
            now = self.wall_clock()
            self._posted = build_library(self._active.document, cache, now)
            self._posted_key = self._window_key(self._active.document, now)

    @property
    def active_document(self) -> PlaylistsDocument | None:
        """The document the kiosk's library comes from (None before the first activation)."""
        return self._active.document if self._active else None

    @property
    def etag(self) -> str | None:
        """The ETag of the newest valid document received (sent as If-None-Match)."""
        return self._etag

    def playlists_present(self) -> frozenset[PlaylistId]:
        """The active document's playlists whose every file is in the cache (any window)."""
        active = self._active
        if active is None:
            return frozenset()
        return frozenset(
            p.id
            for p in active.document.playlists
            if all(self.cache.path_for(t.sha256) is not None for t in p.tracks)
        )

    def reload_active(self) -> None:
        """``library.json`` was replaced by someone else (an offline content pack from a
        technician's stick): start from it, so that window checks do not post the previous
        document's library again. A later pass still replaces it with a changed tenant document."""
        with self._lock:
            self._active = load_active(self.state_dir)
            self._publish(force=True)

    def wake(self) -> None:
        """Run the next pass now (a remote `resync`, a new desired state); never blocks."""
        self._wake.set()

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        """Sync every `interval_s` until `stop` is set or the device is revoked."""
        lower_this_thread()  # below the core and mpv; the download workers inherit it
        self._stop = stop
        log.info("content sync started (every %.0f s)", self.interval_s)
        while not stop.is_set():
            result = self.sync_once()
            if result.outcome == "revoked":
                return
            self._wait(stop, self.delay_after(result))
        log.info("content sync stopped")

    def delay_after(self, result: SyncResult) -> float:
        """How long to wait after a pass: the interval, or a backoff after trouble.

        A pass that received bytes before it was cut made progress: the backoff starts over,
        so a flaky link resumes within seconds instead of waiting minutes per cut.
        """
        if result.outcome not in ("offline", "incomplete", "failed"):
            self.backoff.reset()
            return self.interval_s
        if result.bytes_downloaded > 0:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        log.info("next sync attempt in %.0f s (%s)", delay, result.outcome)
        return delay

    def _wait(self, stop: threading.Event, delay_s: float) -> None:
        """Sleep `delay_s`, waking when a validity window opens or closes, or on `wake()`."""
        deadline = time.monotonic() + delay_s
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._woken(stop, min(remaining, self._until_next_boundary(), WINDOW_RECHECK_S)):
                log.info("content sync asked for now")
                return
            self.check_windows()

    def _woken(self, stop: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as `wake()` is called."""
        end = time.monotonic() + seconds
        while not stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self._wake.wait(min(left, STOP_POLL_S)):
                self._wake.clear()
                return True
        return False

    def _until_next_boundary(self) -> float:
        if self._active is None:
            return WINDOW_RECHECK_S
        now = self.wall_clock()
        upcoming = [b for b in self._active.document.boundaries() if b > now]
        if not upcoming:
            return WINDOW_RECHECK_S
        return max(0.05, (upcoming[0] - now).total_seconds() + 0.05)

    def check_windows(self) -> bool:
        """Post a new library if a playlist opened or closed since the last one; True if so."""
        with self._lock:
            return self._publish(force=False)

    # ------------------------------------------------------------------ one pass

    def sync_once(self) -> SyncResult:
        """One pass; never raises (every failure is logged and becomes the result)."""
        with self._lock:
            try:
                return self._sync()
            except DeviceRevoked as exc:
                log.error(
                    "content sync stops: the tenant revoked this kiosk (%s); "
                    "the cached library keeps playing",
                    exc,
                )
                self._post("failed", detail="revoked by the tenant: sync stopped")
                return SyncResult("revoked", detail=str(exc))
            except FetchStopped:
                return SyncResult("stopped")
            except Exception as exc:
                log.exception("content sync pass failed")
                self._post("failed", detail=str(exc))
                return SyncResult("failed", detail=str(exc))

    def _sync(self) -> SyncResult:
        if self._progress.last is None or self._progress.last.state != "complete":
            self._post("checking")  # a routine check of a complete cache is not news
        try:
            fetched = self._fetch()
        except (TenantUnreachable, requests.RequestException, ServerTrouble) as exc:
            log.warning("tenant unreachable, keeping the current content: %s", exc)
            self._post("offline", detail=str(exc))
            self._publish(force=False)
            return SyncResult("offline", detail=str(exc))
        except DeviceRevoked:
            raise
        except (NotClaimed, ClaimExpired) as exc:
            log.info("content sync waits: this kiosk is not claimed yet (%s)", exc)
            self._post("failed", detail="not claimed yet")
            return SyncResult("failed", detail=str(exc))
        except TenantError as exc:
            log.error("the tenant refused the playlists request: %s", exc)
            self._post("failed", detail=str(exc))
            return SyncResult("failed", detail=str(exc))
        except DocumentError as exc:
            log.error("playlists document refused, keeping the current content: %s", exc)
            self._post("failed", detail=f"document refused: {exc}")
            self._publish(force=False)
            return SyncResult("refused", detail=str(exc))
        if fetched is None:  # 304: the document we hold is still the tenant's
            document = self._latest
            active = self._active
            if document is None:
                return SyncResult("failed", detail="304 for a document this kiosk does not hold")
            if self._complete and active and active.document.revision == document.revision:
                self._publish(force=False)
                self._post("complete")
                return SyncResult("unchanged")
        else:
            document, self._etag = fetched
            if self._latest is None or document.revision != self._latest.revision:
                log.info(
                    "playlists document %s: %d playlist(s)",
                    document.revision,
                    len(document.playlists),
                )
                self._complete = False
            self._latest = document
        return self._apply(document)

    def _fetch(self) -> tuple[PlaylistsDocument, str | None] | None:
        """The tenant's document and its ETag, or None for a 304."""
        headers = {"Accept": "application/json"}
        if self._etag:
            headers["If-None-Match"] = self._etag
        response = self.http.get(
            PLAYLISTS_PATH, headers=headers, stream=True, timeout=self.timeout_s
        )
        with response:
            status = response.status_code
            if status == 304 and self._etag:
                return None
            if status >= 500:
                raise ServerTrouble(f"the tenant answered {status} for the playlists")
            if status != 200:
                raise TenantError(f"the tenant answered {status} for the playlists", status=status)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_DOCUMENT_BYTES:
                raise DocumentError("", f"announced {length} bytes, more than a device accepts")
            body = read_limited(response.iter_content(chunk_size=64 << 10))
            etag = response.headers.get("ETag")
        return parse_document(body, self.http.base_url), etag

    def _apply(self, document: PlaylistsDocument) -> SyncResult:
        """Download what `document` lacks, then activate it if its open playlists are whole."""
        now = self.wall_clock()
        needed = document.media(_ordered(document, now))
        missing = {sha: size for sha, size in needed.items() if self.cache.path_for(sha) is None}
        self._forget_stale_parts(set(needed))
        downloaded = failed = received = 0
        halted: str | None = None
        no_room: str | None = None
        if missing:
            keep = set(needed)
            if self._active is not None:
                keep |= set(self._active.document.media())
            room = self.quota.make_room(missing, keep)
            no_room = room.detail if not room.fits else self._disk_problem(missing)
            if no_room is not None:
                log.warning("new content not downloaded, keeping the current library: %s", no_room)
            else:
                downloaded, failed, received, halted = self._download(missing)
        still_missing = {sha for sha in missing if self.cache.path_for(sha) is None}
        self._complete = not still_missing
        ready = not any(t.sha256 in still_missing for p in document.valid_at(now) for t in p.tracks)
        activated = False
        if ready and (self._active is None or self._active.document.revision != document.revision):
            activated = self._activate(document, now)
        else:
            self._publish(force=downloaded > 0)
            if not ready:
                log.info(
                    "document %s not activated: %d file(s) missing; the current library "
                    "keeps playing",
                    document.revision,
                    len(still_missing),
                )
        result = SyncResult(
            "activated" if activated else "complete",
            activated=activated,
            files_downloaded=downloaded,
            files_failed=failed,
            bytes_downloaded=received,
            files_missing=len(still_missing),
        )
        if no_room is not None:
            self._post("failed", detail=no_room)
            return replace(result, outcome="over_quota", detail=no_room)
        if halted is not None:
            self._post("offline", detail=halted)
            return replace(result, outcome="offline", detail=halted)
        if still_missing:
            detail = f"{len(still_missing)} file(s) could not be downloaded; retrying later"
            self._post("failed", detail=detail)
            return replace(result, outcome="incomplete", detail=detail)
        self._post("complete")
        return result

    def _download(self, missing: dict[Sha256, int]) -> tuple[int, int, int, str | None]:
        """Fetch every missing file; (downloaded, failed, bytes, why the pass stopped)."""
        total = sum(missing.values())
        self._post("downloading", files_total=len(missing), bytes_total=total, force=True)
        next_post = 0.0  # monotonic time of the next progress report

        def progress(received: int, done: int) -> None:  # per chunk: a few operations
            nonlocal next_post
            now = time.monotonic()
            if now < next_post:
                return
            next_post = now + self._progress.every_s
            self._post(
                "downloading",
                files_done=done,
                files_total=len(missing),
                bytes_done=received,
                bytes_total=total,
            )

        started = time.monotonic()
        batch = self.fetcher.fetch_all(missing, progress, self._stop)
        log.info(
            "downloaded %d file(s), %.1f MB in %.1f s%s",
            batch.done,
            batch.received / 1e6,
            time.monotonic() - started,
            f", {batch.failed} failed" if batch.failed else "",
        )
        return batch.done, batch.failed, batch.received, batch.halted

    def _activate(self, document: PlaylistsDocument, now: datetime) -> bool:
        active = ActiveDocument(document, self.http.base_url, self._etag, now)
        try:
            save_active(self.state_dir, active)
        except OSError as exc:
            log.error(
                "cannot save the new library in %s, not activating it: %s", self.state_dir, exc
            )
            return False
        self._active = active
        log.info("activated playlists document %s", document.revision)
        self.quota.evict_retired(document.raw.get("retired"), set(document.media()))
        self._publish(force=True)
        return True

    def _publish(self, *, force: bool) -> bool:
        """Post the active document's library as of now, if it differs from the last one."""
        if self._active is None:
            return False
        document = self._active.document
        now = self.wall_clock()
        key = self._window_key(document, now)
        if not force and key == self._posted_key:
            return False
        shown = {(p.id, p.revision) for p in self._posted.playlists} if self._posted else set()
        library = build_library(document, self.cache, now, whole_only=True, shown=shown)
        self._posted_key = key
        if library == self._posted:
            return False
        self._posted = library
        log.info(
            "library now: %d playlist(s), %d track(s)",
            len(library.playlists),
            library.total_tracks,
        )
        self.sink(LibraryUpdated(library))
        return True

    @staticmethod
    def _window_key(
        document: PlaylistsDocument, now: datetime
    ) -> tuple[str, frozenset[PlaylistId]]:
        return document.revision, frozenset(p.id for p in document.valid_at(now))

    def _disk_problem(self, missing: dict[Sha256, int]) -> str | None:
        partial = 0
        for sha in missing:
            with contextlib.suppress(OSError):
                partial += self.downloader.part_path(sha).stat().st_size
        need = sum(missing.values()) - partial + DISK_RESERVE_BYTES
        try:
            free = shutil.disk_usage(self.cache.media).free
        except OSError:
            return None
        if free < need:
            return f"{need / 1e6:.0f} MB needed on disk, {free / 1e6:.0f} MB free"
        return None

    def _forget_stale_parts(self, needed: set[Sha256]) -> None:
        """Partial downloads of files no playlist needs any more only waste the disk."""
        for part in self.downloader.downloads.glob("*.part"):
            if part.name[:-5] not in needed:
                with contextlib.suppress(OSError):
                    part.unlink()
                    log.info("removed the partial download %s: no playlist needs it", part.name)

    def _post(
        self,
        state: SyncState,
        *,
        files_done: int = 0,
        files_total: int = 0,
        bytes_done: int = 0,
        bytes_total: int = 0,
        detail: str = "",
        force: bool = False,
    ) -> None:
        self._progress.post(
            SyncProgress(state, files_done, files_total, bytes_done, bytes_total, detail),
            force=force,
        )


def _ordered(document: PlaylistsDocument, now: datetime) -> list[PlaylistEntry]:
    """Playlists still needed: those open now first, then upcoming ones by opening time."""
    open_now = [p for p in document.playlists if p.is_valid_at(now)]
    upcoming = sorted(
        (p for p in document.playlists if not p.is_valid_at(now) and not p.is_over_at(now)),
        key=lambda p: p.valid_from or now,
    )
    return open_now + upcoming
