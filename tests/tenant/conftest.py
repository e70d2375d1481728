"""A real tenant service per test (uvicorn on a free port) with a clock tests can move, on
each database the service supports: SQLite and PostgreSQL.

The tenants and the session's FLAC tracks are set up once per database, through the real
service, in a template (a data directory, and on PostgreSQL a database); each test serves its
own copy of it. Every test that uses `service`, `database_url` or `tenant_template` runs once
on SQLite and once on PostgreSQL (`[sqlite]`, `[postgresql]` in its id).

PostgreSQL is a throwaway server started for the session (tenant.store.postgres: Debian's
`postgresql` package, initdb in a temporary folder, its own port, stopped at the end). With
JUKEBOX_TEST_POSTGRES_URL set (a server URL such as
`postgresql+psycopg://jukebox@127.0.0.1:5432/postgres`, whose user may create databases) the
tests use that server instead. JUKEBOX_TEST_DATABASES=sqlite (or postgresql) runs only one.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tenant.settings import TenantSettings
from tenant.store import default_database_url
from tenant.store.postgres import PostgresServer, create_database, drop_database
from tests.support.tenant import RunningTenant, running_tenant
from tests.tenant.kiosk import Kiosk

POLL_INTERVAL_S = 0.5
SLOW_DOWN_STEP_S = 5.0

POSTGRES_URL = os.environ.get("JUKEBOX_TEST_POSTGRES_URL")
DATABASES = [
    kind.strip()
    for kind in os.environ.get("JUKEBOX_TEST_DATABASES", "sqlite,postgresql").split(",")
    if kind.strip()
]


class MovableClock:
    """Wall time plus an offset the test moves forward (the service and the kiosks share it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database, for the whole session."""
    if POSTGRES_URL is not None:
        yield POSTGRES_URL
        return
    with PostgresServer() as server:
        yield server.url


class Databases:
    """Makes the tests' databases of one kind: SQLite files, or PostgreSQL databases."""

    def __init__(self, kind: str, server_url: str | None) -> None:
        self.kind = kind
        self.server_url = server_url

    @property
    def postgresql(self) -> bool:
        return self.server_url is not None

    def new(self, data_dir: Path) -> str:
        """An empty database for the service over data_dir."""
        data_dir.mkdir(parents=True, exist_ok=True)
        if self.server_url is None:
            return default_database_url(data_dir.absolute())
        return create_database(self.server_url)

    def copy(self, template_url: str, data_dir: Path) -> str:
        """A copy of the template database (data_dir is already a copy of the template's)."""
        if self.server_url is None:
            return default_database_url(data_dir.absolute())
        return create_database(self.server_url, template=make_url(template_url).database)

    def drop(self, url: str) -> None:
        if self.server_url is not None:
            drop_database(self.server_url, url)


@pytest.fixture(scope="session", params=DATABASES)
def databases(request: pytest.FixtureRequest) -> Databases:
    kind: str = request.param
    if kind == "sqlite":
        return Databases(kind, None)
    if kind == "postgresql":
        return Databases(kind, request.getfixturevalue("postgres_server"))
    raise ValueError(f"JUKEBOX_TEST_DATABASES: {kind!r}: not sqlite or postgresql")


@pytest.fixture
def database_url(databases: Databases, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test run's kind (SQLite: tmp_path/tenant/tenant.sqlite3)."""
    url = databases.new(tmp_path / "tenant")
    yield url
    databases.drop(url)


class Template:
    def __init__(self, data_dir: Path, database_url: str, tracks: list[dict[str, object]]):
        self.data_dir = data_dir
        self.database_url = database_url
        self.tracks = tracks


@pytest.fixture(scope="session")
def tenant_template(
    tmp_path_factory: pytest.TempPathFactory, flac_dir: Path, databases: Databases
) -> Iterator[Template]:
    """Tenants lib-a and lib-b, with the session's FLAC files imported into lib-a."""
    data_dir = tmp_path_factory.mktemp(f"tenant-template-{databases.kind}") / "tenant"
    database_url = databases.new(data_dir)
    with running_tenant(data_dir, ("lib-a", "lib-b"), database_url=database_url) as tenant:
        tracks = [tenant.import_file("lib-a", p) for p in sorted(flac_dir.glob("*.flac"))]
    yield Template(data_dir, database_url, tracks)
    databases.drop(database_url)


@pytest.fixture
def service(
    tmp_path: Path, clock: MovableClock, tenant_template: Template, databases: Databases
) -> Iterator[RunningTenant]:
    settings = TenantSettings(
        poll_interval_s=POLL_INTERVAL_S, slow_down_step_s=SLOW_DOWN_STEP_S, clock=clock
    )
    data_dir = tmp_path / "tenant"
    shutil.copytree(tenant_template.data_dir, data_dir)
    database_url = databases.copy(tenant_template.database_url, data_dir)
    try:
        with running_tenant(
            data_dir, ("lib-a", "lib-b"), settings=settings, database_url=database_url
        ) as tenant:
            yield tenant
    finally:
        databases.drop(database_url)


@pytest.fixture
def kiosk(service: RunningTenant, clock: MovableClock) -> Kiosk:
    return Kiosk(service.url("lib-a"), clock)


def claimed(service: RunningTenant, clock: MovableClock, site: str, slug: str = "lib-a") -> Kiosk:
    """A kiosk enrolled, claimed for `site` and logged in."""
    device = Kiosk(service.url(slug), clock)
    service.claim(slug, device.claim_code(), site)
    device.login()
    return device


@pytest.fixture
def flac_tracks(tenant_template: Template) -> list[dict[str, object]]:
    """The tracks of the session's FLAC files in lib-a, in file name order."""
    return tenant_template.tracks
