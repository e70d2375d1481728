"""docs/jukebox.toml.schema.json, published for editors, says what device/config.py accepts:
the same sections and keys, the same required keys, the same ranges and choices."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from contract.toml_reader import ConfigError
from device.config import GPIOZERO_PIN_FACTORIES, KEYS, SECTIONS, parse_config
from device.domain import Action

ROOT = Path(__file__).parents[2]
SCHEMA: dict[str, Any] = json.loads((ROOT / "docs" / "jukebox.toml.schema.json").read_text())
VALIDATOR = Draft7Validator(SCHEMA)
IMAGE_FILE = ROOT / "image-build" / "files" / "etc" / "jukebox" / "jukebox.toml"
FILES = [*sorted((ROOT / "docs" / "examples").glob("*.toml")), IMAGE_FILE]
ARRAYS = {"buttons", "combos"}
# The smallest document in which each section's keys can be tried one by one.
BASE: dict[str, dict[str, Any]] = {
    "buttons": {"name": "a", "pin": 17},
    "combos": {"buttons": ["a", "b"], "action": "technician"},
    "rotary": {"pin_a": 5, "pin_b": 6},
    "tenant": {"url": "https://tenant.example/t/lib"},
}


def section_schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = SCHEMA["properties"][name]
    return found["items"] if name in ARRAYS else found


def document(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """Two buttons (for the combos), no screen (no pins taken), and `values` as `section`."""
    doc: dict[str, Any] = {
        "buttons": [{"name": "a", "pin": 17}, {"name": "b", "pin": 18}],
        "display": {"driver": "none"},
    }
    doc[section] = [values] if section in ARRAYS else values
    return doc


def problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        parse_config(doc, "probe.toml")
    except ConfigError as exc:
        return [(p.key, p.problem) for p in exc.problems]
    return []


def test_the_schema_is_a_valid_draft_07_schema() -> None:
    Draft7Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_documented_and_shipped_files_fit_the_schema(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert [e.message for e in VALIDATOR.iter_errors(data)] == []
    parse_config(data, str(path))  # and the kiosk reads them


def test_the_schema_has_exactly_the_sections_and_keys_the_reader_accepts() -> None:
    assert set(SCHEMA["properties"]) == SECTIONS
    assert SCHEMA["additionalProperties"] is False
    for name in SECTIONS:
        section = section_schema(name)
        assert set(section["properties"]) == KEYS[name], name
        assert section["additionalProperties"] is False, name


def test_actions_and_pin_factories_are_the_readers() -> None:
    assert SCHEMA["definitions"]["action"]["enum"] == [a.value for a in Action]
    factories = SCHEMA["properties"]["gpio"]["properties"]["pin_factory"]["enum"]
    assert factories == ["auto", "gpiod", *GPIOZERO_PIN_FACTORIES]


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_required_keys_are_the_readers(name: str) -> None:
    required = set(section_schema(name).get("required", []))
    base = BASE.get(name, {})
    assert set(base) >= required
    assert problems(document(name, base)) == []
    for key in base:
        without = {k: v for k, v in base.items() if k != key}
        prefix = f"{name}[0]" if name in ARRAYS else name
        missing = (f"{prefix}.{key}", "missing, this key is required") in problems(
            document(name, without)
        )
        assert missing == (key in required), f"{name}.{key}"


RANGE_WORDS = ("expected a whole number", "expected a number of seconds")
RANGED = [
    (section, key, spec)
    for section in sorted(SECTIONS)
    for key, spec in section_schema(section)["properties"].items()
    if "minimum" in spec
]


@pytest.mark.parametrize(("section", "key", "spec"), RANGED, ids=[f"{s}.{k}" for s, k, _ in RANGED])
def test_ranges_are_the_readers(section: str, key: str, spec: dict[str, Any]) -> None:
    lo, hi = spec["minimum"], spec["maximum"]
    step = 1 if spec["type"] == "integer" else 0.1
    prefix = f"{section}[0]" if section in ARRAYS else section
    for value, accepted in ((lo, True), (hi, True), (lo - step, False), (hi + step, False)):
        doc = document(section, {**BASE.get(section, {}), key: value})
        out_of_range = any(
            k == f"{prefix}.{key}" and p.startswith(RANGE_WORDS) for k, p in problems(doc)
        )
        assert out_of_range != accepted, (key, value)
        assert VALIDATOR.is_valid(doc) == accepted, (key, value)
