"""The ingester against a real mosquitto and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tenant.broker.process import MosquittoProcess
from tenant.broker.settings import save_broker_settings
from tenant.ingest import Ingester
from tenant.store import DeviceStatus, TenantStore
from tests.support.waiting import eventually
from tests.tenant.ingest_support import broker_settings, make_ingester, open_store
from tests.tenant.mqtt_device import DeviceSide, Json, play

TENANT = "lib-a"
DEVICE = "jk-aaaaaaaaaaaaaaaaaaaa"
OTHER = "jk-bbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def broker(mqtt_broker: MosquittoProcess) -> MosquittoProcess:
    return mqtt_broker


@pytest.fixture
def ingester(store: TenantStore, broker: MosquittoProcess) -> Iterator[Ingester]:
    with make_ingester(store, broker) as ingester:
        yield ingester


@pytest.fixture
def device(broker: MosquittoProcess) -> Iterator[DeviceSide]:
    side = DeviceSide(broker, TENANT, DEVICE)
    yield side
    side.close()


def test_a_batch_sent_twice_is_stored_once_and_acknowledged_twice(
    ingester: Ingester, device: DeviceSide, store: TenantStore
) -> None:
    plays = [play(TENANT, DEVICE, seq) for seq in (1, 2, 3)]
    ids = [p["event_id"] for p in plays]

    first = device.send_plays(plays)
    first_ack = device.next_ack()
    again = device.send_plays(plays)
    second_ack = device.next_ack()

    assert (first_ack["batch_id"], first_ack["event_ids"]) == (first, ids)
    assert (second_ack["batch_id"], second_ack["event_ids"]) == (again, ids)
    assert "rejected" not in first_ack and "rejected" not in second_ack
    assert [row["event_id"] for row in store.play_rows(TENANT)] == ids


def test_the_ack_is_sent_only_once_the_plays_are_committed(
    ingester: Ingester, device: DeviceSide, database_url: str
) -> None:
    reader = open_store(database_url)  # another connection: sees only committed rows
    seen_at_ack: list[list[str]] = []
    device.on_ack = lambda ack: seen_at_ack.append(
        [r["event_id"] for r in reader.play_rows(TENANT) if r["event_id"] in ack["event_ids"]]
    )
    try:
        for batch in range(5):
            plays = [play(TENANT, DEVICE, 10 * batch + n) for n in range(1, 21)]
            device.send_plays(plays)
            ack = device.next_ack()
            assert (
                sorted(seen_at_ack[-1])
                == sorted(ack["event_ids"])
                == sorted(p["event_id"] for p in plays)
            )
    finally:
        reader.close()


def test_plays_for_another_device_or_against_the_schema_are_rejected_with_the_reason(
    ingester: Ingester, device: DeviceSide, store: TenantStore
) -> None:
    good = play(TENANT, DEVICE, 1)
    impostor = play(TENANT, OTHER, 2)
    other_tenant = play("lib-b", DEVICE, 3)
    negative = play(TENANT, DEVICE, 4, listened_ms=-5)
    unknown_field = play(TENANT, DEVICE, 5, colour="red")

    device.send_plays([good, impostor, other_tenant, negative, unknown_field])
    ack = device.next_ack()

    assert ack["event_ids"] == [good["event_id"]]
    problems = {r["event_id"]: r["problem"] for r in ack["rejected"]}
    assert problems.keys() == {
        p["event_id"] for p in (impostor, other_tenant, negative, unknown_field)
    }
    assert f"{TENANT}/{OTHER}" in problems[impostor["event_id"]]
    assert f"lib-b/{DEVICE}" in problems[other_tenant["event_id"]]
    assert "listened_ms" in problems[negative["event_id"]]
    assert "colour" in problems[unknown_field["event_id"]]
    assert [r["event_id"] for r in store.play_rows(TENANT)] == [good["event_id"]]
    assert store.count_plays("lib-b") == 0


def test_an_event_id_taken_by_another_device_is_rejected_not_acknowledged(
    ingester: Ingester, device: DeviceSide, broker: MosquittoProcess, store: TenantStore
) -> None:
    theirs = play(TENANT, OTHER, 1)
    other = DeviceSide(broker, TENANT, OTHER)
    try:
        other.send_plays([theirs])
        assert other.next_ack()["event_ids"] == [theirs["event_id"]]
    finally:
        other.close()

    device.send_plays([play(TENANT, DEVICE, 1, event_id=theirs["event_id"])])
    ack = device.next_ack()

    assert ack["event_ids"] == []
    assert "another device" in ack["rejected"][0]["problem"]
    assert [r["device_id"] for r in store.play_rows(TENANT)] == [OTHER]


def test_malformed_batches_are_skipped_and_the_ingester_goes_on(
    ingester: Ingester, device: DeviceSide, store: TenantStore
) -> None:
    device.publish(device.topics.plays, b"\xff not json")
    device.publish(device.topics.plays, b'{"v": 1, "plays": []}')
    device.publish(device.topics.plays, b"[1, 2, 3]")
    device.publish(device.topics.status, b'{"v": 1, "online": "yes"}', retain=True)
    good = play(TENANT, DEVICE, 1)

    device.send_plays([good])

    assert device.next_ack()["event_ids"] == [good["event_id"]]
    with pytest.raises(queue.Empty):
        device.next_ack(timeout=0.3)
    assert ingester.counters.malformed == 4
    assert store.count_plays(TENANT) == 1


def test_batches_sent_while_the_ingester_is_stopped_are_stored_when_it_returns(
    store: TenantStore, broker: MosquittoProcess, device: DeviceSide
) -> None:
    make_ingester(store, broker).start().stop()  # the broker now keeps its session
    sent = [[play(TENANT, DEVICE, 10 * b + n) for n in range(1, 11)] for b in range(6)]
    batch_ids = [device.send_plays(plays) for plays in sent]

    with make_ingester(store, broker):
        acks = [device.next_ack() for _ in batch_ids]

    assert sorted(a["batch_id"] for a in acks) == sorted(batch_ids)
    assert store.count_plays(TENANT) == 60
    assert {r["event_id"] for r in store.play_rows(TENANT)} == {
        p["event_id"] for plays in sent for p in plays
    }


def test_batches_wait_through_a_broker_restart_while_the_ingester_is_down(
    store: TenantStore, broker: MosquittoProcess, device: DeviceSide
) -> None:
    make_ingester(store, broker).start().stop()
    plays = [play(TENANT, DEVICE, n) for n in range(1, 6)]
    device.send_plays(plays)
    broker.restart()

    with make_ingester(store, broker):
        eventually(lambda: store.count_plays(TENANT) == 5)

    assert {r["event_id"] for r in store.play_rows(TENANT)} == {p["event_id"] for p in plays}


def test_two_ingesters_side_by_side_share_the_batches_without_duplicates(
    database_url: str, broker: MosquittoProcess
) -> None:
    stores = [open_store(database_url) for _ in range(2)]
    ingesters = [make_ingester(s, broker, f"jk-ingest-{i}").start() for i, s in enumerate(stores)]
    devices = [DeviceSide(broker, TENANT, f"jk-{n:020d}") for n in range(4)]
    try:
        sent: dict[str, list[str]] = {}
        for b in range(10):
            for d in devices:
                plays = [play(TENANT, d.topics.device_id, 5 * b + n) for n in range(1, 6)]
                sent[d.send_plays(plays)] = [p["event_id"] for p in plays]
        acks: list[Json] = [d.next_ack() for d in devices for _ in range(10)]
        for d in devices:
            with pytest.raises(queue.Empty):
                d.next_ack(timeout=0.2)
    finally:
        for d in devices:
            d.close()
        for i in ingesters:
            i.stop()

    assert sorted(a["batch_id"] for a in acks) == sorted(sent)  # each batch acked once
    assert all(a["event_ids"] == sent[a["batch_id"]] for a in acks)
    assert [i.counters.batches > 0 for i in ingesters] == [True, True]
    assert sum(i.counters.batches for i in ingesters) == 40
    rows = stores[0].play_rows(TENANT)
    assert len(rows) == len({r["event_id"] for r in rows}) == 200
    for s in stores:
        s.close()


def status_when(store: TenantStore, condition: Callable[[DeviceStatus], bool]) -> DeviceStatus:
    def check() -> DeviceStatus | None:
        found = store.device_statuses(TENANT).get(DEVICE)
        return found if found is not None and condition(found) else None

    return eventually(check)


def test_status_heartbeat_reported_state_and_results_are_kept_per_device(
    ingester: Ingester, device: DeviceSide, store: TenantStore
) -> None:
    device.status(True, boot_id="boot-7", firmware_version="0.4.0")
    device.heartbeat(volume=40, outbox=3, playing={"playlist_id": "p1", "track_id": "trk-1"})
    device.reported(4, "syncing", missing=["p2"])
    device.result("req-1", True, command="identify")
    device.result(None, False, error="not JSON")

    status = status_when(
        store, lambda s: s.reported_version is not None and s.heartbeat is not None
    )
    result = eventually(lambda: store.get_command(TENANT, DEVICE, "req-1"))

    assert (status.online, status.boot_id, status.reason) == (True, "boot-7", None)
    assert '"outbox":3' in (status.heartbeat or "")
    assert (status.reported_version, status.reported_status) == (4, "syncing")
    assert status.reported_missing == '["p2"]'
    assert (result.ok, result.command, result.requested_ms) == (True, "identify", None)


def test_the_retained_status_seen_again_after_a_restart_keeps_its_since_time(
    store: TenantStore, broker: MosquittoProcess, device: DeviceSide
) -> None:
    with make_ingester(store, broker):
        device.status(True, boot_id="boot-1")
        first = status_when(store, lambda s: s.online is True)
    with make_ingester(store, broker, "jk-ingest-2"):  # a new session gets the retained status
        again = status_when(store, lambda s: s.status_ms != first.status_ms)
        device.status(False, reason="shutdown")
        offline = status_when(store, lambda s: s.online is False)

    assert (again.online, again.since_ms) == (True, first.since_ms)
    assert first.since_ms is not None and offline.since_ms is not None
    assert offline.since_ms > first.since_ms
    assert (offline.reason, offline.boot_id) == ("shutdown", "boot-1")


def test_jukebox_tenant_ingest_runs_as_its_own_process_until_sigterm(
    tmp_path: Path,
    broker: MosquittoProcess,
    device: DeviceSide,
    store: TenantStore,
    database_url: str,
) -> None:
    data = tmp_path / "tenant"
    save_broker_settings(data, broker_settings(broker))
    log = (tmp_path / "ingest.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "tenant", "ingest", "--data", str(data),
         "--client-id", "jk-ingest-process", "--database-url", database_url],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        plays = [play(TENANT, DEVICE, n) for n in (1, 2)]

        def sent_and_acked() -> Json | None:  # resent until the process has subscribed
            device.send_plays(plays)
            try:
                return device.next_ack(timeout=0.5)
            except queue.Empty:
                return None

        ack = eventually(sent_and_acked, timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()

    assert ack["event_ids"] == [p["event_id"] for p in plays]
    assert store.count_plays(TENANT) == 2
    output = (tmp_path / "ingest.log").read_text()
    assert "ingester jk-ingest-process connected" in output, output
