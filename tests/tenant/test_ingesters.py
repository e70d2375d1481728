"""Several `jukebox tenant ingest` processes on the shared subscription, one killed mid-stream.

Real processes, a real mosquitto and the real database (SQLite and PostgreSQL): the kill is a
SIGKILL, so the killed ingester's unacknowledged batches are the broker's to deliver again.
Like systemd (Restart=always), the test starts it again under the same client id; its
persistent session brings back what it held and what the broker queued for it.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant.broker.process import MosquittoProcess
from tenant.broker.settings import save_broker_settings
from tenant.store import TenantStore
from tests.support.waiting import eventually
from tests.tenant.ingest_support import broker_settings, make_ingester, open_store
from tests.tenant.mqtt_device import DeviceSide, Json, play

TENANT = "lib-a"
DEVICES = 6
PLAYS_PER_BATCH = 5
ROUNDS_AFTER_KILL = 15
MAX_ROUNDS = 2000


class IngestProcess:
    """`jukebox -v tenant ingest` in its own process, its output in a log file."""

    def __init__(self, data_dir: Path, database_url: str, client_id: str, log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jukebox", "-v", "tenant", "ingest",
                 "--data", str(data_dir), "--database-url", database_url,
                 "--client-id", client_id],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def batches_received(self) -> int:
        return self.log.read_text(errors="replace").count("/plays (")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


@pytest.fixture
def devices(mqtt_broker: MosquittoProcess) -> Iterator[list[DeviceSide]]:
    sides = [DeviceSide(mqtt_broker, TENANT, f"jk-{n:020d}") for n in range(DEVICES)]
    yield sides
    for side in sides:
        side.close()


class Kiosks(threading.Thread):
    """Every device sends a batch per round, until ROUNDS_AFTER_KILL rounds after the kill."""

    def __init__(self, devices: list[DeviceSide], killed: threading.Event) -> None:
        super().__init__(daemon=True)
        self.devices = devices
        self.killed = killed
        self.sent: dict[str, list[str]] = {}  # batch id -> event ids
        self.rounds_before_kill = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            after = 0
            for n in itertools.count():
                if n >= MAX_ROUNDS:
                    raise RuntimeError("the ingester under test was never killed")
                killed = self.killed.is_set()
                for d in self.devices:
                    plays = [
                        play(TENANT, d.topics.device_id, PLAYS_PER_BATCH * n + i)
                        for i in range(1, PLAYS_PER_BATCH + 1)
                    ]
                    self.sent[d.send_plays(plays)] = [p["event_id"] for p in plays]
                if killed:
                    after += 1
                    if after >= ROUNDS_AFTER_KILL:
                        return
                else:
                    self.rounds_before_kill += 1
                time.sleep(0.01)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_an_ingester_killed_mid_stream_loses_nothing_and_nothing_is_stored_twice(
    mqtt_broker: MosquittoProcess,
    database_url: str,
    devices: list[DeviceSide],
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "tenant"
    save_broker_settings(data_dir, broker_settings(mqtt_broker))
    store: TenantStore = open_store(database_url)
    clients = ("jk-ingest-a", "jk-ingest-b")
    for client in clients:  # their sessions exist, subscribed to the shared plays
        make_ingester(store, mqtt_broker, client).start().stop()
    a = IngestProcess(data_dir, database_url, clients[0], tmp_path / "a.log")
    b = IngestProcess(data_dir, database_url, clients[1], tmp_path / "b.log")
    killed = threading.Event()
    kiosks = Kiosks(devices, killed)
    restarted: IngestProcess | None = None
    try:
        kiosks.start()
        eventually(lambda: a.batches_received() >= 3 and b.batches_received() >= 3, timeout=30)
        a.kill()
        killed.set()
        kiosks.join(timeout=120)
        assert not kiosks.is_alive() and kiosks.error is None, kiosks.error
        restarted = IngestProcess(data_dir, database_url, clients[0], tmp_path / "a2.log")

        acked: dict[str, Json] = {}

        def every_batch_acked() -> bool:
            for d in devices:
                while not d.acks.empty():
                    ack = d.acks.get_nowait()
                    acked[ack["batch_id"]] = ack
            return set(acked) == set(kiosks.sent)

        eventually(every_batch_acked, timeout=60)
        assert b.stop() == 0 and restarted.stop() == 0
    finally:
        for p in (a, b, restarted):
            if p is not None and p.process.poll() is None:
                p.process.kill()
                p.process.wait()

    sent_ids = [event_id for ids in kiosks.sent.values() for event_id in ids]
    rows = store.play_rows(TENANT)
    store.close()
    assert kiosks.rounds_before_kill >= 1  # the kill came mid-stream, not before or after
    assert all(acked[batch]["event_ids"] == ids for batch, ids in kiosks.sent.items())
    assert all("rejected" not in ack for ack in acked.values())
    assert len(rows) == len({r["event_id"] for r in rows}) == len(sent_ids)  # once each
    assert {r["event_id"] for r in rows} == set(sent_ids)  # nothing lost
    assert b.batches_received() > 0 and restarted.batches_received() > 0
