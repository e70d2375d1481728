"""Downloads in a process of their own, in the idle scheduling class.

At full speed a download is mostly interpreter work (urllib3's reads, the chunking, the
hashing calls), and a thread of the daemon doing it holds the interpreter lock the core needs
to answer a button: in `bench/button_latency.py --load` a press then waited for it. In a
process of its own, in the SCHED_IDLE class, the download takes only CPU time nothing else
wants and shares no lock with the core. The process runs the kiosk's own Downloader threads
(device/sync/fetch_worker.py): the same resumable, verified files in the same shared cache;
the ``.part`` files' locks already keep two processes from writing one file.

The daemon keeps the tenant session: the process gets an access token on stdin and says when
the tenant refused it, and this side renews the token and starts it again for what is still
missing. A process that stops without a result (killed, crashed) halts the pass like an
unreachable tenant: the sync retries with backoff, and resumes the ``.part`` files.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from contract.media import MediaCache
from device.domain import Sha256
from device.platform.priority import make_process_idle
from device.sync.fetchers import BatchResult, FetchStopped, Progress
from device.tenant_api.client import TokenGrant

__all__ = ["ProcessFetcher", "TokenSource"]

log = logging.getLogger(__name__)

WORKER_MODULE = "device.sync.fetch_worker"
STOP_POLL_S = 0.25  # how often the stop event is looked at while the process works
TERMINATE_WAIT_S = 5.0


class TokenSource(Protocol):
    """The daemon's tenant session (device/tenant_api/session.py), for its access token."""

    def ensure_token(self) -> TokenGrant: ...

    def renew_rejected(self, rejected: TokenGrant) -> TokenGrant:
        """A new token; raises DeviceRevoked when the tenant revoked the kiosk meanwhile."""
        ...


class ProcessFetcher:
    """Implements device.sync.fetchers.Fetcher with a download process per batch."""

    def __init__(
        self,
        tokens: TokenSource,
        base_url: str,
        cache: MediaCache,
        downloads_dir: Path,
        *,
        verify: bool | str = True,
        user_agent: str = "jukebox-kiosk",
        timeout_s: float = 30.0,
        parallel: int = 2,
        python: str = sys.executable,
        log_to: int | None = None,
    ) -> None:
        self.tokens = tokens
        self.base_url = base_url
        self.cache = cache
        self.downloads_dir = Path(downloads_dir)
        self.verify = verify
        self.user_agent = user_agent
        self.timeout_s = timeout_s
        self.parallel = max(1, parallel)
        self.python = python
        self.log_to = log_to  # the process's stderr: the daemon's (the journal) by default
        self.pid: int | None = None  # the running download process, for the tests

    def fetch_all(
        self, missing: dict[Sha256, int], progress: Progress, stop: threading.Event
    ) -> BatchResult:
        grant = self.tokens.ensure_token()
        done = failed = received = 0
        renewed = False
        while True:
            answer, got_bytes = self._run(grant, missing, progress, stop, done, received)
            received += got_bytes
            if "result" in answer:
                result = answer["result"]
                return BatchResult(
                    done + int(result["done"]),
                    failed + int(result["failed"]),
                    received,
                    result["halted"],
                )
            refused = answer.get("refused")
            detail = str(answer.get("detail", ""))
            if refused != "token":
                return BatchResult(done, failed, received, detail)
            if renewed and got_bytes == 0:
                log.error("downloads refused: %s even with a fresh token", detail)
                return BatchResult(done, failed + len(missing), received, None)
            log.info("the download process's access token was refused: renewing it")
            grant, renewed = self.tokens.renew_rejected(grant), True
            still = {s: size for s, size in missing.items() if self.cache.path_for(s) is None}
            done += len(missing) - len(still)
            missing = still

    def _run(
        self,
        grant: TokenGrant,
        missing: dict[Sha256, int],
        progress: Progress,
        stop: threading.Event,
        done_before: int,
        received_before: int,
    ) -> tuple[dict[str, Any], int]:
        """One process over `missing`: (its last answer, the bytes it received)."""
        request = {
            "base_url": self.base_url,
            "token": grant.access_token,
            "verify": self.verify,
            "user_agent": self.user_agent,
            "timeout_s": self.timeout_s,
            "cache": str(self.cache.root.resolve()),
            "downloads": str(self.downloads_dir.resolve()),
            "parallel": self.parallel,
            "files": [[sha, size] for sha, size in missing.items()],
        }
        process = subprocess.Popen(
            [self.python, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_to,
        )
        self.pid = process.pid
        make_process_idle(process.pid)  # at once, before its imports take CPU time
        assert process.stdin is not None and process.stdout is not None
        answer: dict[str, Any] = {}
        received = 0  # as the process last said (its progress lines are spaced out)
        try:
            try:
                with process.stdin:
                    process.stdin.write(json.dumps(request).encode())
            except BrokenPipeError:
                pass  # it ended at once: its status says why, below
            for message in _lines(process.stdout, stop):
                if "progress" in message:
                    received, files = message["progress"]
                    progress(received_before + received, done_before + files)
                else:
                    answer = message
                    result = message.get("result", message)
                    received = int(result.get("received", received))
            if stop.is_set():
                raise FetchStopped
            status = process.wait()
        finally:
            _end(process)
            self.pid = None
        if not answer:
            why = f"the download process ended with status {status} and no result"
            log.error("%s; the sync retries later", why)
            answer = {"refused": "crashed", "detail": why}
        return answer, received


def _lines(stream: IO[bytes], stop: threading.Event) -> Iterator[dict[str, Any]]:
    """The JSON objects the process writes, one per line, until it closes stdout or `stop`."""
    fd = stream.fileno()
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not stop.is_set():
            if not selector.select(STOP_POLL_S):
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                return
            *whole, pending = (pending + data).split(b"\n")
            for line in whole:
                try:
                    yield json.loads(line)
                except ValueError:
                    log.warning("the download process wrote a line that is not JSON: %r", line)


def _end(process: subprocess.Popen[bytes]) -> None:
    """Stop the process if it still runs (a stop, a bug here); what it wrote is kept."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(TERMINATE_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
