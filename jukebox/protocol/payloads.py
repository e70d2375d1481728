"""Encoding, decoding and checking payloads against the protocol's JSON schemas."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

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
    text = resources.files("jukebox.protocol").joinpath("schemas", f"{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: Schema) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


def validate(name: Schema, data: object) -> None:
    """Raise PayloadError naming the first problem (deepest path first) when `data` does not fit."""
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: (-len(e.path), str(e.path)))
    if errors:
        raise PayloadError(f"{name}: {_describe(errors[0])}")


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


def _describe(error: ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message
    if len(message) > 200:
        message = message[:200] + "…"
    return f"{where.lstrip('.') or '(top level)'}: {message}"
