"""How one pass's missing files are fetched: a few Downloader threads, here or in a process.

`ThreadFetcher` runs the downloads on threads of the calling process; `ProcessFetcher`
(device/sync/fetch_process.py) runs the same threads in a process of their own, so that a
download at full speed never holds the interpreter lock the kiosk's core needs. Both take the
files in the planned order, report progress the same way and stop when `stop` is set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from contract.media import CacheError
from device.domain import Sha256
from device.sync.downloader import (
    Downloader,
    DownloadError,
    DownloadIntegrityError,
    ServerTrouble,
)

__all__ = ["BatchResult", "FetchStopped", "Fetcher", "Progress", "ThreadFetcher"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Told (bytes received so far, files done so far) after every chunk; it may raise to stop."""


class FetchStopped(Exception):
    """The stop event was set in the middle of a download."""


@dataclass(frozen=True)
class BatchResult:
    done: int
    failed: int
    received: int  # bytes
    halted: str | None  # why the batch stopped early (the tenant unreachable), or None


class Fetcher(Protocol):
    def fetch_all(
        self, missing: dict[Sha256, int], progress: Progress, stop: threading.Event
    ) -> BatchResult:
        """Fetch `missing` (sha256: size, in order) into the cache. Raises FetchStopped when
        `stop` was set, DeviceRevoked when the tenant revoked the kiosk."""
        ...


class _Batch:
    """The files of one batch, shared by the download workers."""

    def __init__(self, missing: dict[Sha256, int]) -> None:
        self.lock = threading.Lock()
        self.items = iter(list(missing.items()))
        self.received = self.done = self.failed = 0
        self.halted: str | None = None  # set when the tenant became unreachable

    def next(self) -> tuple[Sha256, int] | None:
        with self.lock:
            return None if self.halted is not None else next(self.items, None)

    def finish(self, *, failed: bool, halt: str | None = None) -> None:
        with self.lock:
            if failed:
                self.failed += 1
            else:
                self.done += 1
            if halt is not None and self.halted is None:
                self.halted = halt


class ThreadFetcher:
    """`parallel` Downloader threads side by side, so that one file's fsync and the next
    request's round trip overlap the transfer of another."""

    def __init__(self, downloader: Downloader, parallel: int = 2) -> None:
        self.downloader = downloader
        self.parallel = max(1, parallel)

    def fetch_all(
        self, missing: dict[Sha256, int], progress: Progress, stop: threading.Event
    ) -> BatchResult:
        batch = _Batch(missing)

        def on_bytes(count: int) -> None:  # once per chunk (1 MiB): keep it to a few operations
            if stop.is_set():
                raise FetchStopped
            with batch.lock:
                batch.received += count
                progress(batch.received, batch.done)

        def worker() -> None:
            while (item := batch.next()) is not None and not stop.is_set():
                sha, size = item
                try:
                    self.downloader.fetch(sha, size, on_bytes)
                except ServerTrouble as exc:
                    log.warning("download interrupted, will resume: %s", exc)
                    batch.finish(failed=True, halt=str(exc))
                except DownloadIntegrityError as exc:
                    log.error("downloaded file rejected: %s", exc)
                    batch.finish(failed=True)
                except (DownloadError, CacheError, OSError) as exc:
                    log.error("download failed: %s", exc)
                    batch.finish(failed=True)
                except BaseException:  # stopped, revoked, or a bug: the other workers stop too
                    batch.finish(failed=True, halt="interrupted")
                    raise
                else:
                    batch.finish(failed=False)

        workers = min(self.parallel, len(missing))
        with ThreadPoolExecutor(workers, thread_name_prefix="download") as pool:
            for future in [pool.submit(worker) for _ in range(workers)]:
                future.result()  # re-raises FetchStopped, DeviceRevoked or a bug, after all ended
        if stop.is_set():
            raise FetchStopped
        return BatchResult(batch.done, batch.failed, batch.received, batch.halted)
