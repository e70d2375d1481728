"""The library network's side of the demo: a local reference tenant, its admin commands and,
with `broker=True`, its MQTT broker and ingester.

Everything goes through the same commands a library would use (docs/tenant.md): `jukebox
tenant init`, `user add`, `broker-setup`, `serve`, `ingest`, `jukebox admin …`, and mosquitto
run on the
configuration `broker-setup` wrote (TLS with a CA made for the demo, dynamic security: every
claimed kiosk gets its own account, live). The network administrator gives a curator
(`claire`, for the site alcazar) and a technician (`karim`) their accounts; each logs in with
`jukebox admin login` on their own "computer" (a config directory of their own) and does their
part with their own token: claire imports, curates and pushes, karim claims the kiosk and
watches its status. Commands and their output are shown as they come, prefixed with who types
them.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.sim.process import wait_for
from tenant.admin_cli import ENV_CREDENTIALS
from tenant.admin_client import AdminClient
from tenant.broker.process import BrokerError, MosquittoProcess, dynsec_plugin_path, free_port
from tenant.broker.setup import CONFIG_FILE
from tenant.logins import LOGINS_FILE, stored_credentials
from tenant.process import start_serve, stop_serve
from tenant.staff_cli import ENV_LOGIN_PASSWORD

SLUG = "mediatheques-sud"
NAME = "Médiathèques du Sud"
BROKER_HOST = "127.0.0.1"  # what the service, the ingester and the kiosk connect to
INGESTER_ID = "jk-ingest-demo"
STAFF_SITE = "alcazar"
CURATOR = "claire"  # imports, curates, pushes for alcazar
TECHNICIAN = "karim"  # claims kiosks, watches their status
Json = dict[str, Any]


def command_line(*args: str) -> str:
    """As one would type it: `--name "Kiosque de l'entrée"` rather than shlex's '"'"'."""
    return " ".join(
        f'"{arg}"' if "'" in arg and not set(arg) & set('"$`\\!') else shlex.quote(arg)
        for arg in args
    )


def broker_problem() -> str | None:
    """Why the demo cannot run a broker here (mosquitto or its plugin missing), or None."""
    if shutil.which("mosquitto") is None and shutil.which("mosquitto", path="/usr/sbin") is None:
        return (
            "mosquitto is not installed: scripts/demo installs it when run as root, or run "
            "`sudo apt-get install mosquitto mosquitto-clients`"
        )
    try:
        dynsec_plugin_path()
    except BrokerError as exc:
        return str(exc)
    return None


class DemoTenant:
    def __init__(self, folder: Path, *, broker: bool = False) -> None:
        self.folder = folder
        self.port = free_port()
        self.service_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.service_url}/t/{SLUG}"
        self.credentials = folder / f"admin-{SLUG}.json"
        self.broker_folder = folder / "broker"
        self.broker_port = free_port() if broker else None
        self.process: subprocess.Popen[bytes] | None = None
        self.mosquitto: MosquittoProcess | None = None
        self.ingester: subprocess.Popen[bytes] | None = None
        self.passwords: dict[str, str] = {}  # the staff's, for the web console

    @property
    def ca_file(self) -> Path | None:
        """The demo CA that signed the broker's certificate: the kiosk's `tenant.ca_file`."""
        return self.broker_folder / "tls" / "ca.pem" if self.broker_port else None

    def home(self, person: str) -> Path:
        """A staff member's config directory: their own computer, as far as tokens go."""
        return self.folder / "people" / person

    def jukebox(
        self, *args: str, show: bool = True, check: bool = True, person: str | None = None,
        env: dict[str, str] | None = None,
    ) -> int:  # fmt: skip
        """Run a `jukebox` command, echoing it and its output like a terminal would; its exit
        status (`check`: a failure raises). `person`: a staff member runs it with the token
        of their `jukebox admin login`; otherwise the administrator's credentials file."""
        return self._run(args, show, check, person, env)[0]

    def _run(
        self, args: tuple[str, ...], show: bool, check: bool, person: str | None,
        extra: dict[str, str] | None,
    ) -> tuple[int, str]:  # fmt: skip
        command = [sys.executable, "-m", "jukebox", *args]
        if show:
            print(f"{person or ''}$ {command_line('jukebox', *args)}")
        env = {**os.environ, **(extra or {}), ENV_CREDENTIALS: str(self.credentials)}
        if person is not None:
            env["XDG_CONFIG_HOME"] = str(self.home(person))
            del env[ENV_CREDENTIALS]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        output = (result.stdout + result.stderr).rstrip()
        if show and output:
            print("\n".join(f"  {line}" for line in output.splitlines()))
        if check and result.returncode != 0:
            raise RuntimeError(f"jukebox {args[0]} failed ({result.returncode}): {output}")
        return result.returncode, output

    def admin(
        self, *args: str, show: bool = True, check: bool = True, person: str | None = None
    ) -> int:
        return self.jukebox("admin", *args, show=show, check=check, person=person)

    def add_staff(self) -> None:
        """The administrator makes a curator's and a technician's accounts; each logs in."""
        where = ("tenant", "user", "--data", str(self.folder), "--tenant", SLUG)
        for person, role, sites in ((CURATOR, "curator", ["--site", STAFF_SITE]),
                                    (TECHNICIAN, "technician", [])):  # fmt: skip
            _, output = self._run((*where, "add", person, "--role", role, *sites), True, True,
                                  None, None)  # fmt: skip
            found = re.search(r"password \(shown once\): (\S+)", output)
            if found is None:
                raise RuntimeError(f"no password in the output of user add: {output}")
            self.passwords[person] = found[1]
            self._run(
                ("admin", "login", self.url, "--user", person, "--token-name", "demo laptop"),
                True, True, person, {ENV_LOGIN_PASSWORD: found[1]},
            )  # fmt: skip

    def start(self) -> None:
        """Init the tenant, then start its broker, service and ingester (stop() in any case)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        mqtt = ["--mqtt-host", BROKER_HOST, "--mqtt-port", str(self.broker_port)]
        self.jukebox(
            "tenant", "init", "--data", str(self.folder), "--slug", SLUG, "--name", NAME,
            "--url", self.service_url, *(mqtt if self.broker_port else ()),
        )  # fmt: skip
        print(f"$ export {ENV_CREDENTIALS}={shlex.quote(str(self.credentials))}")
        if self.broker_port:
            self._start_broker(self.broker_port)
        log = self.folder / "tenant.log"
        print(f"$ jukebox tenant serve --data {shlex.quote(str(self.folder))} --port {self.port} &")
        self.process = start_serve(self.folder, self.port, log)
        print(f"  serving {self.url}; log: {log}")
        if self.broker_port:
            self._start_ingester()

    def _start_broker(self, port: int) -> None:
        setup = [
            "tenant", "broker-setup", "--data", str(self.folder),
            "--output", str(self.broker_folder), "--port", str(port), "--bind", BROKER_HOST,
            "--host", BROKER_HOST, "--tls-host", BROKER_HOST, "--tls-host", "localhost",
        ]  # fmt: skip
        if os.geteuid() == 0:  # mosquitto would switch to the `mosquitto` user, locked out of here
            setup += ["--user", getpass.getuser()]
        self.jukebox(*setup)
        config = self.broker_folder / CONFIG_FILE
        self.mosquitto = MosquittoProcess(
            self.broker_folder, port=port, host=BROKER_HOST, config=config
        )
        print(f"$ mosquitto -c {shlex.quote(str(config))} &")
        self.mosquitto.start()
        print(f"  listening on {BROKER_HOST}:{port} (TLS); log: {self.mosquitto.log_file}")

    def _start_ingester(self) -> None:
        args = ["tenant", "ingest", "--data", str(self.folder), "--client-id", INGESTER_ID]
        print(f"$ {command_line('jukebox', *args)} &")
        log = self.folder / "ingest.log"
        with open(log, "ab") as output:
            self.ingester = subprocess.Popen(
                [sys.executable, "-m", "jukebox", *args],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        ingester = self.ingester

        def connected() -> bool:
            if ingester.poll() is not None:
                raise RuntimeError(f"the ingester exited with {ingester.returncode}; see {log}")
            return f"ingester {INGESTER_ID} connected" in log.read_text(errors="replace")

        wait_for(connected, 30, f"the ingester to connect to the broker (see {log})")
        print(f"  connected to the broker, storing plays and status; log: {log}")

    def client(self, person: str | None = None) -> AdminClient:
        """The administrator's API client, or a staff member's with their own token."""
        if person is None:
            return AdminClient.from_file(self.credentials)
        logins = self.home(person) / "jukebox" / LOGINS_FILE
        return AdminClient(stored_credentials(self.url, logins))

    def publish(self, content: Path, damaged: Path) -> None:
        """The curator imports the tracks and curates two playlists for the site 'alcazar'."""
        self.admin("import", str(content), person=CURATOR)
        with self.client(CURATOR) as admin:
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
        self.admin("playlist", "list", person=CURATOR)

    def devices(self) -> list[dict[str, Any]]:
        with self.client(TECHNICIAN) as technician:
            return technician.devices()

    def status(self, device_id: str) -> Json:
        """The kiosk as the tenant sees it (`jukebox admin status`, as data)."""
        with self.client(TECHNICIAN) as admin:
            return admin.status([device_id])[0]

    def wait_status(
        self, device_id: str, predicate: Callable[[Json], bool], timeout: float
    ) -> bool:
        """Poll the kiosk's status at the tenant until `predicate` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate(self.status(device_id)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.25)
        return True

    def plays_stored(self) -> int:
        """How many plays the ingester stored for this tenant."""
        with self.client() as admin:
            return sum(group["plays"] for group in admin.plays("device")["groups"])

    def stop(self) -> None:
        """Stop whatever was started, each even if another fails: service, ingester, broker."""
        try:
            stop_serve(self.process)
        finally:
            try:
                stop_serve(self.ingester)  # terminate, wait, kill: the same for any process
            finally:
                if self.mosquitto is not None:
                    self.mosquitto.stop()


FESTIVAL_TITLES = (
    "Ouverture sous les platanes",
    "Mistral, mistral",
    "Fête de la musique à l'Estaque",
)
LOCAL_TITLES = ("Rue d'Aubagne", "Minuit au Panier")
