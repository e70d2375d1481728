"""Encoding, decoding and checking payloads against the protocol's JSON schemas."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, Literal

import fastjsonschema

Schema = Literal[
    "play-batch",
    "play-ack",
    "status",
    "heartbeat",
    "desired-state",
    "reported-state",
    "command-request",
    "command-result",
    "playlists",  # not MQTT: the HTTP playlists document a device syncs (GET v1/device/playlists)
]

# Nothing on the wire is larger; bigger payloads are refused before parsing.
MAX_PAYLOAD_BYTES = 256 * 1024


class PayloadError(ValueError):
    """A payload that is not valid JSON or does not match its schema; the message says where.

    `where` is the key path (``playlists[0].tracks[1].size``, empty for the whole payload) and
    `problem` the rest of the message, for callers that report them in their own words.
    """

    def __init__(self, message: str, where: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.where = where
        self.problem = problem or message


@cache
def load_schema(name: Schema) -> dict[str, Any]:
    text = resources.files("contract.protocol").joinpath("schemas", f"{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def validator_module(name: Schema) -> str:
    """The generated validator's module name in contract.protocol.validators."""
    return name.replace("-", "_")


@cache
def _validator(name: Schema) -> Callable[[object], object]:
    # Python code generated from the schema ahead of time (contract/protocol/codegen.py): an
    # ingester checks thousands of plays a second, and compiling at run time would cost each
    # process ~120 ms of interpreter-bound work, in whichever thread first checks a payload.
    module = importlib.import_module(f"contract.protocol.validators.{validator_module(name)}")
    validator: Callable[[object], object] = module.validate
    return validator


def validate(name: Schema, data: object) -> None:
    """Raise PayloadError naming where `data` first fails its schema, and how."""
    try:
        _validator(name)(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        where, problem = _explain(exc)
        raise PayloadError(f"{name}: {where}: {problem}", where, problem) from None


def decode(name: Schema, payload: bytes) -> dict[str, Any]:
    """Parse and check one received payload."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"{name}: {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"{name}: not JSON ({exc})") from exc
    validate(name, data)
    assert isinstance(data, dict)  # every schema's top level is an object
    return data


def encode(name: Schema, data: dict[str, Any], *, check: bool = True) -> bytes:
    """Serialise a payload, checking it first so that we never send what we would refuse."""
    if check:
        validate(name, data)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _explain(error: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    """(`key.path[0]`, `'value' must …`), from fastjsonschema's `data.key.path[0] must …`.

    A schema may phrase its own expectation with the annotation ``x-expected`` (a text, or a
    text per rule such as ``{"type": …, "minimum": …}``): the problem then reads
    ``expected <that>, got <value>``, and a missing required key ``missing, expected <that>``.
    """
    name = error.name or "data"
    where = name.removeprefix("data").lstrip(".")
    definition = error.definition if isinstance(error.definition, dict) else {}
    if error.rule == "required" and isinstance(error.value, dict):
        missing = next((k for k in error.rule_definition if k not in error.value), None)
        wording = _expected(definition.get("properties", {}).get(missing, {}), "type")
        if missing is not None and wording:
            return (f"{where}.{missing}" if where else missing), f"missing, expected {wording}"
    wording = _expected(definition, error.rule or "")
    if wording and error.rule not in ("required", "additionalProperties"):
        return where or "(top level)", f"expected {wording}, got {_shown(error.value)}"
    rule = error.message.removeprefix(name).strip()
    rule = rule.replace("must be same as const definition:", "must be")
    if len(rule) > 200:
        rule = rule[:200] + "…"
    if error.rule in ("required", "additionalProperties", "minItems", "maxItems", "uniqueItems"):
        return where or "(top level)", rule
    shown = repr(error.value)
    if len(shown) > 40:
        shown = shown[:37] + "…"
    return where or "(top level)", f"{shown} {rule}"


def _expected(definition: object, rule: str) -> str | None:
    wording = definition.get("x-expected") if isinstance(definition, dict) else None
    if isinstance(wording, dict):
        wording = wording.get(rule) or wording.get("type")
    return wording if isinstance(wording, str) else None


def _shown(value: object) -> str:
    """What was received, for a one-line message: a kind for containers, else a short repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    kind = "a string" if isinstance(value, str) else "a number"
    shown = repr(value)
    return f"{kind} ({shown if len(shown) <= 40 else shown[:39] + '…'})"
