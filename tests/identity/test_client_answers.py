"""TenantClient against answers the real tenant never gives but a library network does:
captive portals, proxies' error pages, dead ports, slow links, clocks days apart.

A tiny scripted HTTP server on a free port plays the network; the tenant's own answers are
covered against the real service in test_enrollment.py.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from device.tenant_api.client import TenantClient
from device.tenant_api.errors import (
    ClaimExpired,
    DeviceRevoked,
    NotClaimed,
    SlowDown,
    TenantError,
    TenantRefused,
    TenantUnreachable,
)

KEY = bytes(range(32))


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Scripted(ThreadingHTTPServer):
    daemon_threads = True
    answer = Answer(200)
    paths: list[str]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out has gone: nothing to report


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        answer = self.server.answer
        time.sleep(answer.delay_s)
        self.send_response_only(answer.status)  # no Date of our own: the answer may carry one
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def network() -> Iterator[Scripted]:
    server = Scripted(("127.0.0.1", 0), Handler)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client_for(server: Scripted, timeout: float = 2.0) -> TenantClient:
    host, port = server.server_address[:2]
    return TenantClient(f"http://{host!s}:{port}/t/lib/", timeout=timeout)


def error_from(server: Scripted, answer: Answer) -> TenantError:
    server.answer = answer
    with pytest.raises(TenantError) as caught:
        client_for(server).enroll(KEY, "0.1.0")
    return caught.value


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (Answer(200, b"<html>Welcome to the library wifi</html>", "text/html"), TenantUnreachable),
        (Answer(201, b'{"status": "pending"}'), TenantUnreachable),
        (Answer(200, b"[1, 2]"), TenantUnreachable),
        (Answer(302, headers={"Location": "http://portal.example/login"}), TenantUnreachable),
        (Answer(502, b"<h1>Bad Gateway</h1>", "text/html"), TenantUnreachable),
        (Answer(503, b'{"error": "temporarily_unavailable"}'), TenantUnreachable),
        (Answer(429, b""), TenantUnreachable),
        (Answer(404, b"no such page", "text/plain"), TenantRefused),
        (
            Answer(400, b'{"error": "invalid_request", "error_description": "bad key"}'),
            TenantRefused,
        ),
        (Answer(400, b'{"error": "authorization_pending"}'), NotClaimed),
        (Answer(400, b'{"error": "slow_down"}'), SlowDown),
        (Answer(400, b'{"error": "expired_token"}'), ClaimExpired),
        (Answer(403, b'{"error": "access_denied"}'), DeviceRevoked),
        (Answer(403, b'{"error": 42}'), TenantRefused),
    ],
    ids=[
        "portal-page",
        "incomplete-json",
        "json-array",
        "portal-redirect",
        "proxy-502",
        "503",
        "429",
        "404-text",
        "400-invalid-request",
        "pending",
        "slow-down",
        "expired",
        "revoked",
        "odd-error-code",
    ],
)
def test_every_answer_becomes_a_typed_result(
    network: Scripted, answer: Answer, kind: type[TenantError]
) -> None:
    error = error_from(network, answer)
    assert type(error) is kind
    assert error.status == answer.status
    assert "/t/lib/v1/enroll" in str(error)
    assert network.paths == ["/t/lib/v1/enroll"]  # the trailing slash of the URL is dropped


def test_a_refusal_carries_its_status_code_and_description(network: Scripted) -> None:
    body = b'{"error": "invalid_request", "error_description": "bad key"}'
    error = error_from(network, Answer(400, body))
    assert (error.status, error.error, error.description) == (400, "invalid_request", "bad key")
    assert "bad key" in str(error)


def test_a_closed_port_is_unreachable_with_the_reason() -> None:
    with pytest.raises(TenantUnreachable, match="connection refused"):
        TenantClient("http://127.0.0.1:9/t/lib", timeout=2).enroll(KEY, "0.1.0")


def test_a_tenant_slower_than_the_timeout_is_unreachable(network: Scripted) -> None:
    network.answer = Answer(200, b"{}", delay_s=1.0)
    started = time.monotonic()
    with pytest.raises(TenantUnreachable, match="timed out"):
        client_for(network, timeout=0.2).enroll(KEY, "0.1.0")
    assert time.monotonic() - started < 0.9


def test_the_tenants_date_corrects_a_clock_days_off_and_small_drift_is_ignored(
    network: Scripted,
) -> None:
    days = 3 * 86400
    network.answer = Answer(
        400,
        b'{"error": "authorization_pending"}',
        headers={"Date": email.utils.formatdate(time.time() + days, usegmt=True)},
    )
    client = client_for(network)
    with pytest.raises(NotClaimed):
        client.enroll(KEY, "0.1.0")
    assert client.server_time() - time.time() == pytest.approx(days, abs=3)

    network.answer = Answer(
        400,
        b'{"error": "authorization_pending"}',
        headers={"Date": email.utils.formatdate(time.time() + 2, usegmt=True)},
    )
    with pytest.raises(NotClaimed):
        client.enroll(KEY, "0.1.0")
    assert client.clock_offset == 0.0


def test_a_tenant_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        TenantClient("tenant.example/t/lib")
