"""`jukebox tenant ingest`: one ingester as its own process, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path
from types import FrameType

from tenant.broker.settings import BROKER_FILE, load_broker_settings
from tenant.ingest.ingester import Ingester
from tenant.settings import TenantSettings
from tenant.store import TenantStore, default_database_url

log = logging.getLogger(__name__)

REPORT_EVERY_S = 60.0


def default_client_id() -> str:
    """Stable across restarts (the broker keeps this client's session and queued batches)."""
    return f"jk-ingest-{socket.gethostname()}"[:64]


def run_ingester(data_dir: Path, database_url: str | None, client_id: str) -> int:
    broker = load_broker_settings(data_dir)
    if broker is None:
        raise FileNotFoundError(
            f"no {data_dir / BROKER_FILE}: the ingester needs the broker's address and its "
            "ingester account (see docs/tenant.md, MQTT)"
        )
    store = TenantStore(database_url or default_database_url(Path(data_dir).absolute()))
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("ingester %s: %s, stopping", client_id, signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ingester = Ingester(store, broker, client_id=client_id, now_ms=TenantSettings().now_ms)
    ingester.start(timeout=None)
    log.info("ingester %s: connecting to %s:%d", client_id, broker.host, broker.port)
    try:
        reported = 0
        while not stopping.wait(REPORT_EVERY_S):
            counters = ingester.counters
            if counters.batches != reported:
                reported = counters.batches
                log.info("ingester %s: %s", client_id, counters)
    finally:
        ingester.stop()
        store.close()
    log.info("ingester %s stopped: %s", client_id, ingester.counters)
    return 0
