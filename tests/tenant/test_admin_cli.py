"""`jukebox tenant …` and `jukebox admin …` end to end, as subprocesses against `tenant serve`,
on each database (`databases`: the commands are given its `--database-url`)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tenant.broker.process import free_port
from tenant.process import stop_serve
from tests.support.databases import Databases
from tests.support.waiting import eventually
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


class Served:
    """`jukebox tenant serve` over `data`, on `database_url` (None: the SQLite default)."""

    def __init__(self, data: Path, port: int, database_url: str | None = None) -> None:
        self.data = data
        self.port = port
        self.database_url = database_url
        self.database = ("--database-url", database_url) if database_url else ()
        self.url = f"http://127.0.0.1:{port}"
        self.log = data.parent / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def init(self, *args: str, env: dict[str, str] | None = None) -> str:
        """`jukebox tenant init` of lib-a, served here; its output."""
        done = jukebox(
            "tenant", "init", "--data", str(self.data), *self.database, "--slug", "lib-a",
            "--url", self.url, *args, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jukebox", "tenant", "serve", "--data", str(self.data),
                 *self.database, "--port", str(self.port)],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        eventually(self.answers, TIMEOUT_S, f"tenant serve (log: {self.log})")

    def answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        stop_serve(self.process)
        self.process = None


@contextmanager
def serving(
    databases: Databases, folder: Path, *init: str, env: dict[str, str] | None = None
) -> Iterator[tuple[Served, str]]:
    """A new database, `tenant init` (with `init`) and `tenant serve`; and init's output."""
    data = folder / "data"
    url = databases.new(data)
    server = Served(data, free_port(), url)
    try:
        output = server.init(*init, env=env)
        server.start()
        yield server, output
    finally:
        server.stop()
        databases.drop(url)
    databases.check_no_default(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[Served]:
    """One `tenant init` and one `tenant serve` for the module (each start costs a second)."""
    folder = tmp_path_factory.mktemp(f"cli-{databases.kind}")
    with serving(databases, folder, "--name", "Médiathèques du Sud") as (server, output):
        credentials = server.data / "admin-lib-a.json"
        assert str(credentials) in output
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        yield server


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
