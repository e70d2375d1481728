"""Downloads in a process of their own (device/sync/fetch_process.py), against the real tenant:
the files arrive verified, the process is idle-class, a stop ends it, a refused token is
renewed, a revocation reaches the session, and a process that dies halts the pass."""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from device.domain import Sha256
from device.sync.fetch_process import ProcessFetcher, TokenSource
from device.sync.fetchers import FetchStopped
from device.sync.syncer import DOWNLOADS_DIR
from device.tenant_api.client import TokenGrant
from device.tenant_api.errors import DeviceRevoked
from device.tenant_api.session import TenantSession
from tests.sync.conftest import SLUG, Device, Media


def fetcher_for(
    device: Device, tokens: TokenSource | None = None, python: str = sys.executable
) -> ProcessFetcher:
    """The fetcher the daemon builds (device/link.py), for this test's kiosk."""
    session = device.session
    return ProcessFetcher(
        tokens or session,
        session.base_url,
        device.cache,
        device.state_dir / DOWNLOADS_DIR,
        python=python,
    )


def test_a_pass_downloads_through_the_process_and_activates(
    device: Device, media: list[Media]
) -> None:
    device.playlist("process", media[:4])
    syncer = device.syncer(fetcher=fetcher_for(device))
    result = syncer.sync_once()
    assert result.outcome == "activated", result
    assert result.files_downloaded == 4
    assert result.bytes_downloaded == sum(m.size for m in media[:4])
    for m in media[:4]:
        cached = device.cache.path_for(m.sha)
        assert cached is not None and cached.read_bytes() == m.path.read_bytes()
    assert not device.http.media_requests()  # none went through the daemon's own HTTP
    downloading = [p for p in device.progress() if p.state == "downloading"]
    assert downloading[0].files_total == 4
    assert device.libraries()[-1].total_tracks == 4


class SilentServer:
    """Accepts connections and never answers: a download that hangs until stopped."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.listen(8)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/t/{SLUG}"
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)
            self.accepted.set()

    def close(self) -> None:
        self.socket.close()
        for connection in self.connections:
            connection.close()


def test_the_process_is_idle_class_and_a_stop_ends_it(device: Device, media: list[Media]) -> None:
    server = SilentServer()
    fetcher = ProcessFetcher(
        device.session, server.url, device.cache, device.state_dir / DOWNLOADS_DIR
    )
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def fetch() -> None:
        try:
            fetcher.fetch_all({m.sha: m.size for m in media[:2]}, lambda r, d: None, stop)
        except BaseException as exc:
            outcome["raised"] = exc

    thread = threading.Thread(target=fetch)
    thread.start()
    try:
        assert server.accepted.wait(30), "the download process never connected"
        pid = fetcher.pid
        assert pid is not None
        tasks = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        assert len(tasks) >= 2  # the process's main thread and its download threads
        assert {os.sched_getscheduler(t) for t in tasks} == {os.SCHED_IDLE}
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the test process is untouched
        stop.set()
        thread.join(15)
        assert not thread.is_alive()
        assert isinstance(outcome.get("raised"), FetchStopped)
        with pytest.raises(ProcessLookupError):  # ended, and reaped
            os.kill(pid, 0)
    finally:
        stop.set()
        thread.join(15)
        server.close()


class RefusedFirst:
    """The session, but the first token handed out is one the tenant never issued."""

    def __init__(self, session: TenantSession) -> None:
        self.session = session
        self.rejected: list[str] = []

    def ensure_token(self) -> TokenGrant:
        return dataclasses.replace(self.session.ensure_token(), access_token="not-a-token")

    def renew_rejected(self, rejected: TokenGrant) -> TokenGrant:
        self.rejected.append(rejected.access_token)
        return self.session.ensure_token()


def test_a_refused_token_is_renewed_and_the_files_still_arrive(
    device: Device, media: list[Media]
) -> None:
    device.playlist("token", media[:3])  # the tenant serves a kiosk only its playlists' files
    tokens = RefusedFirst(device.session)
    fetcher = fetcher_for(device, tokens)
    missing = {m.sha: m.size for m in media[:3]}
    batch = fetcher.fetch_all(missing, lambda r, d: None, threading.Event())
    assert tokens.rejected == ["not-a-token"]  # the tenant answered 401 to it, for real
    assert (batch.done, batch.failed, batch.halted) == (3, 0, None)
    assert all(device.cache.path_for(sha) is not None for sha in missing)


def test_a_revocation_seen_by_the_process_reaches_the_session(
    device: Device, media: list[Media]
) -> None:
    """The tenant refuses a revoked kiosk's token (401); the renewal learns why (403)."""
    device.playlist("revoked", media[:1])
    device.session.ensure_token()
    device.tenant.revoke(SLUG, device.device_id)
    fetcher = fetcher_for(device)
    with pytest.raises(DeviceRevoked):
        fetcher.fetch_all({media[0].sha: media[0].size}, lambda r, d: None, threading.Event())
    with pytest.raises(DeviceRevoked):  # remembered: no request leaves the daemon now
        device.session.ensure_token()


def test_a_process_that_dies_halts_the_pass_and_the_daemon_goes_on(
    device: Device, media: list[Media], tmp_path: Path
) -> None:
    crash = tmp_path / "crash"
    crash.write_text("#!/bin/sh\nexit 3\n")
    crash.chmod(0o755)
    fetcher = fetcher_for(device, python=str(crash))
    missing = {Sha256(m.sha): m.size for m in media[:2]}
    batch = fetcher.fetch_all(missing, lambda r, d: None, threading.Event())
    assert batch.done == 0
    assert batch.halted is not None and "status 3" in batch.halted
    syncer = device.syncer(fetcher=fetcher)
    device.playlist("crash", media[:2])
    result = syncer.sync_once()
    assert result.outcome == "offline"  # retried with backoff, like an unreachable tenant
    assert "status 3" in result.detail


def test_the_process_is_idle_class_from_its_start_not_only_after_its_imports(
    device: Device, media: list[Media], tmp_path: Path
) -> None:
    """The parent sets the class as it starts the process: the worker's imports (0.3 s of CPU
    on a busy machine) once ran at the sync thread's priority beside the core and mpv. A
    stand-in that never lowers itself shows what the parent set."""
    stat = tmp_path / "stat"
    worker = tmp_path / "worker"
    worker.write_text(f"#!/bin/sh\nsleep 0.3\ncat /proc/$$/stat > {stat}\nexit 3\n")
    worker.chmod(0o755)
    fetcher = fetcher_for(device, python=str(worker))
    fetcher.fetch_all({Sha256(media[0].sha): media[0].size}, lambda r, d: None, threading.Event())
    fields = stat.read_text().rsplit(")", 1)[1].split()  # proc(5) fields from the 3rd on
    assert int(fields[41 - 3]) == os.SCHED_IDLE  # "policy"
    assert int(fields[19 - 3]) == 19  # "nice"
