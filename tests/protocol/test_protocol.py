"""The MQTT contract: every schema is a valid JSON schema, real plays fit it, and a payload that
does not fit is refused with a message that names where it is wrong."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, get_args

import pytest
from jsonschema import Draft7Validator

from contract.protocol import (
    DeviceTopics,
    PayloadError,
    Schema,
    decode,
    encode,
    load_schema,
    parse_topic,
    shared,
    wildcard,
)
from contract.protocol.payloads import MAX_PAYLOAD_BYTES
from device.domain import DurationMs, EndReason, PlaylistId, StartedBy, TrackId
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity
from device.mqtt.publisher import _Batch, _encode

SCHEMAS: tuple[Schema, ...] = get_args(Schema)
IDENTITY = JournalIdentity(
    "mediatheques-sud", "carre-d-art", "jk-abcdefghij0123456789", "0.4", "b1"
)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_schema_is_a_valid_draft_07_schema(name: Schema) -> None:
    Draft7Validator.check_schema(load_schema(name))


def test_every_schema_file_is_named_in_the_schema_type_and_in_the_docs() -> None:
    folder = Path(__file__).parents[2] / "contract" / "protocol" / "schemas"
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(SCHEMAS)
    docs = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    for name in SCHEMAS:
        assert f"schemas/{name}.json" in docs


def test_real_journal_plays_fit_the_play_batch_schema(tmp_path: Path) -> None:
    with PlayJournal(tmp_path / "journal.sqlite3", IDENTITY) as journal:
        for i, reason in enumerate(EndReason):
            play = journal.open_play(
                playlist_id=PlaylistId("festival"),
                playlist_revision="rev1",
                track_id=TrackId(f"t{i}"),
                isrc=None if i % 2 else "FRZ032600001",
                track_duration_ms=DurationMs(215_000) if i % 2 else None,
                started_by=list(StartedBy)[i % len(StartedBy)],
                started_wall_ms=1_780_000_000_000,
                clock_synced=bool(i % 2),
                started_uptime_ms=42_000,
            )
            journal.close_play(
                play, listened_ms=DurationMs(31_000), reason=reason, ended_wall_ms=1_780_000_031_000
            )
        plays = [p.to_dict() for p in journal.plays(finished_only=True)]
        wire = journal.finished_wire_after(0, 100, error_max=500)
    assert len(plays) == len(EndReason)
    payload = encode("play-batch", {"v": 1, "batch_id": "b-1", "plays": plays})
    assert decode("play-batch", payload)["plays"] == plays
    # The publisher's payload, joined from the journal's JSON, passes the same check.
    batch = _Batch(uuid.uuid4().hex, {w.event_id: w.json for w in wire}, wire[-1].seq)
    assert decode("play-batch", _encode(batch))["plays"] == plays


def test_an_open_play_is_not_a_report() -> None:
    batch = _batch(end_reason=None)
    with pytest.raises(
        PayloadError, match=r"play-batch: plays\[0\]\.end_reason: None must be one of"
    ):
        encode("play-batch", batch)


@pytest.mark.parametrize(
    ("schema", "payload", "message"),
    [
        ("command-request", b"{", "command-request: not JSON"),
        ("command-request", b"\xff\xfe", "command-request: not UTF-8 text"),
        ("command-request", b"[]", "command-request: (top level): [] must be object"),
        (
            "command-request",
            b'{"v":1,"request_id":"r1","command":"format-disk"}',
            "command-request: command: 'format-disk' must be one of",
        ),
        (
            "command-request",
            b'{"v":1,"request_id":"r1","command":"identify","args":{"seconds":"ten"}}',
            "command-request: args.seconds: 'ten' must be integer",
        ),
        (
            "desired-state",
            b'{"v":1,"version":2,"playlists":["a"],"volume":{"min":10,"max":101}}',
            "desired-state: volume.max: 101 must be smaller than or equal to 100",
        ),
        (
            "desired-state",
            b'{"v":1,"version":2,"playlists":["../etc"]}',
            "desired-state: playlists[0]: '../etc' must match pattern",
        ),
        (
            "desired-state",
            b'{"v":2,"version":2,"playlists":[]}',
            "desired-state: v: 2 must be 1",
        ),
        (
            "desired-state",
            b'{"v":1,"version":2,"playlists":[],'
            b'"opening_hours":[{"days":"mon","from":"25:00","to":"18:00"}]}',
            "desired-state: opening_hours[0].from: '25:00' must match pattern",
        ),
        (
            "status",
            b'{"v":1,"online":true,"extra":1}',
            "status: (top level): must not contain {'extra'} properties",
        ),
    ],
)
def test_a_bad_payload_is_refused_naming_where(
    schema: Schema, payload: bytes, message: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        decode(schema, payload)
    assert str(caught.value).startswith(message)


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    payload = b'{"v":1,"request_id":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    with pytest.raises(PayloadError, match="more than 262144"):
        decode("command-request", payload)


def test_deep_nesting_is_a_payload_error_not_a_crash() -> None:
    with pytest.raises(PayloadError):
        decode("command-request", b"[" * 100_000 + b"]" * 100_000)


def test_device_topics_and_their_parse_agree() -> None:
    topics = DeviceTopics("mediatheques-sud", "jk-abcdefghij0123456789")
    assert topics.plays == "jk/v1/mediatheques-sud/jk-abcdefghij0123456789/plays"
    for topic in (topics.plays, topics.ack, topics.desired, topics.command_result):
        address = parse_topic(topic)
        assert address is not None
        assert (address.tenant, address.device_id) == (topics.tenant, topics.device_id)
        assert topic.endswith("/" + address.leaf)


@pytest.mark.parametrize(
    "topic",
    ["jk/v1/t/d", "jk/v2/t/d/plays", "jk/v1/t/d/unknown", "jk/v1/+/d/plays", "jk/v1/t/#/plays", ""],
)
def test_anything_else_is_not_a_protocol_topic(topic: str) -> None:
    assert parse_topic(topic) is None


@pytest.mark.parametrize("bad", ["+", "#", "a/b", "", "x" * 65, "-leading"])
def test_a_segment_that_would_change_the_topic_shape_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be a topic segment"):
        DeviceTopics(bad, "jk-1")
    with pytest.raises(ValueError, match="cannot be a topic segment"):
        DeviceTopics("t", bad)


def test_ingesters_share_one_subscription_per_leaf() -> None:
    assert shared("jk-ingest", wildcard("plays")) == "$share/jk-ingest/jk/v1/+/+/plays"
    assert wildcard("status", tenant="lib-a") == "jk/v1/lib-a/+/status"


def _batch(**play: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "0b8f3c1e-4d2a-4b6f-9e1a-2c3d4e5f6a7b",
        "seq": 1,
        "tenant": "t",
        "site": "s",
        "device_id": "d",
        "firmware_version": "0.4",
        "boot_id": "b",
        "playlist_id": "p",
        "playlist_revision": "r",
        "track_id": "t1",
        "isrc": None,
        "track_duration_ms": None,
        "started_by": "visitor",
        "started_wall_ms": 0,
        "clock_synced": False,
        "started_uptime_ms": 0,
        "listened_ms": 0,
        "end_reason": "finished",
        "ended_wall_ms": None,
        "error": None,
    }
    base.update(play)
    return {"v": 1, "batch_id": "b", "plays": [base]}


def test_the_batch_helper_is_itself_valid() -> None:
    decode("play-batch", json.dumps(_batch()).encode())


@pytest.mark.parametrize("field", ["seq", "started_wall_ms", "listened_ms", "track_duration_ms"])
def test_an_integer_no_database_column_can_hold_is_refused(field: str) -> None:
    """A value past 2**63 - 1 fits JSON but no BIGINT: refused here, not resent forever."""
    too_big = _batch(**{field: 2**63})
    with pytest.raises(PayloadError, match=f"{field}: .* must be smaller than or equal to"):
        decode("play-batch", json.dumps(too_big).encode())
    decode("play-batch", json.dumps(_batch(**{field: 2**63 - 1})).encode())
