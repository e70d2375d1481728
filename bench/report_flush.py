"""Flush of queued play reports: from the kiosk's journal to the tenant's database, end to end.

The whole real path: plays finished in a real journal (SQLite, synchronous=FULL) while the
kiosk was offline; the device's MQTT link (device/mqtt: publisher, paho, MQTT 5, QoS 1, a
bounded number of batches in flight) sends them through a real mosquitto to the tenant's real
ingester (tenant/ingest), which commits them to the tenant's SQLite database and acknowledges
them; the device deletes the acknowledged rows. The figure is reports per second from the
link's start until the journal is empty.

Beside it, in the same run and against the same broker, `mosquitto_pub -l` publishes the same
payloads (the same batches, one JSON document per line, QoS 1) to a topic nobody reads: the
broker's intake for these payloads, with no database and no acknowledgement, as a ceiling.

With `--acker bare` the ingester is replaced by a bare acker (parses the JSON, acknowledges,
stores nothing, checks no schema): the device side's own ceiling, to tell where time goes.

`--database postgresql` stores in a throwaway PostgreSQL server (tenant/store/postgres.py,
fsync on, as in production) instead of SQLite. Either database already holds `--history`
older plays (50,000), analysed, as one in service does (`--history 0`: a new database).

`--ingest-only` measures the ingester alone: the same batches wait in the broker (published
with mosquitto_pub to the device's plays topic while the ingester's persistent session is
away), then one ingester starts and stores them all, timed from its start to its last
acknowledgement (counted on the kiosk's ack topic: the database is not polled); beside it, in
the same run, a bare loop writes the same rows with one `INSERT … ON CONFLICT DO NOTHING` per
batch, one transaction each, into a fresh database of the same kind: the limit the ingester can
approach.

    .venv/bin/python bench/report_flush.py [--plays 10000] [--batch-size 250] [--in-flight 4]
                                           [--acker ingester|bare] [--database sqlite|postgresql]
    .venv/bin/python bench/report_flush.py --ingest-only [--database sqlite|postgresql]

Prints figures; asserts nothing. Aim: 5,000 reports/s or more.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.protocol import (
    INGEST_GROUP,
    PLAYS,
    DeviceTopics,
    encode,
    parse_topic,
    shared,
    wildcard,
)
from device.domain import DurationMs, EndReason, PlaylistId, StartedBy, TrackId
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity
from device.mqtt.health import HeartbeatSource
from device.mqtt.link import MqttLink
from device.mqtt.publisher import BATCH_SIZE, MAX_IN_FLIGHT, PlayPublisher
from device.mqtt.remote import RemoteOutbox
from device.mqtt.transport import BrokerAccount
from tenant.broker.process import MosquittoProcess
from tenant.broker.settings import BrokerAccount as TenantBrokerAccount
from tenant.broker.settings import BrokerSettings
from tenant.ingest import Ingester
from tenant.store import TenantStore, default_database_url
from tenant.store.postgres import PostgresServer
from tenant.store.reports import _row as play_row  # the ingester's own report -> row mapping
from tenant.store.schema import plays as plays_table
from tenant.store.upsert import insert_ignore

TENANT = "bench"
DEVICE = "jk-benchbenchbenchbench"
IDENTITY = JournalIdentity(
    tenant=TENANT, site="centre", device_id=DEVICE, firmware_version="0.1.0", boot_id="boot-1"
)


class _NoRemoteAdmin:
    """The benchmark measures play reports: desired states and commands are ignored."""

    def on_desired(self, payload: bytes) -> None:
        pass

    def on_command(self, payload: bytes) -> None:
        pass


def fill(journal: PlayJournal, count: int) -> float:
    """`count` finished plays through the journal's own API; returns the seconds it took."""
    started = time.perf_counter()
    for i in range(count):
        event_id = journal.open_play(
            playlist_id=PlaylistId("festival"),
            playlist_revision="rev-1",
            track_id=TrackId(f"sha256:{i:064x}"),
            isrc="FRZ032600001",
            track_duration_ms=215_000,
            started_by=StartedBy.VISITOR,
            started_wall_ms=1_780_000_000_000 + i * 1000,
            clock_synced=True,
            started_uptime_ms=42_000 + i,
        )
        journal.close_play(
            event_id,
            listened_ms=DurationMs(31_000),
            reason=EndReason.FINISHED,
            ended_wall_ms=1_780_000_031_000 + i * 1000,
        )
        if (i + 1) % 2000 == 0:
            print(f"  journal: {i + 1}/{count} plays recorded", flush=True)
    return time.perf_counter() - started


def payload_lines(journal: PlayJournal, batch_size: int) -> list[bytes]:
    """The batches the publisher sends, encoded the same way (one per line for mosquitto_pub)."""
    plays = journal.plays(finished_only=True)
    lines = []
    for n in range(0, len(plays), batch_size):
        batch = {
            "v": 1,
            "batch_id": f"baseline-{n}",
            "plays": [p.to_dict() for p in plays[n : n + batch_size]],
        }
        lines.append(encode("play-batch", batch, check=False))
    return lines


def poll_cost_us(journal: PlayJournal, rounds: int = 2000) -> float:
    """One look at the journal when nothing new has finished (what the publisher does each s)."""
    last = journal.stats().last_seq or 0
    started = time.perf_counter()
    for _ in range(rounds):
        journal.finished_after(last, 100)
    return (time.perf_counter() - started) / rounds * 1e6


def mosquitto_pub_seconds(
    broker: MosquittoProcess, lines: list[bytes], folder: Path, topic: str = "bench/baseline/plays"
) -> float:
    binary = shutil.which("mosquitto_pub")
    if binary is None:
        raise SystemExit("mosquitto_pub is missing: apt-get install mosquitto-clients")
    source = folder / "payloads.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    command = [binary, "-h", broker.host, "-p", str(broker.port), "-V", "mqttv5", "-q", "1"]
    command += ["-i", "bench-baseline", "-t", topic, "-l"]
    started = time.perf_counter()
    with source.open("rb") as stdin:
        subprocess.run(command, stdin=stdin, check=True)
    return time.perf_counter() - started


class BareAcker:
    """Acknowledges every batch at once: no schema check, no database (see module doc)."""

    def __init__(self, broker: MosquittoProcess) -> None:
        from paho.mqtt.client import Client
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        self.stored = 0
        self.client = Client(
            CallbackAPIVersion.VERSION2, client_id="bare-acker", protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(shared(INGEST_GROUP, wildcard(PLAYS)), qos=1)
        self.client.loop_start()

    def _on_message(self, client: object, _userdata: object, message: object) -> None:
        topic: str = message.topic  # type: ignore[attr-defined]
        batch = json.loads(message.payload)  # type: ignore[attr-defined]
        address = parse_topic(topic)
        assert address is not None
        ids = [play["event_id"] for play in batch["plays"]]
        self.stored += len(ids)
        ack = {"v": 1, "batch_id": batch["batch_id"], "event_ids": ids}
        ack_topic = DeviceTopics(address.tenant, address.device_id).ack
        self.client.publish(ack_topic, encode("play-ack", ack, check=False), qos=1)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Databases:
    """New databases of the benchmark's kind: SQLite files, or a throwaway PostgreSQL's."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.folder = folder
        self.server = PostgresServer(durable=True).start() if kind == "postgresql" else None
        self.count = 0

    def new(self) -> str:
        self.count += 1
        if self.server is not None:
            return self.server.create_database()
        (self.folder / f"tenant-{self.count}").mkdir()
        return default_database_url(self.folder / f"tenant-{self.count}")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


HISTORY = 50_000  # plays already in the database before the measured ones
MONTH_MS = 30 * 86_400_000


def with_history(url: str, lines: list[bytes], count: int) -> str:
    """Give the new database `count` older plays of the same kiosk, then ANALYZE it, as a
    database in service holds (autovacuum keeps its statistics): on a new, never analysed
    PostgreSQL database the planner finds the owners of a group's event ids by scanning every
    play of the tenant instead of the primary key (EXPLAIN ANALYZE, docs/tenant-production.md)."""
    import uuid

    from sqlalchemy import text

    if count <= 0:
        return url
    template = [play for line in lines for play in json.loads(line)["plays"]]
    store = TenantStore(url)
    try:
        received = now_ms() - MONTH_MS
        rows = []
        for i in range(count):
            play = dict(template[i % len(template)], event_id=str(uuid.uuid4()), seq=-1 - i)
            for key in ("started_wall_ms", "ended_wall_ms"):
                if isinstance(play.get(key), int):
                    play[key] -= MONTH_MS
            rows.append(play_row(TENANT, play, received))
        for start in range(0, len(rows), 1000):
            with store.engine.begin() as conn:
                insert_ignore(conn, plays_table, rows[start : start + 1000])
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE plays"))
    finally:
        store.close()
    return url


def now_ms() -> int:
    return int(time.time() * 1000)


class AckCounter:
    """Counts the event ids the ingester acknowledges on the kiosk's ack topic, so the timing
    needs no query of the database it measures (a COUNT(*) poll competes with its inserts)."""

    def __init__(self, broker: MosquittoProcess, expected: int) -> None:
        import threading

        from paho.mqtt.client import Client
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        self.expected = expected
        self.acked: set[str] = set()
        self.first_s: float | None = None
        self.last_s: float | None = None
        self.done = threading.Event()
        subscribed = threading.Event()
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id="ack-counter",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(DeviceTopics(TENANT, DEVICE).ack, qos=1)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit("the ack counter could not subscribe to the broker")

    def _on_message(self, _client: object, _userdata: object, message: object) -> None:
        now = time.perf_counter()
        ack = json.loads(message.payload)  # type: ignore[attr-defined]
        self.first_s = self.first_s or now
        self.acked.update(ack["event_ids"])
        if len(self.acked) >= self.expected:
            self.last_s = now
            self.done.set()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def ingest_only(
    broker: MosquittoProcess,
    settings: BrokerSettings,
    databases: Databases,
    lines: list[bytes],
    folder: Path,
    history: int,
) -> tuple[float, float, float, int]:
    """(seconds from the ingester's start to its last ack, of which the seconds before its
    first ack, seconds for the bare loop, plays)."""
    batches = [json.loads(line)["plays"] for line in lines]
    count = sum(len(b) for b in batches)
    store = TenantStore(with_history(databases.new(), lines, history))
    try:
        Ingester(store, settings, client_id="jk-ingest-only", now_ms=now_ms).start().stop()
        mosquitto_pub_seconds(broker, lines, folder, DeviceTopics(TENANT, DEVICE).plays)
        acks = AckCounter(broker, count)
        try:
            started = time.perf_counter()
            ingester = Ingester(store, settings, client_id="jk-ingest-only", now_ms=now_ms).start()
            try:
                if not acks.done.wait(600):
                    raise SystemExit(f"only {len(acks.acked)} of {count} plays acknowledged")
            finally:
                ingester.stop()
        finally:
            acks.stop()
        assert acks.first_s is not None and acks.last_s is not None
        ingest_s, start_s = acks.last_s - started, acks.first_s - started
        stored = store.count_plays(TENANT) - history
        if stored != count:
            raise SystemExit(f"{stored} plays stored, {count} acknowledged")
    finally:
        store.close()

    # Its engine: the same pragmas and pool as the store's; the same history, analysed.
    bare = TenantStore(with_history(databases.new(), lines, history))
    try:
        received = now_ms()
        rows = [[play_row(TENANT, play, received) for play in batch] for batch in batches]
        started = time.perf_counter()
        for batch_rows in rows:
            with bare.engine.begin() as conn:
                insert_ignore(conn, plays_table, batch_rows)
        bare_s = time.perf_counter() - started
        assert bare.count_plays(TENANT) == count + history
    finally:
        bare.close()
    return ingest_s, start_s, bare_s, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plays", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--in-flight", type=int, default=MAX_IN_FLIGHT)
    parser.add_argument("--acker", choices=("ingester", "bare"), default="ingester")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--ingest-only", action="store_true", help="the ingester alone")
    parser.add_argument(
        "--history",
        type=int,
        default=HISTORY,
        help=f"older plays in the tenant's database, analysed, before the run (default {HISTORY})",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory(prefix="report-flush-") as tmp:
        folder = Path(tmp)
        print(f"recording {args.plays} finished plays in a real journal (kiosk offline)...")
        kiosk_journal = PlayJournal(folder / "journal.sqlite3", IDENTITY)
        fill_s = fill(kiosk_journal, args.plays)
        outbox = PlayJournal(kiosk_journal.path, IDENTITY, exclusive=False)
        lines = payload_lines(outbox, args.batch_size)
        poll_us = poll_cost_us(outbox)

        broker = MosquittoProcess(folder / "mosquitto").start()
        databases = Databases(args.database, folder)
        settings = BrokerSettings(
            host=broker.host,
            port=broker.port,
            service=TenantBrokerAccount("jk-service", "unused"),
            ingester=TenantBrokerAccount("jk-ingester", "unused"),
        )
        if args.ingest_only:
            print(f"ingest only, {args.database}: {args.plays} plays waiting in the broker...")
            try:
                ingest_s, start_s, bare_s, count = ingest_only(
                    broker, settings, databases, lines, folder, args.history
                )
            finally:
                broker.stop()
                databases.close()
                outbox.close()
                kiosk_journal.close()
            print()
            print(f"plays                      {count} in {len(lines)} batches ({args.database})")
            print(
                f"one ingester, acknowledged {ingest_s:.2f} s  {count / ingest_s:,.0f} plays/s "
                f"(from its start; {start_s * 1000:.0f} ms to the first ack)"
            )
            print(
                f"bare INSERT … ON CONFLICT  {bare_s:.2f} s  {count / bare_s:,.0f} plays/s "
                "(one statement and one commit per batch)"
            )
            print(f"ingester / bare loop       {bare_s / ingest_s:.2f}")
            return
        store = TenantStore(with_history(databases.new(), lines, args.history))
        ingester: Ingester | BareAcker
        if args.acker == "bare":
            ingester = BareAcker(broker)
        else:
            ingester = Ingester(
                store, settings, client_id="jk-ingest-bench", now_ms=lambda: int(time.time() * 1000)
            ).start()
        topics = DeviceTopics(TENANT, DEVICE)

        def publisher(*pargs: object) -> PlayPublisher:
            return PlayPublisher(
                *pargs,  # type: ignore[arg-type]
                batch_size=args.batch_size,
                max_in_flight=args.in_flight,
            )

        link = MqttLink(
            BrokerAccount(broker.host, broker.port, False, DEVICE, "unused"),
            topics,
            outbox,
            inbox=_NoRemoteAdmin(),
            remote=RemoteOutbox(),
            heartbeat=HeartbeatSource(firmware_version="0.1.0", state_dir=folder),
            publisher=publisher,
        )
        try:
            print(f"flushing through mosquitto {broker.host}:{broker.port} to the ingester...")
            started = time.perf_counter()
            link.start()
            next_report = started + 1.0
            # Watch through the kiosk's own connection, cheaply: a count every 5 ms would cost
            # the publisher more than its own work.
            while kiosk_journal.plays(limit=1):
                time.sleep(0.02)
                if time.perf_counter() >= next_report:
                    left = kiosk_journal.stats().total
                    print(f"  {args.plays - left}/{args.plays} acknowledged", flush=True)
                    next_report += 1.0
            flush_s = time.perf_counter() - started
            stored = (
                ingester.stored
                if isinstance(ingester, BareAcker)
                else store.count_plays(TENANT) - args.history
            )
            stats = link.publisher.stats
        finally:
            link.close()
            ingester.stop()
            outbox.close()
            kiosk_journal.close()

        print("publishing the same payloads with mosquitto_pub -l (QoS 1)...")
        try:
            baseline_s = mosquitto_pub_seconds(broker, lines, folder)
        finally:
            broker.stop()
            store.close()
            databases.close()

    device_rate = args.plays / flush_s
    baseline_rate = args.plays / baseline_s
    print()
    print(f"plays                      {args.plays} in {len(lines)} batches of {args.batch_size}")
    print(f"tenant database            {args.database}")
    print(f"journal fill (setup)       {fill_s:.1f} s ({args.plays / fill_s:.0f} plays/s)")
    print(f"journal poll, nothing new  {poll_us:.0f} µs ({poll_us / 1e4:.4f} % of a core at 1 Hz)")
    print(
        f"device -> {args.acker:8} -> ack  {flush_s:.2f} s  {device_rate:,.0f} reports/s "
        f"(stored at the tenant: {stored}; batches sent {stats.batches_sent}, "
        f"resent {stats.resends})"
    )
    print(
        f"mosquitto_pub -l, QoS 1    {baseline_s:.2f} s  {baseline_rate:,.0f} reports/s "
        f"(broker intake only: no database, no ack)"
    )
    print(f"end to end / mosquitto_pub {device_rate / baseline_rate:.2f}")
    print(
        f"aim                        5,000 reports/s: {'met' if device_rate >= 5000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
