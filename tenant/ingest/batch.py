"""Checking one received play batch: which plays to store, which to reject and why.

A batch is acknowledged play by play, so one bad play does not hold back the others: a play
that fails the schema, or that names another tenant or device than the topic it came on (a
device cannot report for another), is rejected for good with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from contract.protocol import PayloadError, TopicAddress, decode, validate

MAX_BATCH_ID = 64


@dataclass(frozen=True)
class CheckedBatch:
    batch_id: str
    plays: list[dict[str, Any]]  # valid, of the topic's device, each event id once
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"event_id", "problem"}
    unnamed: list[str] = field(default_factory=list)  # problems of plays without an event id


def check_batch(address: TopicAddress, payload: bytes) -> CheckedBatch:
    """The batch's verdict; PayloadError when it cannot be acknowledged at all (not JSON, no
    batch id, another protocol version)."""
    schema_problems: dict[int, str] = {}  # plays that fail the schema, by position
    try:
        data = decode("play-batch", payload)
    except PayloadError as whole:  # check play by play, once
        data = _envelope(payload, whole)
        for i, play in enumerate(data["plays"]):
            if (problem := _schema_problem(play)) is not None:
                schema_problems[i] = problem
        candidates = [p for i, p in enumerate(data["plays"]) if i not in schema_problems]
        if candidates:
            validate("play-batch", {**data, "plays": candidates})  # the envelope itself
    plays: dict[str, dict[str, Any]] = {}
    rejected: list[dict[str, str]] = []
    unnamed: list[str] = []
    for i, play in enumerate(data["plays"]):
        problem = schema_problems.get(i) or _ownership_problem(address, play)
        event_id = play.get("event_id") if isinstance(play, dict) else None
        if problem is None:
            plays.setdefault(play["event_id"], play)
        elif isinstance(event_id, str) and 0 < len(event_id) <= 64:
            rejected.append({"event_id": event_id, "problem": problem[:500]})
        else:
            unnamed.append(problem)
    return CheckedBatch(data["batch_id"], list(plays.values()), rejected, unnamed)


def _envelope(payload: bytes, problem: PayloadError) -> dict[str, Any]:
    """The batch's outer object when only some of its plays are wrong, else `problem`."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise problem from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise problem
    batch_id, plays = data.get("batch_id"), data.get("plays")
    if not (isinstance(batch_id, str) and 0 < len(batch_id) <= MAX_BATCH_ID):
        raise problem
    if not (isinstance(plays, list) and plays):
        raise problem
    return data


def _schema_problem(play: Any) -> str | None:
    try:
        validate("play-batch", {"v": 1, "batch_id": "-", "plays": [play]})
    except PayloadError as exc:
        return str(exc).removeprefix("play-batch: ").removeprefix("plays[0].")
    return None


def _ownership_problem(address: TopicAddress, play: dict[str, Any]) -> str | None:
    if play["tenant"] != address.tenant or play["device_id"] != address.device_id:
        return (
            f"play of {play['tenant']}/{play['device_id']} sent on the topic of "
            f"{address.tenant}/{address.device_id}"
        )
    return None
