"""Group commit in the ingester: many messages, one transaction, acks only after the commit.

To make a group form for sure, the tests hold a write lock from another connection (as another
process writing would: SQLite's database lock, or PostgreSQL's locks on the tables the ingester
writes): the ingester's writer waits on it while the messages pile up in its memory, and writes
them together once the lock is released.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tenant.broker.process import MosquittoProcess
from tenant.broker.settings import save_broker_settings
from tenant.ingest import Ingester
from tenant.store import TenantStore
from tests.support.waiting import eventually
from tests.tenant.ingest_support import broker_settings, make_ingester
from tests.tenant.mqtt_device import DeviceSide, Json, play

TENANT = "lib-a"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "tenant"


@pytest.fixture
def devices(mqtt_broker: MosquittoProcess) -> Iterator[list[DeviceSide]]:
    sides = [DeviceSide(mqtt_broker, TENANT, f"jk-{n:020d}") for n in range(12)]
    yield sides
    for side in sides:
        side.close()


@contextlib.contextmanager
def database_locked(database_url: str) -> Iterator[None]:
    """Writes blocked by another connection until the block ends (reads go on)."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if make_url(database_url).get_backend_name() == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("BEGIN"))
                conn.execute(text("LOCK TABLE plays, device_status, commands IN EXCLUSIVE MODE"))
            yield
            conn.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()


def acks_of(device: DeviceSide, count: int) -> list[Json]:
    acks = [device.next_ack() for _ in range(count)]
    with pytest.raises(queue.Empty):
        device.next_ack(timeout=0.2)
    return acks


def test_batches_of_many_devices_in_one_group_are_stored_and_each_acked_to_its_device(
    mqtt_broker: MosquittoProcess,
    store: TenantStore,
    database_url: str,
    devices: list[DeviceSide],
) -> None:
    sent: dict[str, dict[str, list[str]]] = {d.topics.device_id: {} for d in devices}
    with make_ingester(store, mqtt_broker) as ingester, database_locked(database_url):
        for batch in range(3):
            for d in devices:
                plays = [play(TENANT, d.topics.device_id, 10 * batch + n) for n in range(1, 6)]
                sent[d.topics.device_id][d.send_plays(plays)] = [p["event_id"] for p in plays]
                d.heartbeat(volume=batch)  # only the last one of each device matters
        messages = len(devices) * 6
        eventually(lambda: ingester.pending == messages)
        assert store.count_plays(TENANT) == 0  # all in memory, nothing acked yet
        assert all(d.acks.empty() for d in devices)

    # The lock is released: the group the writer was holding commits, then all the others
    # together.
    for d in devices:
        acks = acks_of(d, 3)
        assert {a["batch_id"]: a["event_ids"] for a in acks} == sent[d.topics.device_id]
    assert ingester.counters.groups <= 2
    assert ingester.counters.batches == 36
    rows = store.play_rows(TENANT)
    assert len(rows) == len({r["event_id"] for r in rows}) == 12 * 15
    assert {(r["event_id"], r["device_id"]) for r in rows} == {
        (event_id, device_id)
        for device_id, batches in sent.items()
        for ids in batches.values()
        for event_id in ids
    }
    statuses = store.device_statuses(TENANT)
    assert all('"volume":2' in (statuses[d.topics.device_id].heartbeat or "") for d in devices)


def test_a_malformed_message_inside_a_group_does_not_affect_the_others(
    mqtt_broker: MosquittoProcess,
    store: TenantStore,
    database_url: str,
    devices: list[DeviceSide],
) -> None:
    a, b, c = devices[:3]
    good_a = [play(TENANT, a.topics.device_id, n) for n in (1, 2)]
    good_c = [play(TENANT, c.topics.device_id, 1)]
    bad = play(TENANT, b.topics.device_id, 2, listened_ms=-1)
    mixed = [play(TENANT, b.topics.device_id, 1), bad]
    with make_ingester(store, mqtt_broker) as ingester, database_locked(database_url):
        first = a.send_plays(good_a)
        b.publish(b.topics.plays, b"\xff not json")
        b.publish(b.topics.plays, b'{"v": 1, "batch_id": "x", "plays": "none"}')
        b.publish(b.topics.status, b'{"v": 1, "online": "yes"}', retain=True)
        b.publish(b.topics.heartbeat, b"[]", qos=0)
        b.publish(b.topics.command_result, b'{"v": 1}')
        partly = b.send_plays(mixed)
        c.status(True, boot_id="boot-c")
        last = c.send_plays(good_c)
        eventually(lambda: ingester.pending == 9)

    assert [(x["batch_id"], x["event_ids"]) for x in acks_of(a, 1)] == [
        (first, [p["event_id"] for p in good_a])
    ]
    (ack_b,) = acks_of(b, 1)
    assert (ack_b["batch_id"], ack_b["event_ids"]) == (partly, [mixed[0]["event_id"]])
    assert [r["event_id"] for r in ack_b["rejected"]] == [mixed[1]["event_id"]]
    assert [(x["batch_id"], x["event_ids"]) for x in acks_of(c, 1)] == [
        (last, [good_c[0]["event_id"]])
    ]
    assert ingester.counters.malformed == 5
    assert ingester.counters.groups <= 2
    assert store.count_plays(TENANT) == 4
    status = store.device_statuses(TENANT)[c.topics.device_id]
    assert (status.online, status.boot_id) == (True, "boot-c")
    assert b.topics.device_id not in store.device_statuses(TENANT)


def test_batches_held_in_memory_by_an_ingester_killed_before_its_commit_come_back(
    mqtt_broker: MosquittoProcess,
    store: TenantStore,
    data_dir: Path,
    database_url: str,
    devices: list[DeviceSide],
    tmp_path: Path,
) -> None:
    save_broker_settings(data_dir, broker_settings(mqtt_broker))
    client_id = "jk-ingest-killed"
    make_ingester(store, mqtt_broker, client_id).start().stop()  # its session, subscribed
    log_file = tmp_path / "ingest.log"
    sent: dict[str, list[str]] = {}
    with database_locked(database_url), log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jukebox", "-v", "tenant", "ingest", "--data", str(data_dir),
             "--client-id", client_id, "--database-url", database_url],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for d in devices[:5]:
                plays = [play(TENANT, d.topics.device_id, n) for n in range(1, 4)]
                sent[d.send_plays(plays)] = [p["event_id"] for p in plays]
            eventually(lambda: log_file.read_text().count("/plays (") == 5)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        assert store.count_plays(TENANT) == 0  # the writer never got the lock
    assert all(d.acks.empty() for d in devices)

    with make_ingester(store, mqtt_broker, client_id):  # the same session resumes
        acks = [ack for d in devices[:5] for ack in acks_of(d, 1)]

    assert {a["batch_id"]: a["event_ids"] for a in acks} == sent
    assert store.count_plays(TENANT) == 15


def test_a_lone_message_is_answered_at_once_in_a_group_of_its_own(
    mqtt_broker: MosquittoProcess, store: TenantStore, devices: list[DeviceSide]
) -> None:
    device = devices[0]
    with make_ingester(store, mqtt_broker) as ingester:
        for seq in range(1, 4):
            batch_id = device.send_plays([play(TENANT, device.topics.device_id, seq)])
            assert device.next_ack()["batch_id"] == batch_id
            eventually(lambda: ingester.pending == 0)
    assert (ingester.counters.groups, ingester.counters.largest_group) == (3, 1)


def test_nothing_received_before_a_stop_is_lost(
    mqtt_broker: MosquittoProcess, store: TenantStore, devices: list[DeviceSide]
) -> None:
    ingester: Ingester = make_ingester(store, mqtt_broker).start()
    sent = {}
    for d in devices:
        plays = [play(TENANT, d.topics.device_id, 1)]
        sent[d.send_plays(plays)] = [plays[0]["event_id"]]
    ingester.stop()
    assert ingester.pending == 0

    with make_ingester(store, mqtt_broker):  # what stop() left unanswered comes back
        acks = [d.next_ack() for d in devices]

    assert {a["batch_id"]: a["event_ids"] for a in acks} == sent
    assert store.count_plays(TENANT) == len(devices)
