"""Each program's extra declares what the program imports, and nothing of the kiosk's hardware
stack reaches the tenant or the provisioning tool.

Imports are followed through the contract (grimp, import-linter's graph): a program needs what
the contract modules it uses import, too.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
FIRST_PARTY = {"contract", "device", "tenant", "provisioning", "demo", "jukebox"}
# The program, and the extras that install it. The contract has none of its own: what its
# modules import is checked in each program that imports them (pillow for screen_text.py, say).
PROGRAMS = {
    "device": ("kiosk",),
    "tenant": ("tenant",),
    "provisioning": ("provisioning",),
    "demo": ("sim", "tenant"),
}
# Imported only when present, with a named reason when absent.
OPTIONAL = {"demo": {"selenium"}}  # the console tour's screenshots (demo/console_tour.py)
KIOSK_HARDWARE = {"python-mpv", "gpiozero", "gpiod", "luma-oled", "luma-core", "pyudev"}


def _name(requirement: str) -> str:
    bare = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _declared(extras: tuple[str, ...]) -> set[str]:
    project = PYPROJECT["project"]
    names = {_name(r) for r in project["dependencies"]}
    pending = list(extras)
    while pending:
        for requirement in project["optional-dependencies"][pending.pop()]:
            if requirement.startswith("jukebox["):
                pending.extend(requirement.removeprefix("jukebox[").split("]")[0].split(","))
            else:
                names.add(_name(requirement))
    return names


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*sorted(FIRST_PARTY), include_external_packages=True, cache_dir=None)


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_library_a_program_imports_is_declared_in_its_extra(
    graph: grimp.ImportGraph, program: str
) -> None:
    distributions = packages_distributions()
    imported = {m.split(".")[0] for m in graph.find_upstream_modules(program, as_package=True)}
    third_party = {m for m in imported - FIRST_PARTY if m in distributions}
    declared = _declared(PROGRAMS[program])
    missing = {
        module: distributions[module]
        for module in sorted(third_party - OPTIONAL.get(program, set()))
        if not declared & {_name(d) for d in distributions[module]}
    }
    assert missing == {}, f"{program} imports undeclared libraries: {missing}"


@pytest.mark.parametrize("program", ["tenant", "provisioning"])
def test_the_tenant_and_provisioning_extras_pull_no_kiosk_hardware(program: str) -> None:
    assert _declared(PROGRAMS[program]) & KIOSK_HARDWARE == set()


def test_the_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "AGPL-3.0-or-later"
