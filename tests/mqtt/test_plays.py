"""Play reports through a real mosquitto: every finished play delivered, oldest first, and
deleted from the journal only once acknowledged."""

from __future__ import annotations

from pathlib import Path

from device.journal.outbox import PlayJournal
from tenant.broker.process import MosquittoProcess
from tests.mqtt.acker import Acker
from tests.mqtt.conftest import LinkFactory, record_plays, wait_for


def first_receipts(receipts: list[int]) -> list[int]:
    seen: set[int] = set()
    order = []
    for seq in receipts:
        if seq not in seen:
            seen.add(seq)
            order.append(seq)
    return order


def test_plays_recorded_while_the_broker_is_down_all_arrive_in_order_and_are_deleted(
    tmp_path: Path, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    broker = MosquittoProcess(tmp_path / "mq")
    broker.start()
    # Its session outlives the outage, so what the device sends before it is back waits for it.
    acker = Acker(broker.host, broker.port, group=False).start()
    broker.stop()
    try:
        link = make_link(broker.port)
        link.start()
        ids = record_plays(kiosk_journal, 1000)
        assert wait_for(lambda: link.transport.backoff.failures >= 2)  # really trying, and failing
        assert kiosk_journal.stats().finished == 1000
        broker.start()
        assert acker.wait_stored(1000, timeout_s=60)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
    finally:
        acker.close()
        broker.stop()
    assert set(acker.stored) == set(ids)
    seqs = sorted(acker.stored.values())
    assert first_receipts(acker.receipts) == seqs  # oldest first
    assert acker.problems == []


def test_nothing_is_deleted_without_an_ack_and_a_missing_ack_causes_a_resend(
    mqtt_broker: MosquittoProcess, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    acker = Acker(mqtt_broker.host, mqtt_broker.port, ack=False).start()
    try:
        ids = record_plays(kiosk_journal, 600)  # three batches
        link = make_link(mqtt_broker.port, ack_timeout_s=1.0)
        link.start()
        assert wait_for(lambda: len(acker.receipts) >= 2 * 600)  # everything sent twice
        assert kiosk_journal.stats().finished == 600  # and none of it deleted
        assert link.publisher.stats.resends >= 3
        acker.ack = True
        assert acker.wait_stored(600)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
    finally:
        acker.close()
    assert set(acker.stored) == set(ids)


def test_a_batch_whose_ack_is_lost_is_sent_again_and_nothing_is_lost(
    mqtt_broker: MosquittoProcess, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    acker = Acker(mqtt_broker.host, mqtt_broker.port, ignore_first=2).start()
    try:
        ids = record_plays(kiosk_journal, 400)
        link = make_link(mqtt_broker.port, ack_timeout_s=1.0)
        link.start()
        assert acker.wait_stored(400)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
    finally:
        acker.close()
    assert set(acker.stored) == set(ids)
    assert len(acker.receipts) >= 400 + 2 * 1  # the two ignored batches came again
    assert link.publisher.stats.resends >= 2


def test_a_play_finished_while_connected_goes_out_within_a_poll(
    mqtt_broker: MosquittoProcess, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    acker = Acker(mqtt_broker.host, mqtt_broker.port).start()
    try:
        link = make_link(mqtt_broker.port)
        link.start()
        assert wait_for(lambda: link.online)
        for round_ in range(3):
            [event_id] = record_plays(kiosk_journal, 1)
            assert acker.wait_stored(round_ + 1, timeout_s=5)
            assert event_id in acker.stored
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
    finally:
        acker.close()


def test_a_broker_killed_and_restarted_mid_flush_loses_nothing(
    tmp_path: Path, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    broker = MosquittoProcess(tmp_path / "mq").start()
    acker = Acker(broker.host, broker.port, delay_s=0.02).start()
    try:
        ids = record_plays(kiosk_journal, 1000)
        link = make_link(broker.port, ack_timeout_s=2.0)
        link.start()
        assert acker.wait_stored(100)
        broker.kill()  # no clean shutdown: whatever was in flight on the broker is gone
        stored_at_kill = len(acker.stored)
        broker.start()
        assert acker.wait_stored(1000, timeout_s=60)
        assert wait_for(lambda: kiosk_journal.stats().total == 0)
    finally:
        acker.close()
        broker.stop()
    assert stored_at_kill < 1000  # the kill really was mid-flush
    assert set(acker.stored) == set(ids)
    assert link.transport.connections >= 2


def test_batches_stay_under_the_payload_limit_whatever_the_plays_carry(
    mqtt_broker: MosquittoProcess, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    acker = Acker(mqtt_broker.host, mqtt_broker.port).start()
    try:
        # 250 plays whose error text is cut to 500 characters of 2 bytes each: 390 KB in all.
        ids = record_plays(kiosk_journal, 250, error="é" * 2000)
        link = make_link(mqtt_broker.port)
        link.start()
        assert acker.wait_stored(250)
    finally:
        acker.close()
    assert acker.problems == []  # the acker refuses payloads over 256 KiB, as the ingester does
    assert set(acker.stored) == set(ids)
    assert len(acker.batches) >= 2
    assert all(len(play["error"]) == 500 for batch in acker.batches for play in batch["plays"])


def test_after_a_broker_restart_unacknowledged_batches_go_again_at_once(
    tmp_path: Path, kiosk_journal: PlayJournal, make_link: LinkFactory
) -> None:
    """A restarted mosquitto forgets shared subscriptions: batches it took before an ingester
    subscribed again may have reached nobody. The device sends every unacknowledged batch again
    on reconnecting, not an ack timeout later (an hour here). The listener here keeps a plain,
    persistent subscription, so it sees both sends."""
    broker = MosquittoProcess(tmp_path / "mq").start()
    listener = Acker(broker.host, broker.port, ack=False, group=False).start()
    try:
        record_plays(kiosk_journal, 300)  # two batches, received, never acknowledged
        link = make_link(broker.port, ack_timeout_s=3600.0)
        link.start()
        assert wait_for(lambda: len(listener.receipts) == 300)
        broker.restart()
        assert wait_for(lambda: len(listener.receipts) == 600, timeout_s=20)
        assert link.publisher.stats.acked == 0 and kiosk_journal.stats().finished == 300
    finally:
        listener.close()
        broker.stop()
