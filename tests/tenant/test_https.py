"""HTTPS on the API as the production unit serves it (`jukebox tenant serve --certfile
--keyfile`): a client that trusts the network's CA gets answers; plain HTTP gets none; the
service stops promptly while a client keeps its connection open."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tenant.broker.process import free_port
from tenant.broker.tls import make_broker_tls
from tenant.cli import STOP_GRACE_S
from tenant.setup import init_tenant
from tests.support.waiting import eventually

SLUG = "lib-a"
STOP_LIMIT_S = 20  # the unit's TimeoutStopSec: systemd kills the service after it


def test_the_api_answers_over_https_to_a_client_that_trusts_its_ca_and_never_in_clear(
    tmp_path: Path,
) -> None:
    data, port = tmp_path / "tenant", free_port()
    token = init_tenant(data, SLUG, "Library network A")
    tls = make_broker_tls(tmp_path / "tls", ("127.0.0.1",))  # a CA made for the test
    ca = str(tls.ca_file)
    url = f"https://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "jukebox", "tenant", "serve", "--data", str(data),
             "--port", str(port), "--certfile", str(tls.cert_file), "--keyfile", str(tls.key_file)],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    client = requests.Session()  # kept open, as a kiosk's or an administrator's

    def health() -> requests.Response | None:
        assert process.poll() is None, log.read_text()
        try:
            return client.get(f"{url}/healthz", verify=ca, timeout=5)
        except requests.ConnectionError:
            return None

    try:
        assert eventually(health, timeout=30, what="the service over HTTPS").status_code == 200
        playlists = client.get(
            f"{url}/t/{SLUG}/v1/admin/playlists",
            headers={"Authorization": f"Bearer {token}"},
            verify=ca,
            timeout=10,
        )
        assert playlists.status_code == 200 and playlists.json() == []
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        with pytest.raises(requests.exceptions.SSLError):  # the system's CAs do not know it
            requests.get(f"{url}/healthz", timeout=10)

        started = time.monotonic()
        process.terminate()  # systemctl stop, with the client's connection still open
        # uvicorn ends by the signal it was sent, which systemd counts as a clean stop
        assert process.wait(timeout=STOP_LIMIT_S) in (0, -signal.SIGTERM), log.read_text()
        assert time.monotonic() - started < STOP_GRACE_S + 3
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
            process.wait()
