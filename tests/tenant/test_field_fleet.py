"""Site settings in desired states, retired playlists leaving them, and alerts with their
webhook: the real service, a broker with dynamic security, a real ingester, MQTT kiosks, and a
real local HTTP receiver for the webhook."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from device.remote.desired import desired_from_payload
from tenant.alerts import AlertWatcher
from tenant.context import open_context
from tests.support.waiting import eventually
from tests.tenant import test_admin_fleet
from tests.tenant.test_admin_fleet import SLUG, Fleet, admin, heard

Json = dict[str, Any]
fleet = test_admin_fleet.fleet  # the fixture: a service with its broker and ingester


def test_every_desired_state_carries_the_sites_time_zone_and_a_change_is_sent_at_once(
    fleet: Fleet, flac_tracks: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    service = fleet.service
    service.create_playlist(SLUG, "morning", "Morning", [str(flac_tracks[0]["id"])])
    paris, cayenne = fleet.connect(fleet.kiosk("Paris")), fleet.connect(fleet.kiosk("Cayenne"))
    code, _, _ = admin(service, capsys, "site-settings", "--timezone", "Europe/Paris")
    assert code == 0
    admin(service, capsys, "site-settings", "--site", "Cayenne", "--timezone", "America/Cayenne",
          "--when-closed", "refuse")  # fmt: skip
    admin(service, capsys, "push", "--all", "--playlist", "morning",
          "--hours", "mon-sat 10:00-19:00", "--wait", "0")  # fmt: skip

    in_paris, in_cayenne = paris.desired.get(timeout=5), cayenne.desired.get(timeout=5)
    assert in_paris["timezone"] == "Europe/Paris" and "when_closed" not in in_paris
    assert (in_cayenne["timezone"], in_cayenne["when_closed"]) == ("America/Cayenne", "refuse")
    state = desired_from_payload(in_cayenne)  # the kiosk's own reading of it
    assert state.timezone == "America/Cayenne" and state.when_closed == "refuse"

    code, out, _ = admin(service, capsys, "site-settings", "--site", "Paris",
                         "--when-closed", "refuse")  # fmt: skip
    again = paris.desired.get(timeout=5)
    assert again["version"] == in_paris["version"] + 1
    assert again["when_closed"] == "refuse" and again["playlists"] == ["morning"]
    assert cayenne.desired.empty()  # another site's kiosk is left alone
    row = next(line for line in out.splitlines() if line.startswith("Paris"))
    assert "Europe/Paris" in row and "refuse" in row


def test_a_retired_playlist_leaves_the_desired_states_that_named_it(
    fleet: Fleet, flac_tracks: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    service = fleet.service
    ids = [str(t["id"]) for t in flac_tracks]
    service.create_playlist(SLUG, "morning", "Morning", ids[:1])
    service.create_playlist(SLUG, "festival", "Festival", ids[1:2])
    side = fleet.connect(fleet.kiosk("Nord"))
    admin(service, capsys, "push", "--all", "--playlist", "morning", "--playlist", "festival",
          "--featured", "festival", "--wait", "0")  # fmt: skip
    first = side.desired.get(timeout=5)
    code, out, _ = admin(service, capsys, "playlist", "retire", "festival")
    assert code == 0 and "1 kiosk(s)" in out
    after = side.desired.get(timeout=5)
    assert after["playlists"] == ["morning"] and "featured" not in after
    assert after["version"] == first["version"] + 1
    audit = service.admin(SLUG).audit(obj="playlist:festival")
    assert [a["action"] for a in audit][-1] == "playlist.retire"


class Receiver:
    """A real HTTP server on a free port that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received: queue.Queue[Json] = queue.Queue()
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.put(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[Json]:
        found = []
        while not self.received.empty():
            found.append(self.received.get())
        return sorted(found, key=lambda e: (e["device_id"], e["condition"], e["event"]))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_alerts_list_kiosks_in_trouble_and_the_webhook_hears_each_start_and_end(
    fleet: Fleet, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    service = fleet.service
    kiosk = fleet.kiosk("Nord")
    side = fleet.connect(kiosk)
    side.status(True)
    side.heartbeat(outbox=5000, content={"sync": "failed tenant unreachable"}, panel="missing")
    heard(fleet.store, kiosk.device_id, lambda s: s.heartbeat is not None and s.online is True)
    code, _, _ = admin(service, capsys, "alerts", "--webhook", receiver.url)
    assert code == 0
    code, out, _ = admin(service, capsys, "alerts")
    rows = {line.split()[3]: line for line in out.splitlines() if line.startswith("jk-")}
    assert set(rows) == {"outbox_full", "sync_error", "no_audio", "no_panel"}

    ctx = open_context(service.data_dir, service.database_url)
    try:  # what the service's watcher does every minute: check every tenant with a webhook
        AlertWatcher(ctx).check_all()
    finally:
        ctx.store.close()
    started = receiver.events()
    assert [(e["condition"], e["event"]) for e in started] == [
        ("no_audio", "started"), ("no_panel", "started"),
        ("outbox_full", "started"), ("sync_error", "started"),
    ]  # fmt: skip
    assert {e["tenant"] for e in started} == {SLUG}
    assert service.admin(SLUG).call("POST", "/alerts/check") == []  # nothing new: nothing sent

    side.heartbeat(outbox=0, output="Headphones", panel="ok")
    heard(fleet.store, kiosk.device_id, lambda s: '"Headphones"' in (s.heartbeat or ""))
    service.admin(SLUG).call("POST", "/alerts/check")
    ended = receiver.events()
    assert [(e["condition"], e["event"]) for e in ended] == [
        ("no_audio", "ended"), ("no_panel", "ended"),
        ("outbox_full", "ended"), ("sync_error", "ended"),
    ]  # fmt: skip
    code, out, _ = admin(service, capsys, "alerts")
    assert "no alerts" in out


def test_a_kiosk_offline_longer_than_the_threshold_is_an_alert(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = fleet.kiosk("Nord")
    side = fleet.connect(kiosk)
    side.heartbeat(output="Headphones")
    side.status(False, reason="lost")
    heard(fleet.store, kiosk.device_id, lambda s: s.online is False and s.heartbeat is not None)
    admin(fleet.service, capsys, "alerts", "--offline-after", "600")
    assert fleet.service.admin(SLUG).call("GET", "/alerts") == []  # offline, not for long yet
    fleet.clock.advance(601)
    alerts = eventually(lambda: fleet.service.admin(SLUG).call("GET", "/alerts") or None)
    assert [(a["device_id"], a["condition"]) for a in alerts] == [(kiosk.device_id, "offline")]
