"""Downloads cut mid-body by a real TCP relay in front of the real tenant: every byte that
arrived is kept, the next attempt sends a Range from it, and the sync's backoff starts over
when a cut pass made progress."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import pytest
import requests

from device.sync.downloader import Downloader, ServerTrouble
from device.sync.fetchers import ThreadFetcher
from tests.sync.conftest import SLUG, Device, Media

pytestmark = pytest.mark.timeout(30)


class CuttingRelay:
    """Relays HTTP to the tenant, one request per connection; the n-th media answer is cut
    after `cuts[n]` body bytes (None: relayed whole). Remembers every request head."""

    def __init__(self, upstream: str, cuts: list[int | None]) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname is not None and parts.port is not None
        self.upstream = (parts.hostname, parts.port)
        self.cuts = list(cuts)
        self.heads: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def media_heads(self) -> list[str]:
        return [h for h in self.heads if " /t/" in h and "/v1/media/" in h.split("\r\n")[0]]

    def close(self) -> None:
        self.server.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as up:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            text = head.decode("latin-1")
            self.heads.append(text)
            lines = [
                line
                for line in text.split("\r\n\r\n")[0].split("\r\n")
                if not line.lower().startswith("connection:")
            ]
            up.sendall(("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1"))
            budget = None
            if "/v1/media/" in lines[0] and self.cuts:
                budget = self.cuts.pop(0)
            answer = b""
            while b"\r\n\r\n" not in answer:
                data = up.recv(65536)
                if not data:
                    client.sendall(answer)
                    return
                answer += data
            header, _, body = answer.partition(b"\r\n\r\n")
            client.sendall(header + b"\r\n\r\n")
            while True:
                if budget is not None:
                    body = body[:budget]
                    budget -= len(body)
                client.sendall(body)
                if budget == 0:
                    return  # closed mid-body: the kiosk sees a broken connection
                body = up.recv(65536)
                if not body:
                    return


class RelayedHttp:
    """The device's TenantHttp, but every request goes through the relay with its token."""

    def __init__(self, device: Device, relay: CuttingRelay) -> None:
        self.device = device
        self.base_url = f"http://127.0.0.1:{relay.port}/t/{SLUG}"
        self.session = requests.Session()

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        token = self.device.session.ensure_token().access_token
        sent = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return self.session.get(self.base_url + path, headers=sent, stream=stream, timeout=timeout)


@contextlib.contextmanager
def relay(device: Device, cuts: list[int | None]) -> Iterator[tuple[CuttingRelay, RelayedHttp]]:
    cutting = CuttingRelay(device.tenant.service_url, cuts)
    http = RelayedHttp(device, cutting)
    try:
        yield cutting, http
    finally:
        http.session.close()
        cutting.close()


def _range_of(head: str) -> str | None:
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "range":
            return value.strip()
    return None


@pytest.mark.parametrize("where", ["one byte", "half", "all but one byte"])
def test_a_small_file_cut_mid_body_keeps_what_arrived_and_resumes_with_a_range(
    device: Device, media: list[Media], where: str
) -> None:
    item = media[2]
    assert item.size < 1 << 20  # smaller than one download chunk: the case that never resumed
    cut = {"one byte": 1, "half": item.size // 2, "all but one byte": item.size - 1}[where]
    device.playlist("cut", [item])
    content = item.tenant_file(device.tenant).read_bytes()
    with relay(device, [cut, None]) as (cutting, http):
        downloader = Downloader(http, device.cache, device.state_dir / "downloads")
        with pytest.raises(ServerTrouble, match=f"interrupted at {cut} of {item.size} bytes"):
            downloader.fetch(item.sha, item.size)
        assert downloader.part_path(item.sha).read_bytes() == content[:cut]
        path = downloader.fetch(item.sha, item.size)
        heads = cutting.media_heads()
    assert [_range_of(h) for h in heads] == [None, f"bytes={cut}-"]
    assert path.read_bytes() == content and device.cache.verify(item.sha)
    assert not downloader.part_path(item.sha).exists()


def test_a_sync_pass_cut_after_some_bytes_starts_its_backoff_over(
    device: Device, media: list[Media]
) -> None:
    item = media[4]
    device.playlist("flaky", [item])
    with relay(device, [0, item.size // 3, None]) as (cutting, http):
        syncer = device.syncer(parallel_downloads=1)
        syncer.http = http
        syncer.downloader = Downloader(http, device.cache, device.state_dir / "downloads")
        syncer.fetcher = ThreadFetcher(syncer.downloader, parallel=1)
        for _ in range(6):
            syncer.backoff.next_delay()  # a long outage came before: the ceiling is at minutes
        nothing = syncer.sync_once()
        assert nothing.outcome == "offline" and nothing.bytes_downloaded == 0
        syncer.delay_after(nothing)
        assert syncer.backoff.failures == 7  # no progress: the backoff keeps climbing
        some = syncer.sync_once()
        assert some.outcome == "offline" and some.bytes_downloaded == item.size // 3
        assert syncer.delay_after(some) <= syncer.backoff.base_s  # progress: retried soon
        assert syncer.backoff.failures == 1
        done = syncer.sync_once()
    assert done.outcome == "activated" and done.bytes_downloaded == item.size - item.size // 3
    assert [_range_of(h) for h in cutting.media_heads()] == [
        None,
        None,
        f"bytes={item.size // 3}-",
    ]
    assert syncer.delay_after(done) == syncer.interval_s
