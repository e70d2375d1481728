"""`jukebox admin push | status | command` against the real service, a broker with dynamic
security (device, service and ingester accounts) and a real ingester; kiosks are played by
small MQTT clients (tests/tenant/mqtt_device.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from jukebox.cli import build_parser
from tenant.admin_client import AdminError
from tenant.broker.settings import save_broker_settings
from tenant.ingest import Ingester
from tenant.store import DeviceStatus, TenantStore
from tests.support.broker import SecuredBroker
from tests.support.tenant import RunningTenant
from tests.support.waiting import eventually
from tests.tenant.conftest import MovableClock, claimed
from tests.tenant.kiosk import Kiosk
from tests.tenant.mqtt_device import DeviceSide, Json

SLUG = "lib-a"


@dataclass
class Fleet:
    service: RunningTenant
    broker: SecuredBroker
    store: TenantStore
    clock: MovableClock
    devices: list[DeviceSide]

    def kiosk(self, site: str) -> Kiosk:
        """A kiosk claimed for `site` (its broker account is made at the claim)."""
        return claimed(self.service, self.clock, site)

    def connect(self, kiosk: Kiosk) -> DeviceSide:
        """The kiosk on the broker with the credentials of its token answer."""
        mqtt = kiosk.token().json()["mqtt"]

        def attempt() -> DeviceSide | None:
            try:
                return DeviceSide(
                    self.broker.process, SLUG, kiosk.device_id, (mqtt["username"], mqtt["password"])
                )
            except ConnectionRefusedError:
                kiosk.token()  # the account is ensured again at every token answer
                return None

        side = eventually(attempt)
        self.devices.append(side)
        return side


@pytest.fixture
def fleet(
    service: RunningTenant, dynsec_broker: SecuredBroker, clock: MovableClock
) -> Iterator[Fleet]:
    save_broker_settings(service.data_dir, dynsec_broker.settings)
    service.restart()  # now with its broker connection
    store = TenantStore(service.database_url)
    ingester = Ingester(
        store, dynsec_broker.settings, client_id="jk-ingest-t", now_ms=service.settings.now_ms
    ).start()
    fleet = Fleet(service, dynsec_broker, store, clock, [])
    yield fleet
    for side in fleet.devices:
        side.close()
    ingester.stop()
    store.close()


def admin(
    service: RunningTenant, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    """`jukebox admin …` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    credentials = str(service.credentials_path(SLUG))
    args = build_parser().parse_args(["admin", "--credentials", credentials, *argv])
    code: int = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def heard(
    store: TenantStore, device_id: str, condition: Callable[[DeviceStatus], bool]
) -> DeviceStatus:
    """The device's status once `condition` holds (the ingester stores it asynchronously)."""

    def check() -> DeviceStatus | None:
        found = store.device_statuses(SLUG).get(device_id)
        return found if found is not None and condition(found) else None

    return eventually(check)


def applies(desired: Json) -> tuple[str, Json]:
    return "applied", {}


def test_push_sends_each_kiosk_its_whole_desired_state_and_waits_for_it(
    fleet: Fleet, flac_tracks: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    service = fleet.service
    ids = [str(t["id"]) for t in flac_tracks]
    service.create_playlist(SLUG, "morning", "Morning", ids[:2], sites=("centre",))
    service.create_playlist(SLUG, "festival", "Festival", ids[2:])
    left, right, annexe = fleet.kiosk("centre"), fleet.kiosk("centre"), fleet.kiosk("annexe")
    applied = fleet.connect(left)
    applied.answer_desired = applies
    syncing = fleet.connect(right)
    syncing.answer_desired = lambda d: ("syncing", {"missing": ["festival"]})

    code, out, _ = admin(
        service, capsys, "push", "--site", "centre", "--playlist", "festival",
        "--featured", "festival", "--volume-min", "20", "--volume-max", "70",
        "--hours", "mon-sat 10:00-19:00", "--wait", "5",
    )  # fmt: skip

    desired = applied.desired.get(timeout=5)
    assert desired == {
        "v": 1,
        "version": 1,
        "playlists": ["morning", "festival"],
        "featured": "festival",
        "volume": {"min": 20, "max": 70},
        "opening_hours": [{"days": "mon-sat", "from": "10:00", "to": "19:00"}],
    }
    assert syncing.desired.get(timeout=5) == desired
    assert code == 1  # one kiosk is still syncing
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("jk-")}
    assert "applied" in lines[left.device_id]
    assert "syncing (missing festival)" in lines[right.device_id]
    assert annexe.device_id not in out
    assert "1 of 2 kiosk(s) applied" in out

    syncing.answer_desired = applies  # its playlists arrived
    code, out, _ = admin(service, capsys, "push", "--device", right.device_id, "--wait", "5")

    assert code == 0, out
    again = syncing.desired.get(timeout=5)
    assert again["version"] == 2
    assert {k: again[k] for k in ("featured", "volume")} == {  # settings not named are kept
        "featured": "festival",
        "volume": {"min": 20, "max": 70},
    }
    assert fleet.store.desired_states(SLUG)[left.device_id].version == 1


def test_push_sets_the_screen_language_autoplay_and_idle_timeout_and_default_clears_them(
    fleet: Fleet, flac_tracks: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    service = fleet.service
    service.create_playlist(SLUG, "morning", "Morning", [str(flac_tracks[0]["id"])])
    side = fleet.connect(fleet.kiosk("centre"))
    side.answer_desired = applies

    code, out, _ = admin(
        service, capsys, "push", "--site", "centre", "--playlist", "morning",
        "--language", "fr", "--autoplay", "on", "--idle-timeout", "120", "--wait", "5",
    )  # fmt: skip

    assert code == 0, out
    first = side.desired.get(timeout=5)
    assert (first["language"], first["autoplay"], first["idle_timeout_s"]) == ("fr", True, 120)
    code, out, _ = admin(
        service, capsys, "push", "--site", "centre", "--language", "default", "--wait", "5"
    )
    assert code == 0, out
    second = side.desired.get(timeout=5)
    assert "language" not in second  # back to the kiosk's own [display] language
    assert (second["autoplay"], second["idle_timeout_s"]) == (True, 120)  # not named: kept

    code, _, err = admin(service, capsys, "push", "--site", "centre", "--idle-timeout", "0")
    assert code != 0
    assert "--idle-timeout: '0' is not a number of seconds from 1 to 86400" in err


def test_push_tells_which_kiosks_are_offline_and_they_apply_when_they_come_back(
    fleet: Fleet, flac_tracks: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    service = fleet.service
    service.create_playlist(SLUG, "morning", "Morning", [str(flac_tracks[0]["id"])])
    online, away = fleet.kiosk("centre"), fleet.kiosk("centre")
    fleet.connect(online).answer_desired = applies

    code, out, _ = admin(service, capsys, "push", "--all", "--playlist", "morning", "--wait", "2")

    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("jk-")}
    assert "applied" in lines[online.device_id]
    assert "offline (never seen on the broker)" in lines[away.device_id]

    back = fleet.connect(away)  # the retained desired state is waiting for it
    assert back.desired.get(timeout=5)["playlists"] == ["morning"]
    back.reported(1, "applied")

    def rollout() -> str | None:
        states = service.admin(SLUG).status([away.device_id])
        return states[0]["rollout"] if states[0]["rollout"] == "applied" else None

    assert eventually(rollout) == "applied"


def test_a_rejected_desired_state_is_shown_with_the_kiosks_reason(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = fleet.kiosk("centre")
    fleet.connect(kiosk).answer_desired = lambda d: ("rejected", {"problem": "volume.max: 120"})

    code, out, _ = admin(
        fleet.service, capsys, "push", "--device", kiosk.device_id, "--always-open", "--wait", "5"
    )

    assert code == 1
    assert "rejected: volume.max: 120" in out


def test_push_refuses_unknown_playlists_and_impossible_volumes(fleet: Fleet) -> None:
    kiosk = fleet.kiosk("centre")
    client = fleet.service.admin(SLUG)

    with pytest.raises(AdminError, match=r"unknown_playlist.*nope"):
        client.push({"devices": [kiosk.device_id], "playlists": ["nope"]})
    with pytest.raises(AdminError, match="min is above max"):
        client.push({"devices": [kiosk.device_id], "volume": {"min": 80, "max": 20}})
    with pytest.raises(AdminError, match="unknown_device"):
        client.push({"devices": ["jk-nobody"]})
    with pytest.raises(AdminError, match="name the devices"):
        client.push({"playlists": []})
    assert fleet.store.desired_states(SLUG) == {}


def test_push_without_a_broker_says_so(service: RunningTenant, clock: MovableClock) -> None:
    kiosk = claimed(service, clock, "centre")

    with pytest.raises(AdminError, match="503 no_broker"):
        service.admin(SLUG).push({"devices": [kiosk.device_id]})


def test_status_shows_what_each_kiosk_last_said(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    playing, quiet = fleet.kiosk("centre"), fleet.kiosk("annexe")
    side = fleet.connect(playing)
    side.status(True, boot_id="b1", firmware_version="0.4.0")
    side.reported(3, "applied")
    side.heartbeat(
        volume=35,
        outbox=2,
        content={"playlists": 2, "tracks": 14, "sync": "up to date"},
        playing={"playlist_id": "morning", "track_id": "trk-1", "title": "Aria", "artist": "Bach"},
    )
    heard(fleet.store, playing.device_id, lambda s: s.heartbeat is not None)

    code, out, _ = admin(fleet.service, capsys, "status")

    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(playing.device_id))
    for shown in ("yes", "Bach — Aria", "35", "2 playlists, 14 tracks, up to date", "0.4.0",
                  "s ago", "v3 applied"):  # fmt: skip
        assert shown in row, (shown, row)
    assert row.split()[-1] == "2"  # outbox
    other = next(line for line in out.splitlines() if line.startswith(quiet.device_id))
    assert "never seen" in other
    assert "1 of 2 kiosk(s) online" in out


def test_status_reads_the_retained_status_when_the_ingester_starts_late(
    service: RunningTenant, dynsec_broker: SecuredBroker, clock: MovableClock
) -> None:
    save_broker_settings(service.data_dir, dynsec_broker.settings)
    service.restart()
    url = service.database_url
    fleet = Fleet(service, dynsec_broker, TenantStore(url), clock, [])
    kiosk = fleet.kiosk("centre")
    side = fleet.connect(kiosk)
    side.status(True, boot_id="b9")
    side.reported(5, "applied")
    side.close()
    store = fleet.store
    try:
        settings = dynsec_broker.settings
        with Ingester(store, settings, client_id="late", now_ms=service.settings.now_ms):
            heard(store, kiosk.device_id, lambda s: s.reported_version == 5)
        state = service.admin(SLUG).status([kiosk.device_id])[0]
    finally:
        store.close()

    assert state["online"] is True
    assert state["reported"]["version"] == 5


def test_a_command_goes_to_the_kiosk_and_its_result_comes_back(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = fleet.kiosk("centre")
    side = fleet.connect(kiosk)
    side.answer_command = lambda request: {
        "ok": True,
        "command": request["command"],
        "result": {"log": ["line one", "line two"], "state": {"mode": "idle"}},
    }

    code, out, _ = admin(
        fleet.service, capsys, "command", kiosk.device_id, "diagnostics", "--lines", "2"
    )

    request = side.commands.get(timeout=5)
    assert (request["command"], request["args"]) == ("diagnostics", {"lines": 2})
    assert code == 0, out
    assert f"request {request['request_id']}" in out
    assert "  line one\n  line two" in out
    assert json.loads(out[out.index("{") :]) == {"state": {"mode": "idle"}}


def test_a_failed_or_unanswered_command_exits_with_an_error(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = fleet.kiosk("centre")
    side = fleet.connect(kiosk)
    side.answer_command = lambda request: {"ok": False, "error": "reboot is not allowed here"}

    code, _, err = admin(fleet.service, capsys, "command", kiosk.device_id, "reboot")

    assert code == 1
    assert "reboot failed" in err and "not allowed here" in err

    side.answer_command = None
    code, _, err = admin(
        fleet.service, capsys, "command", kiosk.device_id, "identify", "--seconds", "5",
        "--wait", "0.5",
    )  # fmt: skip

    assert code == 1
    assert "no result after 0.5 s" in err
    assert side.commands.get(timeout=5)["command"] == "reboot"
    assert side.commands.get(timeout=5)["args"] == {"seconds": 5}


def test_commands_for_unknown_devices_are_refused(fleet: Fleet) -> None:
    with pytest.raises(AdminError, match="404"):
        fleet.service.admin(SLUG).send_command("jk-nobody", "resync")
