"""What bench/fleet.py measures against: a mosquitto, its ackers, and the tenant's database.

Kept apart from the kiosk simulation so that each file stays small. Two brokers:
- anonymous (the default): MosquittoProcess's minimal configuration, plain MQTT;
- `tls=True`: the broker as `jukebox tenant broker-setup` writes it (TLS listener, dynamic
  security with the service and ingester accounts), plus, as the running service would add
  them, one account and one role per simulated kiosk, written into the plugin's file before
  the broker starts (adding 10,000 over $CONTROL would measure the service, not the fleet).

The ackers are `jukebox tenant ingest` processes (as many as asked, on the shared
subscription) over SQLite in the data directory or a database of a throwaway PostgreSQL
(tenant/store/postgres.py, fsync on as in production), or an echo acker in this process.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.protocol import INGEST_GROUP, PLAYS, DeviceTopics, parse_topic, shared, wildcard
from tenant.broker.client import mqtt_client
from tenant.broker.process import BrokerTls, MosquittoProcess, free_port
from tenant.broker.roles import device_acls, device_role
from tenant.broker.settings import BrokerAccount, BrokerSettings, save_broker_settings
from tenant.broker.setup import write_broker_setup
from tenant.store import TenantStore, default_database_url
from tenant.store.postgres import PostgresServer

TENANT = "bench-fleet"
KIOSK_PASSWORD = "bench-kiosk"  # every simulated kiosk's (one hash: 10,000 are written fast)
INGESTER_START_S = 30.0


def device_id(i: int) -> str:
    return f"jk-fleet{i:012d}"


@dataclass(frozen=True)
class Target:
    """How a simulated kiosk reaches the broker (picklable: sent to the kiosk processes)."""

    host: str
    port: int
    ca_file: str | None = None  # TLS when set
    password: str | None = None  # accounts when set: username = device id

    def tls_context(self) -> ssl.SSLContext | None:
        """One context per kiosk process, shared by its clients."""
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None


@dataclass
class Backend:
    target: Target
    pids: dict[str, int]  # broker, ingest-1, ingest-2… (or acker): the processes watched
    stop: Callable[[], None]
    database_url: str | None = None  # the ingesters' (None: echo, nothing stored)
    logs: dict[str, Path] = field(default_factory=dict)  # ingest-1…: its log file

    def stored(self) -> tuple[int | None, dict[str, int]]:
        """After stop(): plays in the database, and plays each ingester stored (its last
        counters line; a play stored twice would show as more than the database holds)."""
        by_ingester = {}
        for name, path in self.logs.items():
            found = re.findall(rb"plays_stored=(\d+)", path.read_bytes())
            by_ingester[name] = int(found[-1]) if found else 0
        if self.database_url is None:
            return None, by_ingester
        store = TenantStore(self.database_url)
        try:
            return store.count_plays(TENANT), by_ingester
        finally:
            store.close()


class Databases:
    """A fresh tenant database per fleet size: SQLite in the data directory (None: the
    ingester's default) or a new database on one PostgreSQL server for the whole run."""

    def __init__(self, kind: str) -> None:
        self.server = PostgresServer(durable=True).start() if kind == "postgresql" else None

    def new(self) -> str | None:
        if self.server is None:
            return None
        url = self.server.create_database()
        TenantStore(url).close()  # the schema, made once before several ingesters start
        return url

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def start_backend(
    work: Path, size: int, *, tls: bool, ingesters: int, database_url: str | None, echo: bool
) -> Backend:
    """The broker (and, unless `echo`, the ingesters) for a fleet of `size` kiosks."""
    data = work / "tenant"
    data.mkdir(parents=True)
    if tls:
        broker, settings, target = _production_broker(work / "broker", data, size)
    else:
        broker = MosquittoProcess(work / "broker").start()
        account = BrokerAccount("jk-ingester", "unused")
        settings = BrokerSettings(broker.host, broker.port, service=account, ingester=account)
        save_broker_settings(data, settings)
        target = Target(broker.host, broker.port)
    pids = {"broker": _child_pid("mosquitto")}
    logs: dict[str, Path] = {}
    try:
        if echo:
            stop_acker = _start_echo(settings)
            pids["acker"] = os.getpid()
        else:
            stop_acker = _start_ingesters(work, data, ingesters, database_url, pids, logs)
    except BaseException:
        broker.stop()
        raise

    def stop() -> None:
        stop_acker()
        broker.stop()

    url = None if echo else database_url or default_database_url(data.absolute())
    return Backend(target, pids, stop, url, logs)


def _production_broker(
    folder: Path, data: Path, size: int
) -> tuple[MosquittoProcess, BrokerSettings, Target]:
    port = free_port()
    user = getpass.getuser() if os.geteuid() == 0 else None  # keep access to the folder
    setup = write_broker_setup(
        folder,
        port=port,
        bind="127.0.0.1",
        service_host="127.0.0.1",
        tls_hostnames=("127.0.0.1",),
        data_dir=data,
        user=user,
    )
    assert setup.tls is not None
    _add_kiosk_accounts(setup.dynsec_file, size)
    with setup.config_file.open("a") as config:  # a fleet, not a demo: no connection cap
        config.write("max_connections -1\nlog_type error\nlog_type warning\n")
    tls = BrokerTls(setup.tls.ca_file, setup.tls.cert_file, setup.tls.key_file)
    broker = MosquittoProcess(folder, port=port, tls=tls, config=setup.config_file).start()
    return broker, setup.settings, Target("127.0.0.1", port, str(tls.ca_file), KIOSK_PASSWORD)


def _add_kiosk_accounts(dynsec_file: Path, size: int) -> None:
    """One client and one role per kiosk, in the plugin's format (tenant/broker/setup.py)."""
    document: dict[str, Any] = json.loads(dynsec_file.read_text())
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", KIOSK_PASSWORD.encode(), salt, 101)
    password = {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": 101,
    }
    for i in range(size):
        name = device_id(i)
        role = device_role(TENANT, name)
        document["clients"].append({"username": name, **password, "roles": [{"rolename": role}]})
        document["roles"].append({"rolename": role, "acls": device_acls(TENANT, name)})
    dynsec_file.write_text(json.dumps(document))


def _start_ingesters(
    work: Path,
    data: Path,
    count: int,
    database_url: str | None,
    pids: dict[str, int],
    logs: dict[str, Path],
) -> Callable[[], None]:
    """`count` ingester processes, each with its own client id, waited for until connected."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def stop() -> None:
        for process, _log in processes:
            process.terminate()
        for process, _log in processes:
            process.wait(timeout=30)

    command = [sys.executable, "-m", "jukebox", "tenant", "ingest", "--data", str(data)]
    if database_url is not None:
        command += ["--database-url", database_url]
    for n in range(1, count + 1):
        log_path = work / f"ingest-{n}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--client-id", f"jk-ingest-bench-{n}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append((process, log_path))
        pids[f"ingest-{n}"] = process.pid
        logs[f"ingest-{n}"] = log_path
    deadline = time.monotonic() + INGESTER_START_S
    try:
        for process, log_path in processes:  # connected and subscribed: its log says so
            while b" connected to " not in log_path.read_bytes():
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{log_path}: {log_path.read_text()}")
                time.sleep(0.1)
    except BaseException:
        stop()
        raise
    time.sleep(0.5)
    return stop


def _start_echo(settings: BrokerSettings) -> Callable[[], None]:
    """A client in this process that acknowledges every batch unread: what the simulation and
    the broker can do with an acker that costs nothing."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = 2000
    client = mqtt_client(settings, settings.ingester, "echo")
    client.max_inflight_messages_set(1000)
    subscribed = threading.Event()

    def on_message(c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        address = parse_topic(message.topic)
        batch = json.loads(message.payload)
        if address is not None:
            ack = {"v": 1, "batch_id": batch["batch_id"], "event_ids": []}
            c.publish(DeviceTopics(address.tenant, address.device_id).ack, json.dumps(ack), 1)

    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe(shared(INGEST_GROUP, wildcard(PLAYS)), 1)
    client.connect(settings.host, settings.port, properties=properties)
    client.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("the echo acker did not subscribe within 10 s")

    def stop() -> None:
        client.disconnect()
        client.loop_stop()

    return stop


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mib(pid: int) -> float:
    """The process's peak resident set so far (VmHWM in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child_pid(name: str) -> int:
    """The `name` process this process started last (a child of ours)."""
    children = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _parent_and_name(p) == (os.getpid(), name)
    ]
    return max(children)


def _parent_and_name(proc: Path) -> tuple[int, str] | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    return int(stat[stat.rindex(")") + 2 :].split()[1]), name
