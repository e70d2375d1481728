"""One media download against the real tenant: resume, refusals, and a SIGKILL mid-file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import requests

from contract.media import MediaCache
from device.ports import TenantHttp
from device.sync.downloader import (
    CHUNK_BYTES,
    Downloader,
    DownloadError,
    DownloadIntegrityError,
)
from tests.sync.conftest import SLUG, Device, Media, sha_of

pytestmark = pytest.mark.timeout(30)


class AlteredHttp:
    """The device's real session, with the request or the answer altered on the way."""

    def __init__(
        self,
        device: Device,
        request: Callable[[dict[str, str]], dict[str, str]] = lambda h: h,
        answer: Callable[[requests.Response], None] = lambda r: None,
    ) -> None:
        self.inner = device.http
        self.base_url = device.http.base_url
        self.request = request
        self.answer = answer

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        sent = self.request(dict(headers or {}))
        response = self.inner.get(path, headers=sent, stream=stream, timeout=timeout)
        self.answer(response)
        return response


def downloader(
    device: Device, http: TenantHttp | None = None, chunk_bytes: int = CHUNK_BYTES
) -> Downloader:
    return Downloader(
        http or device.http, device.cache, device.state_dir / "downloads", chunk_bytes=chunk_bytes
    )


def partial(device: Device, item: Media, data: bytes) -> Path:
    part = device.state_dir / "downloads" / f"{item.sha}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data)
    return part


def test_a_download_lands_in_the_cache_read_only_and_verified(
    device: Device, media: list[Media]
) -> None:
    device.playlist("one", [media[3]])
    path = downloader(device).fetch(media[3].sha, media[3].size)
    assert path == device.cache.path_for(media[3].sha)
    assert device.cache.contains(path) and device.cache.verify(media[3].sha)
    assert path.stat().st_mode & 0o222 == 0
    assert list((device.state_dir / "downloads").iterdir()) == []


def test_when_the_server_ignores_the_range_the_download_starts_over(
    device: Device, media: list[Media]
) -> None:
    device.playlist("norange", [media[2]])
    data = media[2].path.read_bytes()
    partial(device, media[2], b"garbage that a full answer must replace")
    without_range = AlteredHttp(
        device, request=lambda h: {k: v for k, v in h.items() if k != "Range"}
    )
    received: list[int] = []

    path = downloader(device, without_range).fetch(media[2].sha, media[2].size, received.append)

    assert path.read_bytes() == data
    assert sum(received) == len(data)
    [(_, headers, status)] = device.http.media_requests()
    assert status == 200 and "Range" not in headers


def test_a_content_range_that_does_not_match_is_refused(device: Device, media: list[Media]) -> None:
    device.playlist("badrange", [media[2]])
    data = media[2].path.read_bytes()
    part = partial(device, media[2], data[:1000])

    def shift(response: requests.Response) -> None:
        response.headers["Content-Range"] = f"bytes 0-{len(data) - 1}/{len(data)}"

    with pytest.raises(DownloadError, match="Content-Range"):
        downloader(device, AlteredHttp(device, answer=shift)).fetch(media[2].sha, media[2].size)
    assert part.stat().st_size == 0  # restarts from scratch next time
    assert device.cache.path_for(media[2].sha) is None


def test_a_body_longer_than_announced_is_refused_as_soon_as_it_passes_the_size(
    device: Device, media: list[Media]
) -> None:
    device.playlist("long", [media[7]])
    announced = 5000  # the document would say 5000 bytes; the tenant has more

    def hide_length(response: requests.Response) -> None:
        del response.headers["Content-Length"]  # only the byte count can tell now

    received: list[int] = []
    with pytest.raises(DownloadIntegrityError, match="past the announced 5000 bytes"):
        downloader(device, AlteredHttp(device, answer=hide_length), chunk_bytes=4096).fetch(
            media[7].sha, announced, received.append
        )
    assert sum(received) == 4096  # one chunk in, the second one passed the size
    assert not (device.state_dir / "downloads" / f"{media[7].sha}.part").exists()
    assert device.media_dir_entries() == []

    with pytest.raises(DownloadIntegrityError, match="the tenant has"):
        downloader(device).fetch(media[7].sha, announced)  # Content-Length says so at once


def test_a_complete_partial_file_is_verified_without_the_network(
    device: Device, media: list[Media]
) -> None:
    data = media[1].path.read_bytes()
    partial(device, media[1], data)
    path = downloader(device).fetch(media[1].sha, media[1].size)
    assert path.read_bytes() == data and device.http.exchanges == []


def test_a_file_not_assigned_to_the_device_is_a_failed_download(
    device: Device, media: list[Media]
) -> None:
    with pytest.raises(DownloadError, match="404"):
        downloader(device).fetch(media[0].sha, media[0].size)


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from contract.media import MediaCache
    from device.identity.keys import DeviceKey
    from device.sync.downloader import Downloader
    from device.tenant_api.client import TenantClient
    from device.tenant_api.session import TenantSession

    base_url, state_dir, sha, size = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    key = DeviceKey.load(state_dir / "device-key.pem")
    session = TenantSession(TenantClient(base_url), key)
    cache = MediaCache(state_dir / "cache")
    slow = lambda n: time.sleep(0.02)  # a slow library network: 64 KiB every 20 ms
    Downloader(session, cache, state_dir / "downloads", chunk_bytes=64 << 10).fetch(sha, size, slow)
    """
)


def test_sigkill_mid_download_leaves_nothing_in_the_cache_and_the_next_run_resumes(
    device: Device, tmp_path: Path
) -> None:
    data = os.urandom(3 << 20)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    admin = device.tenant.admin(SLUG)
    sha, _ = admin.upload_media(source)
    track, _ = admin.create_track(
        {"sha256": sha, "title": "Long", "artist": "Someone", "duration_ms": 600_000}
    )
    item = Media(track, source)
    device.playlist("big", [item])
    part = device.state_dir / "downloads" / f"{sha}.part"

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            device.http.base_url,
            str(device.state_dir),
            sha,
            str(len(data)),
        ],
        cwd=Path(__file__).parents[2],
    )
    try:
        deadline = time.monotonic() + 15
        while not (part.exists() and part.stat().st_size >= 256 << 10):
            assert child.poll() is None, "the child finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(10)
    kept = part.stat().st_size

    assert 0 < kept < len(data)
    assert device.media_dir_entries() == []  # no partial file where the player looks
    cache = MediaCache(device.cache.root)  # the next boot
    assert cache.path_for(sha_of(data)) is None
    received: list[int] = []
    path = Downloader(device.http, cache, device.state_dir / "downloads").fetch(
        sha_of(data), len(data), received.append
    )
    assert path.read_bytes() == data
    [(_, headers, status)] = device.http.media_requests()
    assert (headers["Range"], status) == (f"bytes={kept}-", 206)
    assert sum(received) == len(data) - kept
