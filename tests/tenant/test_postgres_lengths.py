"""Every play the protocol accepts fits its columns: PostgreSQL enforces VARCHAR lengths where
SQLite does not, so a batch valid against play-batch.json but longer than a column would be
refused by the database forever (and resent by the kiosk forever)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tenant.broker.process import MosquittoProcess
from tenant.ingest import Ingester
from tenant.store import TenantStore
from tenant.store.schema import plays
from tests.tenant.ingest_support import make_ingester
from tests.tenant.mqtt_device import DeviceSide, play

TENANT = "lib-a"
DEVICE = "jk-" + "l" * 20
SCHEMA = Path(__file__).parents[2] / "contract" / "protocol" / "schemas" / "play-batch.json"


def longest_strings() -> dict[str, int]:
    """The play's string fields with a maxLength in the protocol, and that length."""
    fields = json.loads(SCHEMA.read_text())["properties"]["plays"]["items"]["properties"]
    return {name: f["maxLength"] for name, f in fields.items() if "maxLength" in f}


def test_every_play_column_is_as_long_as_the_protocol_allows() -> None:
    for name, length in longest_strings().items():
        column_length = getattr(plays.c[name].type, "length", None)
        assert column_length is None or column_length >= length, (name, column_length, length)


def test_a_play_with_every_field_at_its_longest_is_stored_and_acknowledged(
    store: TenantStore, mqtt_broker: MosquittoProcess
) -> None:
    longest: dict[str, Any] = {
        name: ("x" * length if name != "isrc" else "FRZ032600001")
        for name, length in longest_strings().items()
        if name not in ("tenant", "device_id")  # the topic's own
    }
    report = play(TENANT, DEVICE, 1, **longest)
    device = DeviceSide(mqtt_broker, TENANT, DEVICE)
    ingester: Ingester = make_ingester(store, mqtt_broker)
    try:
        with ingester:
            device.send_plays([report])
            ack = device.next_ack()
    finally:
        device.close()

    assert ack["event_ids"] == [report["event_id"]] and "rejected" not in ack
    (row,) = store.play_rows(TENANT)
    assert {name: row[name] for name in longest} == longest
