"""`jukebox tenant …` and `jukebox admin …` end to end, as subprocesses against `tenant serve`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant.process import start_serve, stop_serve
from tests.tenant.kiosk import Kiosk

TIMEOUT_S = 60


def jukebox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jukebox", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**os.environ, **(env or {})},
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = data.parent / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_serve(self.data, self.port, self.log)

    def stop(self) -> None:
        stop_serve(self.process)
        self.process = None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `tenant init` and one `tenant serve` for the module (each start costs a second)."""
    port = free_port()
    data = tmp_path_factory.mktemp("cli") / "data"
    init = jukebox(
        "tenant", "init", "--data", str(data), "--slug", "lib-a",
        "--name", "Médiathèques du Sud", "--url", f"http://127.0.0.1:{port}",
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    credentials = data / "admin-lib-a.json"
    assert str(credentials) in init.stdout
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    server = Served(data, port)
    server.start()
    yield server
    server.stop()


def test_an_admin_imports_curates_claims_lists_and_revokes_from_the_command_line(
    served: Served, flac_dir: Path, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    shutil.copytree(flac_dir, music / "album")
    (music / "cover.txt").write_text("not audio")
    env = {"JUKEBOX_ADMIN_CREDENTIALS": str(served.data / "admin-lib-a.json")}

    def admin(*args: str) -> str:
        done = jukebox("admin", *args, env=env)
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done.stdout

    imported = admin("import", str(music))
    assert "[1/4] album/t0.flac: uploaded, new track trk-" in imported
    assert "4 track(s) imported, 0 failed" in imported
    assert "Track 3" in imported and "FRZ032600003" in imported
    again = admin("import", str(music))
    assert "[1/4] album/t0.flac: already stored, existing track trk-" in again
    ids = [line.split()[0] for line in admin("tracks").splitlines() if line.startswith("trk-")]
    assert len(ids) == 4
    assert all(track_id in imported for track_id in ids)

    created = admin(
        "playlist", "create", "fest", "--title", "Festival", "--note", "Live in July",
        "--track", ids[0], ids[1], "--valid-from", "2026-07-01", "--hours", "mon-sat 10:00-19:00",
    )  # fmt: skip
    assert "playlist fest: 2 track(s)" in created
    assert "featured" in admin("playlist", "assign", "fest", "--site", "centre", "--featured")
    listed = admin("playlist", "list")
    assert "fest" in listed and "2026-07-01T00:00:00Z" in listed and "centre" in listed
    shown = admin("playlist", "show", "fest")
    assert "Festival" in shown and "Live in July" in shown and "mon-sat 10:00-19:00" in shown
    assert ids[0] in shown and ids[2] not in shown

    kiosk = Kiosk(f"{served.url}/t/lib-a", time.time)
    code = kiosk.claim_code()
    assert "pending" in admin("devices")
    claimed = admin("claim", code.lower(), "--site", "centre", "--name", "Hall")
    assert f"claimed {kiosk.device_id} for site centre" in claimed
    kiosk.login()
    document = kiosk.playlists().json()
    assert [t["id"] for t in document["playlists"][0]["tracks"]] == ids[:2]
    row = next(line for line in admin("devices").splitlines() if kiosk.device_id in line)
    assert "Hall" in row and "centre" in row and "active" in row and "T" in row  # last contact

    assert f"revoked {kiosk.device_id}" in admin("revoke", kiosk.device_id)
    assert "revoked" in admin("devices")
    assert kiosk.playlists().status_code == 401


def test_admin_errors_name_the_status_and_the_reason(served: Served, tmp_path: Path) -> None:
    credentials = str(served.data / "admin-lib-a.json")

    unknown = jukebox("admin", "--credentials", credentials, "claim", "ABCD-EFGH", "--site", "x")
    assert unknown.returncode == 1
    assert "HTTP 404 not_found: unknown or expired claim code" in unknown.stderr

    bad_track = jukebox(
        "admin", "--credentials", credentials, "playlist", "create", "p", "--title", "P",
        "--track", "trk-nope",
    )  # fmt: skip
    assert bad_track.returncode == 1
    assert "HTTP 422 invalid_request: unknown track(s): trk-nope" in bad_track.stderr

    (tmp_path / "empty").mkdir()
    empty = jukebox("admin", "--credentials", credentials, "import", str(tmp_path / "empty"))
    assert empty.returncode == 1 and "no audio files" in empty.stderr

    closed = f"http://127.0.0.1:{free_port()}"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"url": closed, "tenant": "lib-a", "token": "jkadm_x"}))
    down = jukebox("admin", "--credentials", str(elsewhere), "devices")
    assert down.returncode == 1
    assert f"cannot reach the tenant service at {closed}" in down.stderr

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"url": served.url, "tenant": "lib-a", "token": "jkadm_x"}))
    refused = jukebox("admin", "--credentials", str(wrong), "devices")
    assert refused.returncode == 1
    assert "HTTP 401 invalid_token" in refused.stderr


def test_admin_without_credentials_says_how_to_give_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JUKEBOX_ADMIN_CREDENTIALS"}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no stored login either
    done = subprocess.run(
        [sys.executable, "-m", "jukebox", "admin", "devices"],
        capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False,
    )  # fmt: skip

    assert done.returncode == 2
    assert "--credentials" in done.stderr and "jukebox admin login" in done.stderr
