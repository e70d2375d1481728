"""Documents the real tenant never sends, served by a tiny local server to the real syncer:
each is refused as a whole, in one log line, and the kiosk keeps what it plays."""

from __future__ import annotations

import copy
import http.server
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from contract.media import MediaCache
from device.events import Event, LibraryUpdated
from device.sync.document import parse_document
from device.sync.source import TenantContentSource
from device.sync.store import LIBRARY_FILE, ActiveDocument, save_active
from device.sync.syncer import Syncer

pytestmark = pytest.mark.timeout(30)


class Crafted(http.server.BaseHTTPRequestHandler):
    """Answers GET with whatever the test put in `server.answer`: (headers, body chunks)."""

    def do_GET(self) -> None:
        headers, chunks = self.server.answer  # type: ignore[attr-defined]
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        chunked = "Content-Length" not in headers
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in chunks:
                if chunked:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    self.wfile.write(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the device hung up on a document too large: that is the point

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PlainHttp:
    """TenantHttp without credentials, for the crafted server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def get(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float = 30.0,
    ) -> requests.Response:
        return self.session.get(
            self.base_url + path, headers=headers, stream=stream, timeout=timeout
        )


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Crafted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def valid_document(base_path: str, flac: Path, cache: MediaCache) -> dict[str, Any]:
    sha = cache.add_file(flac)
    track = {
        "id": f"trk-{sha[:16]}",
        "title": "Ouverture",
        "artist": "Orchestre",
        "album": None,
        "isrc": None,
        "duration_ms": 1500,
        "sha256": sha,
        "size": flac.stat().st_size,
        "url": f"{base_path}/v1/media/{sha}",
    }
    playlist = {
        "id": "kept",
        "title": "What plays now",
        "note": "",
        "revision": "r1",
        "valid_from": None,
        "valid_until": None,
        "hours": [],
        "tracks": [track],
    }
    return {"revision": "doc-1", "featured": "kept", "playlists": [playlist]}


def hostile(doc: dict[str, Any]) -> list[tuple[str, dict[str, str], list[bytes]]]:
    def altered(field: str, value: object) -> bytes:
        changed = copy.deepcopy(doc)
        changed["revision"] = "doc-2"
        changed["playlists"][0]["tracks"][0][field] = value
        return json.dumps(changed).encode()

    sha = doc["playlists"][0]["tracks"][0]["sha256"]
    return [
        (
            "playlists[0].tracks[0].url: expected the path",
            {},
            [altered("url", f"http://evil.example/t/sud/v1/media/{sha}")],
        ),
        (
            "playlists[0].tracks[0].sha256: expected 64 hex digits",
            {},
            [altered("sha256", "../../etc/passwd")],
        ),
        ("playlists[0].tracks[0].size: expected a positive integer", {}, [altered("size", 0)]),
        ("malformed JSON", {}, [b'{"revision": "doc-3", "playlists": [']),
        ("malformed JSON", {"Content-Type": "text/html"}, [b"<html>Wi-Fi login</html>"]),
        ("larger than the 1048576 bytes", {}, [b" " * (64 << 10)] * 40),  # chunked, 2.5 MiB
        ("announced 5242880 bytes", {"Content-Length": str(5 << 20)}, [b"{}"]),
    ]


def test_hostile_documents_are_refused_in_one_line_and_the_library_is_kept(
    server: http.server.ThreadingHTTPServer,
    tmp_path: Path,
    flac_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base_url = f"http://127.0.0.1:{server.server_address[1]}/t/sud"
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    cache = MediaCache(state_dir / "cache")
    doc = valid_document("/t/sud", flac_dir / "t0.flac", cache)
    active = ActiveDocument(
        parse_document(json.dumps(doc).encode(), base_url), base_url, '"doc-1"', datetime.now(UTC)
    )
    save_active(state_dir, active)
    saved = (state_dir / LIBRARY_FILE).read_bytes()
    before = TenantContentSource(state_dir, cache).load()
    assert [p.id for p in before.playlists] == ["kept"]
    events: list[Event] = []
    syncer = Syncer(PlainHttp(base_url), cache, state_dir, events.append, 1 << 30, 300)

    for expected, headers, body in hostile(doc):
        server.answer = (headers, body)  # type: ignore[attr-defined]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="device"):
            result = syncer.sync_once()
        assert result.outcome == "refused", expected
        assert expected in result.detail
        [record] = caplog.records
        assert record.levelno == logging.ERROR
        assert expected in record.getMessage() and "\n" not in record.getMessage()
        assert "keeping the current content" in record.getMessage()

    assert not [e for e in events if isinstance(e, LibraryUpdated)]
    assert (state_dir / LIBRARY_FILE).read_bytes() == saved
    assert TenantContentSource(state_dir, cache).load() == before
