"""The tenant's tests run on the database their fixtures chose (tests/support/databases.py), and
none reaches around it to the SQLite default: read from the tests' source, so that a test that
does fails here with its file and line, on SQLite as on PostgreSQL.

Two things are looked for in tests/tenant, tests/console, tests/e2e and tests/payouts:
- the SQLite default by name: `default_database_url(`, an SQLite URL, a `.sqlite3` file;
- the test helpers and service functions that fall back to it when given no database
  (RunningTenant, running_tenant, init_tenant, setup_tenant, open_context, create_app), called
  without one.

On PostgreSQL runs, the fixtures also check that no tenant.sqlite3 appeared in the service's
data directory (Databases.check_no_default): what the command line or the service opened.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).parents[1]
SCANNED = ("tenant", "console", "e2e", "payouts")
SQLITE_DEFAULT = re.compile(r"default_database_url\(|sqlite(\+\w+)?:///|\.sqlite3\b")
# Called without a database, these use data_dir/tenant.sqlite3: (name, its positional place).
FALLS_BACK = {
    "RunningTenant": None,
    "running_tenant": None,
    "init_tenant": None,
    "setup_tenant": None,
    "open_context": 1,
    "create_app": 1,
}
# What either check finds and may stay, by file and text of the line, each with its reason
# (an entry that no longer finds anything fails test_every_exception_is_still_needed):
ALLOWED = {
    ("e2e/rig.py", '"journal.sqlite3"'): "the kiosk's own play journal, SQLite on every kiosk",
    ("tenant/test_content.py", '"../../tenant.sqlite3"'): "a hostile media name, not a database",
    ("tenant/test_production.py", "url = default_database_url(tmp_path)"): (
        "restoring a backup file that does not exist: refused before a database is opened"
    ),
    ("tenant/test_https.py", "init_tenant(data, SLUG"): (
        "HTTPS of `tenant serve` as a production unit starts it: the transport, over the "
        "default database of a unit given no --database-url"
    ),
}


def sources() -> list[Path]:
    this = Path(__file__)
    return [p for d in SCANNED for p in sorted((TESTS / d).rglob("*.py")) if p != this]


def named_default(path: Path) -> list[int]:
    """The lines of `path` that name the SQLite default."""
    return [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQLITE_DEFAULT.search(line)
    ]


def defaulted(path: Path) -> list[int]:
    """The lines of `path` that call one of FALLS_BACK without a database."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in FALLS_BACK:
            continue
        place = FALLS_BACK[name]
        keywords = {k.arg for k in node.keywords}  # None: **options, which may hold it
        if keywords & {"database_url", None}:
            continue
        if place is None or len(node.args) <= place:
            found.add(node.lineno)
    return sorted(found)


def exception(path: Path, line: str) -> tuple[str, str] | None:
    name = path.relative_to(TESTS).as_posix()
    return next((key for key in ALLOWED if key[0] == name and key[1] in line), None)


def unexcepted(check: Callable[[Path], list[int]]) -> list[str]:
    """`file:line: text` of what `check` finds, ALLOWED aside."""
    found = []
    for path in sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number in check(path):
            line = lines[number - 1]
            if exception(path, line) is None:
                found.append(f"{path.relative_to(TESTS.parent)}:{number}: {line.strip()}")
    return found


def test_no_tenant_test_names_the_sqlite_default() -> None:
    found = unexcepted(named_default)
    assert found == [], "use the fixtures' database (service.database_url, database_url):\n" + (
        "\n".join(found)
    )


def test_no_tenant_test_leaves_the_service_on_the_sqlite_default() -> None:
    found = unexcepted(defaulted)
    assert found == [], "give it the fixtures' database (database_url=…):\n" + "\n".join(found)


def test_every_exception_is_still_needed() -> None:
    used = set()
    for path in sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number in {*named_default(path), *defaulted(path)}:
            used.add(exception(path, lines[number - 1]))
    assert set(ALLOWED) - used == set()


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "store = TenantStore(default_database_url(data))\n"
        "same = TenantStore(service.database_url or default_database_url(service.data_dir))\n"
        'url = "sqlite+pysqlite:////tmp/x"\n'
        "with running_tenant(data, ('lib-a',)) as service:\n"
        "    journal = state / 'journal.sqlite3'\n"
        "with running_tenant(data, database_url=url) as service:\n"
        "    pass\n"
        "context = open_context(data)\n"
        "context = open_context(data, url)\n"
        "RunningTenant(data, **options)\n"
    )
    assert named_default(sample) == [1, 2, 3, 5]  # RunningTenant.database_url is always set
    assert defaulted(sample) == [4, 8]
