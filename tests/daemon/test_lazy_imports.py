"""A kiosk loads only the code its configuration needs (issue 17: start to READY, memory).

The real `jukebox run --simulate` runs in its own process, plays, and stops; at READY and at
exit it writes the names in its sys.modules. A folder kiosk must not have loaded the tenant
link, sync, MQTT, HTTP or screen-emulator code, nor OpenSSL; a tenant kiosk loads its link
after READY (device/link_start.py), and has loaded it by the end (the positive control).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.tracks import TrackSpec, synthesise_track
from device.sim.process import HEADLESS_FOLDER_CONFIG, KioskProcess

CONFIG = HEADLESS_FOLDER_CONFIG
# Nobody answers there: the link keeps retrying in the background, the music plays.
TENANT = '\n[tenant]\nurl = "http://127.0.0.1:9/t/nobody"\n'

NOT_FOR_A_FOLDER_KIOSK = (
    "device.link",
    "device.sync",
    "device.mqtt",
    "device.tenant_api",
    "device.remote",
    "device.identity.enrollment",
    "paho",
    "requests",
    "jwt",
    "luma.emulator",
    "pygame",
    "_hashlib",  # OpenSSL's hashes: 2.1 MiB for a few hashes (contract.ids.sha256)
    "ssl",
)

# What a tenant kiosk loads after READY, on the link's own thread.
LINK_AFTER_READY = (
    "device.link",
    "device.sync.syncer",
    "device.mqtt",
    "device.tenant_api",
    "device.identity.enrollment",
    "paho",
    "requests",
)

# The kiosk's own entry point, writing its loaded module names when it tells systemd it is
# ready (before the sd_notify message leaves) and when the process ends.
WRAPPER = (
    "import atexit, json, sys\n"
    "out = sys.argv.pop(1)\n"
    "def dump(path): open(path, 'w').write(json.dumps(sorted(sys.modules)))\n"
    "atexit.register(lambda: dump(out))\n"
    "from device.platform.systemd import Notifier\n"
    "ready = Notifier.ready\n"
    "def at_ready(self, status): dump(out + '.ready'); ready(self, status)\n"
    "Notifier.ready = at_ready\n"
    "from jukebox.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class ModuleReportingKiosk(KioskProcess):
    def __init__(self, root: Path) -> None:
        super().__init__(root / "jukebox.toml", root / "control.sock", root / "kiosk.log")
        self.modules_file = root / "modules.json"

    @property
    def command(self) -> list[str]:
        jukebox_args = super().command[3:]  # after: python -m jukebox
        return [sys.executable, "-c", WRAPPER, str(self.modules_file), *jukebox_args]

    def modules(self, *, play: bool = False, linked: bool = False) -> set[str]:
        """Start (load the playlist and play, or wait for the tenant link to try), stop:
        every module the whole run loaded."""
        self.start()
        client = self.connect()
        if play:
            self.wait_until(lambda s: s["playlist_id"] is not None, 30, "the playlist")
            client.send(cmd="tap", button="play")
            self.wait_until(lambda s: s["mode"] == "playing", 30, "playback")
        elif linked:
            self.wait_until(lambda s: s["tenant_state"] is not None, 30, "the tenant link")
        else:
            self.status()
        assert self.quit() == 0, self.log.read_text() if self.log else ""
        names: list[str] = json.loads(self.modules_file.read_text())
        return set(names)

    def modules_at_ready(self) -> set[str]:
        names: list[str] = json.loads(Path(f"{self.modules_file}.ready").read_text())
        return set(names)


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[ModuleReportingKiosk]:
    synthesise_track(tmp_path / "content" / "a.flac", TrackSpec("A", "Tester", 20.0))
    (tmp_path / "content" / "playlists.toml").write_text(
        '[[playlist]]\nid = "a"\ntitle = "A"\ntracks = ["a.flac"]\n'
    )
    process = ModuleReportingKiosk(tmp_path)
    yield process
    process.close()


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_a_folder_kiosk_loads_no_tenant_sync_mqtt_or_emulator_code(
    kiosk: ModuleReportingKiosk,
) -> None:
    kiosk.config.write_text(CONFIG)
    modules = kiosk.modules(play=True)
    assert "device.player.mpv_player" in modules  # the report is real: it played
    unwanted = {name: found for name in NOT_FOR_A_FOLDER_KIOSK if (found := loaded(modules, name))}
    assert unwanted == {}


def test_a_tenant_kiosk_loads_its_link_after_ready(kiosk: ModuleReportingKiosk) -> None:
    kiosk.config.write_text(CONFIG + TENANT)
    modules = kiosk.modules(linked=True)
    at_ready = kiosk.modules_at_ready()
    assert "device.player.mpv_player" in at_ready  # READY came once the player was there
    early = {name: found for name in LINK_AFTER_READY if (found := loaded(at_ready, name))}
    assert early == {}
    assert all(loaded(modules, name) for name in LINK_AFTER_READY), sorted(modules)


@pytest.mark.parametrize(
    "argv", [["update", "status", "--help"], ["firstboot", "--help"], ["stick", "--help"]]
)
def test_what_systemd_starts_on_the_kiosk_loads_no_other_program(argv: list[str]) -> None:
    """`jukebox update health` and `jukebox firstboot` run at every boot: they must not load
    the tenant, provisioning or the demo (seconds each on a slow card)."""
    code = (
        "import json, sys\n"
        "from jukebox.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert argv[0] in result.stdout  # the command's own help was printed
    others = [m for m in loaded if m.split(".")[0] in ("tenant", "provisioning", "demo")]
    assert others == []
