"""The committed validators are what the schemas generate, and they judge as run-time ones do."""

from __future__ import annotations

import importlib
from typing import Any, get_args

import fastjsonschema
import pytest

from contract.protocol import PayloadError, Schema, load_schema, validate
from contract.protocol.codegen import generated_source, validators_dir
from contract.protocol.payloads import validator_module

SCHEMAS: tuple[Schema, ...] = get_args(Schema)


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_committed_validator_is_what_its_schema_generates(name: Schema) -> None:
    path = validators_dir() / f"{validator_module(name)}.py"
    assert path.exists(), f"{path} is missing: run `python -m contract.protocol.codegen`"
    assert path.read_text() == generated_source(name), (
        f"{path} is stale (its schema changed, or fastjsonschema did): "
        "run `python -m contract.protocol.codegen` and commit the result"
    )


def test_no_validator_is_left_for_a_schema_that_is_gone() -> None:
    modules = {p.stem for p in validators_dir().glob("*.py")} - {"__init__"}
    assert modules == {validator_module(name) for name in SCHEMAS}


# A wrong payload per schema: the generated validator refuses it exactly as fastjsonschema's
# run-time compilation of the same schema does (same rule, same place, same message).
WRONG: dict[Schema, dict[str, Any]] = {
    "play-batch": {"v": 1, "batch_id": "b", "plays": [{"event_id": 5}]},
    "play-ack": {"v": 1, "batch_id": "b", "event_ids": ["x"], "rejected": [{"event_id": "x"}]},
    "status": {"v": 1, "state": 3},
    "heartbeat": {"v": 1, "uptime_s": "long"},
    "desired-state": {"v": 1, "volume": {"max": "loud"}},
    "reported-state": {"v": "1"},
    "command-request": {"v": 1, "id": "c1", "command": 7},
    "command-result": {"v": 1, "id": "c1", "ok": "yes"},
    "playlists": {"v": 1, "playlists": [{"id": ""}]},
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_generated_validator_refuses_as_the_compiled_one_does(name: Schema) -> None:
    generated = importlib.import_module(f"contract.protocol.validators.{validator_module(name)}")
    compiled = fastjsonschema.compile(load_schema(name))
    refusals = []
    for check in (generated.validate, compiled):
        with pytest.raises(fastjsonschema.JsonSchemaValueException) as refused:
            check(WRONG[name])
        refusals.append((refused.value.message, refused.value.name, refused.value.rule))
    assert refusals[0] == refusals[1]
    with pytest.raises(PayloadError):  # and payloads.validate is the generated one
        validate(name, WRONG[name])
