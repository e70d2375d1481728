"""The layout's rules hold: the import contracts bite, and a long module says why it is long.

`scripts/test` runs `lint-imports` over the tree; these tests prove that run can fail, on a copy
of the tree with one forbidden import per contract, so a contract loosened by mistake (a typo in
a module name, a contract dropped from pyproject.toml) is caught here.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contract", "device", "tenant", "provisioning", "demo", "jukebox")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LONG_MODULE_LINES = 400
SAYS_WHY = re.compile(r"\b(over|past) [4-9]00 lines\b", re.IGNORECASE)

CONTRACTS = {
    "The three programs never import each other": ("device/core/status.py", "import tenant.store"),
    "The contract imports none of the programs": ("contract/hours.py", "import device.config"),
    "No program imports the demo or the entry point": ("provisioning/cli.py", "import demo"),
    "The kiosk core imports no adapter and no hardware or network library": (
        "device/core/screens.py",
        "import mpv",
    ),
    "The tenant, the provisioning tool and the contract need no kiosk hardware stack": (
        "tenant/roles.py",
        "import luma.core",
    ),
}


def _tree_copy(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "pyproject.toml"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _verdicts(output: str) -> dict[str, str]:
    found = re.findall(r"^(.+?) (KEPT|BROKEN)$", output, re.MULTILINE)
    return dict(found)


def test_the_unchanged_copy_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_tree_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _verdicts(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT")


@pytest.mark.parametrize("contract", sorted(CONTRACTS))
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, contract: str) -> None:
    module, line = CONTRACTS[contract]
    tree = _tree_copy(tmp_path)
    with (tree / module).open("a", encoding="utf-8") as file:
        file.write(f"\n{line}  # deliberately forbidden\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    verdicts = _verdicts(result.stdout)
    assert verdicts[contract] == "BROKEN", result.stdout
    dotted = module.removesuffix(".py").replace("/", ".")
    imported = line.split()[1].split(".")[0]
    assert re.search(rf"{re.escape(dotted)} -> {imported}\b", result.stdout), result.stdout


def test_a_module_over_400_lines_says_why_at_its_top() -> None:
    silent = []
    for package in (*PACKAGES, "image-build"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            if source.count("\n") <= LONG_MODULE_LINES:
                continue
            docstring = ast.get_docstring(ast.parse(source)) or ""
            if not SAYS_WHY.search(" ".join(docstring.split())):
                silent.append(str(path.relative_to(ROOT)))
    assert silent == [], f"over {LONG_MODULE_LINES} lines without saying why: {silent}"
