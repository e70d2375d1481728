"""Hypothesis fuzzing of what the network can send: random bytes, random JSON, near-valid
messages with wrong types, huge strings and deep nesting. The handlers never raise, every
command gets exactly one result and every refused desired state exactly one rejected report;
whatever passes reaches a real kiosk core, which takes it without failing either."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from contract.protocol import PayloadError, decode
from device.journal.outbox import PlayJournal
from device.remote.desired import DesiredStateError, desired_from_payload
from tests.remote.support import RemoteRig

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=25,
)
huge_strings = st.sampled_from([10, 1_000, 70_000, 300_000]).map(lambda n: "x" * n)
nasty_strings = st.text(max_size=80) | huge_strings | st.just("\ud800") | st.just("é" * 64)
anything = json_values | nasty_strings | st.integers() | st.just(2**53 + 1)


def deep(depth: int) -> bytes:
    return b'{"v": 1, "a": ' + b"[" * depth + b"]" * depth + b"}"


def as_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def near(valid: dict[str, Any], keys: list[str]) -> st.SearchStrategy[bytes]:
    """`valid` with some keys replaced by anything, dropped, or joined by an unknown one."""
    return st.builds(
        lambda changes, dropped, extra: as_bytes(
            {k: v for k, v in {**valid, **changes, **extra}.items() if k not in dropped}
        ),
        st.dictionaries(st.sampled_from(keys), anything, max_size=3),
        st.sets(st.sampled_from(keys), max_size=2),
        st.dictionaries(st.text(max_size=8), anything, max_size=1),
    )


VALID_DESIRED: dict[str, Any] = {
    "v": 1,
    "version": 5,
    "playlists": ["festival", "local"],
    "featured": "local",
    "volume": {"min": 10, "max": 50},
    "opening_hours": [{"days": "mon-sat", "from": "10:00", "to": "19:00"}],
    "schedule": [{"playlist": "festival", "days": "sun", "from": "22:00", "to": "02:00"}],
}
VALID_COMMAND: dict[str, Any] = {
    "v": 1,
    "request_id": "r-1",
    "command": "identify",
    "args": {"seconds": 5},
}

ids = st.sampled_from(["festival", "local", "jazz", "a.b_c-9"])
days = st.sampled_from(["mon", "mon-fri", "sat,sun", "fri-mon", "tue,thu-sat"])
times = st.sampled_from(["00:00", "09:30", "10:00", "19:00", "22:00", "23:59", "24:00"])
window = {"days": days, "from": times, "to": times}
well_typed_desired = st.fixed_dictionaries(
    {"v": st.just(1), "version": st.integers(1, 12), "playlists": st.lists(ids, unique=True)},
    optional={
        "featured": ids | st.none(),
        "volume": st.fixed_dictionaries({"min": st.integers(0, 100), "max": st.integers(0, 100)}),
        "opening_hours": st.lists(st.fixed_dictionaries(window), max_size=3),
        "schedule": st.lists(st.fixed_dictionaries({"playlist": ids, **window}), max_size=3),
        "timezone": st.sampled_from(["Europe/Paris", "UTC", "America/St_Johns", "Nowhere/Land"]),
    },
).map(as_bytes)

payloads = {
    "desired": st.one_of(
        st.binary(max_size=512),
        json_values.map(as_bytes),
        near(VALID_DESIRED, list(VALID_DESIRED)),
        well_typed_desired,
        st.integers(1, 200_000).map(deep),
    ),
    "command": st.one_of(
        st.binary(max_size=512),
        json_values.map(as_bytes),
        near(VALID_COMMAND, list(VALID_COMMAND)),
        near({**VALID_COMMAND, "command": "diagnostics", "args": {"lines": 3}}, ["args"]),
        st.integers(1, 200_000).map(deep),
    ),
}


@pytest.fixture
def rig(tmp_path: Path, journal: PlayJournal) -> Iterator[RemoteRig]:
    rig = RemoteRig(tmp_path, journal)
    yield rig
    rig.admin.close()


def accepted_desired(payload: bytes) -> bool:
    try:
        desired_from_payload(decode("desired-state", payload))
    except (PayloadError, DesiredStateError):
        return False
    return True


@FUZZ
@given(payload=payloads["desired"])
def test_any_desired_state_payload_is_answered_and_never_crashes(
    rig: RemoteRig, payload: bytes
) -> None:
    before = len(rig.publisher.reported)
    version_before = rig.admin.desired_version
    rig.admin.on_desired(payload)
    rig.drain()  # the real core takes whatever was accepted
    published = rig.publisher.reported[before:]
    event(f"accepted: {accepted_desired(payload)}")
    if accepted_desired(payload):
        assert len(published) <= 1  # none for an older version, one otherwise
        assert all(r["status"] != "rejected" for r in published)
    else:
        [report] = published
        assert report["status"] == "rejected" and report["problem"]
        assert rig.admin.desired_version == version_before


@FUZZ
@given(payload=payloads["command"])
def test_any_command_payload_gets_exactly_one_result(rig: RemoteRig, payload: bytes) -> None:
    before = len(rig.publisher.results)
    rig.admin.on_command(payload)
    rig.drain()
    [result] = rig.publisher.results[before:]
    event(f"ok: {result['ok']}")
    try:
        decode("command-request", payload)
    except PayloadError:
        assert result["ok"] is False and result["error"]
    else:
        assert result["ok"] or "not an argument" in result["error"]
