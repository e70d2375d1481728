"""A clean stop flushes: the play finished last is delivered before the link closes, within a
bound, and kept in the journal when it cannot be. Real mosquitto, the acker stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from device.journal.outbox import PlayJournal
from device.mqtt.health import HeartbeatSource
from device.mqtt.link import MqttLink
from device.mqtt.publisher import PlayPublisher
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount
from device.platform.backoff import Backoff
from tenant.broker.process import MosquittoProcess, free_port
from tests.mqtt.acker import Acker
from tests.mqtt.conftest import DEVICE, TOPICS, Recorder, record_plays, wait_for

NEVER_S = 3600.0  # the publisher's own poll never comes during a test: only a flush sends


def quiet_link(port: int, outbox: PlayJournal, state_dir: Path, flush_s: float) -> MqttLink:
    """A link whose publisher looks at the journal only at connect and when flushed."""

    def publisher(*args: object) -> PlayPublisher:
        return PlayPublisher(*args, poll_s=NEVER_S, backoff=Backoff(0.2, 0.5))  # type: ignore[arg-type]

    return MqttLink(
        BrokerAccount("127.0.0.1", port, False, DEVICE, "unused"),
        TOPICS,
        outbox,
        inbox=Recorder(),
        remote=RemoteOutbox(),
        heartbeat=HeartbeatSource(
            firmware_version="0.1.0",
            state_dir=state_dir,
            outbox=lambda: outbox.stats().finished,
        ),
        boot_id="boot-1",
        flush_s=flush_s,
        publisher=publisher,
        backoff=Backoff(base_s=0.1, cap_s=0.5),
    )


@pytest.fixture
def acker(mqtt_broker: MosquittoProcess) -> Iterator[Acker]:
    acker = Acker(mqtt_broker.host, mqtt_broker.port).start()
    yield acker
    acker.close()


def test_the_play_finished_at_a_clean_stop_is_delivered_before_the_link_closes(
    mqtt_broker: MosquittoProcess,
    acker: Acker,
    kiosk_journal: PlayJournal,
    outbox: PlayJournal,
    tmp_path: Path,
) -> None:
    link = quiet_link(mqtt_broker.port, outbox, tmp_path, flush_s=20.0)
    link.start()
    assert wait_for(lambda: link.online)
    [last] = record_plays(kiosk_journal, 1)  # the core closes the open play as it stops
    link.close("shutdown")
    assert last in acker.stored
    assert kiosk_journal.stats().total == 0  # acknowledged, so deleted


def test_without_an_ack_the_stop_waits_no_longer_than_its_bound_and_keeps_the_play(
    mqtt_broker: MosquittoProcess,
    kiosk_journal: PlayJournal,
    outbox: PlayJournal,
    tmp_path: Path,
) -> None:
    silent = Acker(mqtt_broker.host, mqtt_broker.port, ack=False).start()
    try:
        link = quiet_link(mqtt_broker.port, outbox, tmp_path, flush_s=0.5)
        link.start()
        assert wait_for(lambda: link.online)
        [last] = record_plays(kiosk_journal, 1)
        assert not link.publisher.flush(0.5)  # sent, never acknowledged
        assert wait_for(lambda: len(silent.receipts) == 1)  # the flush did send it
        link.close("shutdown")
        assert kiosk_journal.stats().finished == 1  # kept for the next start
        assert last not in silent.stored
    finally:
        silent.close()


def test_an_offline_link_closes_without_flushing(
    kiosk_journal: PlayJournal, outbox: PlayJournal, tmp_path: Path
) -> None:
    link = quiet_link(free_port(), outbox, tmp_path, flush_s=NEVER_S)  # nobody listens there
    link.start()
    record_plays(kiosk_journal, 1)
    assert not link.online
    link.close("shutdown")  # returns: a flush is only tried while connected
    assert kiosk_journal.stats().finished == 1
