"""The download process: `python -m device.sync.fetch_worker`, started by ProcessFetcher.

It runs in the idle scheduling class (ProcessFetcher puts it there as it starts), reads one
JSON request on stdin (the tenant, an access token, the cache, the files), fetches the files
with the kiosk's own Downloader threads (which inherit the class) and writes one JSON object
per line on stdout: ``{"progress": [bytes, files_done]}`` while it works, then
``{"result": {...}}``, or ``{"refused": "token", "detail": ...}`` when the tenant turned the
token away (it expired, or the kiosk was revoked: the daemon's renewal tells which). Its log
goes to stderr (the daemon's journal). The token comes on stdin, never in argv, which every
process on the kiosk can read.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import requests

from contract.media import MediaCache
from device.domain import Sha256
from device.platform.logs import setup_logging
from device.sync.downloader import Downloader
from device.sync.fetchers import ThreadFetcher
from device.tenant_api.client import TenantClient
from device.tenant_api.errors import TenantError

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.1  # the sync posts progress at most every 0.25 s anyway


class TokenRejected(TenantError):
    """The tenant answered 401 to the token the daemon handed over: it must renew it."""


class BearerHttp:
    """device.ports.TenantHttp with a fixed access token: renewing it is the daemon's job."""

    def __init__(self, client: TenantClient, token: str) -> None:
        self.client = client
        self.base_url = client.base_url
        self._token = token

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        merged = {**(headers or {}), "Authorization": f"Bearer {self._token}"}
        response = self.client.request("GET", path, headers=merged, stream=stream, timeout=timeout)
        if response.status_code == 401:
            response.close()
            raise TokenRejected(f"GET {path}: the tenant refused the access token", status=401)
        return response


class Reporter:
    """Writes the result lines; the download threads share it.

    Progress goes out at most every PROGRESS_EVERY_S: each line costs the daemon's sync
    thread a JSON decode under the interpreter lock, and one per chunk (about 100 a second on
    a fast network) was as much lock time as the play publisher's whole flush.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.next_progress = 0.0
        self.received = 0  # the latest count, sent or not: the last line carries it

    def progress(self, received: int, done: int) -> None:
        self.received = received
        now = time.monotonic()
        if now >= self.next_progress:
            self.next_progress = now + PROGRESS_EVERY_S
            self.send({"progress": [received, done]})

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        with self.lock:
            self.out.write(line)
            self.out.flush()


def run(request: dict[str, Any], reporter: Reporter) -> int:
    """Fetch what `request` names; the exit status (0 also when files failed: see the result)."""
    client = TenantClient(
        request["base_url"],
        timeout=float(request["timeout_s"]),
        verify=request["verify"],
        user_agent=request["user_agent"],
    )
    downloader = Downloader(
        BearerHttp(client, request["token"]),
        MediaCache(Path(request["cache"])),
        Path(request["downloads"]),
        timeout_s=float(request["timeout_s"]),
    )
    missing = {Sha256(sha): int(size) for sha, size in request["files"]}
    log.info(
        "download process %d: %d file(s), %.1f MB to fetch",
        os.getpid(),
        len(missing),
        sum(missing.values()) / 1e6,
    )
    fetcher = ThreadFetcher(downloader, int(request["parallel"]))
    try:
        batch = fetcher.fetch_all(
            missing,
            reporter.progress,
            threading.Event(),  # the daemon stops this process with SIGTERM
        )
    except TokenRejected as exc:
        reporter.send({"refused": "token", "detail": str(exc), "received": reporter.received})
        return 0
    result = {
        "done": batch.done,
        "failed": batch.failed,
        "received": batch.received,
        "halted": batch.halted,
    }
    reporter.send({"result": result})
    return 0


def main() -> int:
    setup_logging()  # idle-class already: ProcessFetcher made it so when it started it
    try:
        request = json.loads(sys.stdin.buffer.read())
    except ValueError as exc:
        log.error("download process: the request on stdin is not JSON: %s", exc)
        return 2
    return run(request, Reporter(sys.stdout.buffer))


if __name__ == "__main__":
    sys.exit(main())
