"""Encoding, decoding and checking payloads against the protocol's JSON schemas."""

from __future__ import annotations

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
]

# Nothing on the wire is larger; bigger payloads are refused before parsing.
MAX_PAYLOAD_BYTES = 256 * 1024


class PayloadError(ValueError):
    """A payload that is not valid JSON or does not match its schema; the message says where."""


@cache
def load_schema(name: Schema) -> dict[str, Any]:
    text = resources.files("contract.protocol").joinpath("schemas", f"{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: Schema) -> Callable[[object], object]:
    # Compiled to Python code once: an ingester checks thousands of plays a second.
    validator: Callable[[object], object] = fastjsonschema.compile(load_schema(name))
    return validator


def validate(name: Schema, data: object) -> None:
    """Raise PayloadError naming where `data` first fails its schema, and how."""
    try:
        _validator(name)(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise PayloadError(f"{name}: {_describe(exc)}") from None


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


def _describe(error: fastjsonschema.JsonSchemaValueException) -> str:
    """`key.path[0]: 'value' must …`, from fastjsonschema's `data.key.path[0] must …`."""
    name = error.name or "data"
    where = name.removeprefix("data").lstrip(".") or "(top level)"
    rule = error.message.removeprefix(name).strip()
    rule = rule.replace("must be same as const definition:", "must be")
    if len(rule) > 200:
        rule = rule[:200] + "…"
    if error.rule in ("required", "additionalProperties", "minItems", "maxItems", "uniqueItems"):
        return f"{where}: {rule}"
    shown = repr(error.value)
    if len(shown) > 40:
        shown = shown[:37] + "…"
    return f"{where}: {shown} {rule}"
