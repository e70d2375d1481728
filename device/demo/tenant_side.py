"""The library network's side of the demo: a local reference tenant and its admin commands.

Everything goes through the same `jukebox tenant` and `jukebox admin` commands a library
would use; their output is shown as it comes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tenant.admin_client import AdminClient
from tenant.process import start_serve, stop_serve

SLUG = "mediatheques-sud"
NAME = "Médiathèques du Sud"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DemoTenant:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.service_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.service_url}/t/{SLUG}"
        self.credentials = folder / f"admin-{SLUG}.json"
        self.process: subprocess.Popen[bytes] | None = None

    def jukebox(self, *args: str, show: bool = True) -> str:
        """Run a `jukebox` command, echoing it and its output like a terminal would."""
        command = [sys.executable, "-m", "jukebox", *args]
        if show:
            print(f"$ jukebox {' '.join(args)}")
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        output = (result.stdout + result.stderr).rstrip()
        if show and output:
            print("\n".join(f"  {line}" for line in output.splitlines()))
        if result.returncode != 0:
            raise RuntimeError(f"jukebox {args[0]} failed ({result.returncode}): {output}")
        return result.stdout

    def admin(self, *args: str, show: bool = True) -> str:
        return self.jukebox("admin", "--credentials", str(self.credentials), *args, show=show)

    def start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.jukebox(
            "tenant", "init", "--data", str(self.folder), "--slug", SLUG, "--name", NAME,
            "--url", self.service_url,
        )  # fmt: skip
        self.process = start_serve(self.folder, self.port, self.folder / "tenant.log")

    def client(self) -> AdminClient:
        return AdminClient.from_file(self.credentials)

    def publish(self, content: Path, damaged: Path) -> None:
        """Import the tracks and curate two playlists for the site 'alcazar'."""
        self.admin("import", str(content))
        with self.client() as admin:
            ids = {t["title"]: t["id"] for t in admin.tracks()}
            # A file damaged at the source, registered through the API (the import command
            # would refuse it): the kiosk must skip it and go on.
            sha256, _ = admin.upload_media(damaged)
            broken, _ = admin.create_track(
                {"sha256": sha256, "title": "Un fichier abîmé", "artist": "Inconnu",
                 "duration_ms": 8000}
            )  # fmt: skip
            festival = [ids[title] for title in FESTIVAL_TITLES]
            local = [ids[LOCAL_TITLES[0]], broken["id"], ids[LOCAL_TITLES[1]]]
            admin.put_playlist(
                "festival-suds-2026", "Festival des Suds 2026", festival,
                note="Les artistes du festival, à écouter avant les concerts du 10 juillet.",
            )  # fmt: skip
            admin.assign("festival-suds-2026", sites=["alcazar"], featured=True)
            admin.put_playlist(
                "scene-locale", "Scène locale : Marseille", local,
                note="Choisie par l'équipe de la médiathèque de l'Alcazar.",
            )  # fmt: skip
            admin.assign("scene-locale", sites=["alcazar"])
        self.admin("playlist", "list")

    def devices(self) -> list[dict[str, Any]]:
        with self.client() as admin:
            return admin.devices()

    def stop(self) -> None:
        stop_serve(self.process)


FESTIVAL_TITLES = (
    "Ouverture sous les platanes",
    "Mistral, mistral",
    "Fête de la musique à l'Estaque",
)
LOCAL_TITLES = ("Rue d'Aubagne", "Minuit au Panier")
