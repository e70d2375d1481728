"""Retained status, last will and heartbeat, through a real mosquitto."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from contract.protocol import decode, validate
from device.core.kiosk import KioskStatus, Mode
from device.mqtt.health import HeartbeatSource, cpu_temperature_c, undervoltage
from tenant.broker.process import MosquittoProcess
from tests.mqtt.conftest import DEVICE, TOPICS, LinkFactory, wait_for
from tests.support.broker import MqttProbe


def observer(broker: MosquittoProcess, topic: str) -> MqttProbe:
    probe = MqttProbe(broker.host, broker.port, client_id="observer")
    assert not probe.connect().is_failure
    assert not probe.subscribe(topic).is_failure
    return probe


def retained_status(broker: MosquittoProcess) -> dict[str, object] | None:
    """What a newcomer sees on the status topic (the retained message), if anything."""
    with MqttProbe(broker.host, broker.port, client_id="newcomer") as probe:
        assert not probe.connect().is_failure
        probe.subscribe(TOPICS.status)
        try:
            message = probe.receive(timeout_s=1)
        except queue.Empty:
            return None
        assert message.retain
        return decode("status", bytes(message.payload))


def test_online_on_connect_and_offline_shutdown_on_close_both_retained(
    mqtt_broker: MosquittoProcess, make_link: LinkFactory
) -> None:
    link = make_link(mqtt_broker.port)
    link.start()
    assert wait_for(lambda: link.online)
    assert wait_for(lambda: retained_status(mqtt_broker) is not None, 5)
    assert retained_status(mqtt_broker) == {
        "v": 1,
        "online": True,
        "firmware_version": "0.1.0",
        "boot_id": "boot-1",
    }
    link.close()
    offline = retained_status(mqtt_broker)
    assert offline is not None
    assert offline["online"] is False and offline["reason"] == "shutdown"


LINK_SCRIPT = textwrap.dedent(
    """
    import sys, time, logging
    from pathlib import Path
    from device.journal.outbox import PlayJournal
    from device.mqtt.health import HeartbeatSource
    from device.mqtt.link import MqttLink
    from device.mqtt.remote import RemoteOutbox
    from device.mqtt.transport import BrokerAccount
    from tests.mqtt.conftest import DEVICE, IDENTITY, TOPICS, Recorder

    port, state = int(sys.argv[1]), Path(sys.argv[2])
    journal = PlayJournal(state / "journal.sqlite3", IDENTITY)
    link = MqttLink(
        BrokerAccount("127.0.0.1", port, False, DEVICE, "pw"), TOPICS, journal,
        inbox=Recorder(), remote=RemoteOutbox(),
        heartbeat=HeartbeatSource(firmware_version="0.1.0", state_dir=state), boot_id="boot-9",
    )
    link.start()
    while not link.online:
        time.sleep(0.02)
    print("online", flush=True)
    time.sleep(60)
    """
)


def test_the_last_will_says_lost_when_the_device_process_is_killed(
    mqtt_broker: MosquittoProcess, tmp_path: Path
) -> None:
    probe = observer(mqtt_broker, TOPICS.status)
    process = subprocess.Popen(
        [sys.executable, "-c", LINK_SCRIPT, str(mqtt_broker.port), str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"online"
        first = decode("status", bytes(probe.receive().payload))
        assert first["online"] is True and first["boot_id"] == "boot-9"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=5)
        will = decode("status", bytes(probe.receive(timeout_s=10).payload))
    finally:
        process.kill()
        process.wait()
        probe.close()
    assert will == {"v": 1, "online": False, "firmware_version": "0.1.0", "boot_id": "boot-9",
                    "reason": "lost"}  # fmt: skip
    assert (retained_status(mqtt_broker) or {}).get("reason") == "lost"


def test_a_heartbeat_is_published_on_connect_and_validates(
    mqtt_broker: MosquittoProcess, make_link: LinkFactory
) -> None:
    probe = observer(mqtt_broker, TOPICS.heartbeat)
    link = make_link(mqtt_broker.port, heartbeat_s=0.5)
    link.heartbeat.status = lambda: KioskStatus(
        mode=Mode.PLAYING, playlist_id="festival", track_id="sha256:ab", title="Song",
        artist="Lila", position_ms=1234, volume=40, playlists=3, tracks=25, sync_state="complete",
        output="USB Audio DAC",
    )  # fmt: skip
    link.start()
    beats = [json.loads(probe.receive().payload) for _ in range(2)]  # periodic: two of them
    probe.close()
    for beat in beats:
        validate("heartbeat", beat)
        assert beat["playing"] == {
            "playlist_id": "festival", "track_id": "sha256:ab", "title": "Song", "artist": "Lila",
            "position_ms": 1234,
        }  # fmt: skip
        assert beat["volume"] == 40
        assert beat["output"] == "USB Audio DAC"
        assert beat["content"] == {"playlists": 3, "tracks": 25, "sync": "complete"}
        assert beat["outbox"] == 0
        assert beat["free_disk_mb"] > 0
        assert beat["firmware_version"] == "0.1.0"


def fake_sys(root: Path, *, temp: str | None, volt_alarm: str | None) -> tuple[Path, Path]:
    """A /sys/class tree as the Raspberry Pi's kernel lays it out (only what we read)."""
    thermal, hwmon = root / "thermal", root / "hwmon"
    (hwmon / "hwmon0").mkdir(parents=True)
    (hwmon / "hwmon0" / "name").write_text("cpu_thermal\n")
    thermal.mkdir(parents=True)
    if temp is not None:
        (thermal / "thermal_zone0").mkdir()
        (thermal / "thermal_zone0" / "type").write_text("cpu-thermal\n")
        (thermal / "thermal_zone0" / "temp").write_text(temp)
    if volt_alarm is not None:
        (hwmon / "hwmon1").mkdir()
        (hwmon / "hwmon1" / "name").write_text("rpi_volt\n")
        (hwmon / "hwmon1" / "in0_lcrit_alarm").write_text(volt_alarm)
    return thermal, hwmon


def test_platform_readings_are_reported_where_the_platform_has_them(tmp_path: Path) -> None:
    thermal, hwmon = fake_sys(tmp_path, temp="48312\n", volt_alarm="1\n")
    assert cpu_temperature_c(thermal) == 48.3
    assert undervoltage(hwmon) is True
    source = HeartbeatSource("0.1.0", tmp_path, thermal_root=thermal, hwmon_root=hwmon)
    beat = source.payload()
    validate("heartbeat", beat)
    assert beat["cpu_temp_c"] == 48.3 and beat["undervoltage"] is True


def test_absent_values_are_omitted_never_invented(tmp_path: Path) -> None:
    thermal, hwmon = fake_sys(tmp_path, temp=None, volt_alarm=None)
    source = HeartbeatSource(
        "0.1.0", tmp_path / "missing-state-dir", thermal_root=thermal, hwmon_root=hwmon
    )
    beat = source.payload()
    validate("heartbeat", beat)
    assert set(beat) == {"v", "uptime_s", "firmware_version"}  # no kiosk, no sensors, no disk


def test_idle_kiosk_reports_nothing_playing_and_a_failing_reader_is_omitted(
    tmp_path: Path,
) -> None:
    def broken() -> int:
        raise OSError("disk gone")

    source = HeartbeatSource(
        "0.1.0", tmp_path, status=lambda: KioskStatus(volume=120), outbox=broken,
        thermal_root=tmp_path / "none", hwmon_root=tmp_path / "none",
    )  # fmt: skip
    beat = source.payload()
    validate("heartbeat", beat)
    assert beat["playing"] is None
    assert beat["volume"] == 100
    assert "outbox" not in beat
    assert DEVICE not in json.dumps(beat)  # the topic names the device, the payload need not


def test_a_missing_panel_and_a_silent_output_are_what_the_tenant_alerts_on(
    tmp_path: Path,
) -> None:
    problems: dict[str, str | None] = {"display": None, "player": None}
    source = HeartbeatSource(
        "0.1.0", tmp_path, status=lambda: KioskStatus(output="USB Audio"),
        panel=lambda: "missing" if problems["display"] else "ok",
        audio_ok=lambda: problems["player"] is None,
        thermal_root=tmp_path / "none", hwmon_root=tmp_path / "none",
    )  # fmt: skip
    healthy = source.payload()
    validate("heartbeat", healthy)
    assert (healthy["panel"], healthy["output"]) == ("ok", "USB Audio")
    problems.update(display="no ssd1306 display on i2c", player="no audio output")
    broken = source.payload()
    validate("heartbeat", broken)
    assert broken["panel"] == "missing"
    assert "output" not in broken  # the tenant's no_audio alert reads an absent output
