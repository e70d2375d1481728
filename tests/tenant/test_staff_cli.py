"""`jukebox tenant user …`, `jukebox admin login|whoami|token|audit`, as subprocesses against
`jukebox tenant serve`, on each database (`databases`: given as `--database-url`)."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import Databases
from tests.tenant.test_admin_cli import Served, jukebox, serving

ADMIN_PASSWORD = "the first admin's password"
CARLA_PASSWORD = "carla's long password"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"staff-cli-{databases.kind}")
    env = {"JUKEBOX_TENANT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with serving(databases, folder, "--name", "Lib A", env=env) as (server, output):
        assert "password" not in output  # it was given, so it is not shown
        yield server


def user(served: Served, *args: str, password: str | None = None) -> str:
    env = {"JUKEBOX_TENANT_USER_PASSWORD": password} if password else {}
    done = jukebox(
        "tenant", "user", "--data", str(served.data), *served.database, "--tenant", "lib-a",
        *args, env=env,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def test_a_curator_logs_in_keeps_a_token_and_manages_her_tokens(
    served: Served, tmp_path: Path
) -> None:
    assert "added" in user(served, "add", "carla", "--role", "curator", "--site", "centre",
                           password=CARLA_PASSWORD)  # fmt: skip
    made = user(served, "add", "theo", "--role", "technician")
    theo_password = re.search(r"password \(shown once\): (\S+)", made)
    assert theo_password is not None
    tenant_url = f"{served.url}/t/lib-a"
    carla_home = {"XDG_CONFIG_HOME": str(tmp_path / "carla"), "JUKEBOX_ADMIN_CREDENTIALS": ""}

    def carla(*args: str, ok: bool = True) -> str:
        done = jukebox("admin", *args, env=carla_home)
        assert (done.returncode == 0) == ok, f"{args}: {done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    wrong = jukebox(
        "admin", "login", tenant_url, "--user", "carla",
        env={**carla_home, "JUKEBOX_ADMIN_PASSWORD": "not her password"},
    )  # fmt: skip
    assert wrong.returncode == 1 and "wrong username or password" in wrong.stderr
    done = jukebox(
        "admin", "login", tenant_url, "--user", "carla", "--token-name", "laptop",
        env={**carla_home, "JUKEBOX_ADMIN_PASSWORD": CARLA_PASSWORD},
    )  # fmt: skip
    logged = done.stdout
    assert done.returncode == 0, done.stderr
    assert "as carla (curator)" in logged
    stored = tmp_path / "carla" / "jukebox" / "admin-logins.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())[tenant_url]["user"] == "carla"

    assert "carla (curator, sites centre)" in carla("whoami")
    created = carla("token", "create", "nightly export", "--expires-days", "7")
    token_id = re.search(r"token (tok-\w+) \(nightly export\)", created)
    assert token_id is not None
    listed = carla("token", "list")
    assert "laptop" in listed and "nightly export" in listed
    assert "revoked" in carla("token", "revoke", token_id[1])
    assert "HTTP 403 forbidden" in carla("audit", ok=False)

    admin = {"JUKEBOX_ADMIN_CREDENTIALS": str(served.data / "admin-lib-a.json")}
    audit = jukebox("admin", "audit", "--user", "carla", "--object", "token", env=admin)
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.count("token.create") == 2 and "token.revoke" in audit.stdout
    added = jukebox("admin", "audit", "--object", "user:carla", "--json", env=admin).stdout
    rows = [json.loads(line) for line in added.splitlines()]
    assert rows[0]["action"] == "user.add" and rows[0]["actor"].startswith("server:")
    assert rows[0]["after"]["sites"] == ["centre"]

    assert "disabled" in user(served, "disable", "carla")
    assert "HTTP 401 invalid_token" in carla("whoami", ok=False)
    listed_users = user(served, "list")
    assert re.search(r"carla\s+curator\s+centre\s+disabled", listed_users)
    user(served, "enable", "carla")
    assert "carla" in carla("whoami")


def test_the_first_admin_logs_in_with_the_password_init_was_given(
    served: Served, tmp_path: Path
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "JUKEBOX_ADMIN_PASSWORD": ADMIN_PASSWORD}
    done = jukebox("admin", "login", f"{served.url}/t/lib-a", "--user", "admin", env=env)
    assert done.returncode == 0, done.stderr
    whoami = jukebox("admin", "--tenant-url", f"{served.url}/t/lib-a", "whoami", env=env)
    assert "admin (network-admin)" in whoami.stdout


def test_a_password_shorter_than_twelve_characters_is_refused(served: Served) -> None:
    done = jukebox(
        "tenant", "user", "--data", str(served.data), *served.database, "--tenant", "lib-a",
        "add", "x", "--role", "reports", env={"JUKEBOX_TENANT_USER_PASSWORD": "short"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "at least 12 characters" in done.stderr
