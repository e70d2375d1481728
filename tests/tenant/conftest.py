"""A real tenant service per test (uvicorn on a free port, SQLite) with a clock tests can move.

The tenants and the session's FLAC tracks are set up once, through the real service, in a
template data directory; each test serves its own copy of it.

With JUKEBOX_TEST_POSTGRES_URL set (a server URL such as
`postgresql+psycopg://jukebox@127.0.0.1:5432/postgres`, with a driver installed), the same
tests run on PostgreSQL instead: the template is a database, and each test gets a copy of it
(`CREATE DATABASE … TEMPLATE …`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tenant.settings import TenantSettings
from tests.support.tenant import RunningTenant, running_tenant
from tests.tenant.kiosk import Kiosk

POLL_INTERVAL_S = 0.5
SLOW_DOWN_STEP_S = 5.0


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


POSTGRES_URL = os.environ.get("JUKEBOX_TEST_POSTGRES_URL")


class Postgres:
    """Creates and drops the test databases on the server of JUKEBOX_TEST_POSTGRES_URL."""

    def __init__(self, server_url: str) -> None:
        self.url = make_url(server_url)
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def create(self, template: str | None = None) -> str:
        name = f"jukebox_test_{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.execute(
                text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
            )
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres | None]:
    if POSTGRES_URL is None:
        yield None
        return
    server = Postgres(POSTGRES_URL)
    yield server
    server.engine.dispose()


class Template:
    def __init__(self, data_dir: Path, database_url: str | None, tracks: list[dict[str, object]]):
        self.data_dir = data_dir
        self.database_url = database_url
        self.tracks = tracks


@pytest.fixture(scope="session")
def tenant_template(
    tmp_path_factory: pytest.TempPathFactory, flac_dir: Path, postgres: Postgres | None
) -> Iterator[Template]:
    """Tenants lib-a and lib-b, with the session's FLAC files imported into lib-a."""
    data_dir = tmp_path_factory.mktemp("tenant-template") / "tenant"
    database_url = postgres.create() if postgres else None
    with running_tenant(data_dir, ("lib-a", "lib-b"), database_url=database_url) as tenant:
        tracks = [tenant.import_file("lib-a", p) for p in sorted(flac_dir.glob("*.flac"))]
    yield Template(data_dir, database_url, tracks)
    if postgres and database_url:
        postgres.drop(database_url)


@pytest.fixture
def service(
    tmp_path: Path, clock: MovableClock, tenant_template: Template, postgres: Postgres | None
) -> Iterator[RunningTenant]:
    settings = TenantSettings(
        poll_interval_s=POLL_INTERVAL_S, slow_down_step_s=SLOW_DOWN_STEP_S, clock=clock
    )
    data_dir = tmp_path / "tenant"
    shutil.copytree(tenant_template.data_dir, data_dir)
    database_url = None
    if postgres and tenant_template.database_url:
        database_url = postgres.create(template=make_url(tenant_template.database_url).database)
    try:
        with running_tenant(
            data_dir, ("lib-a", "lib-b"), settings=settings, database_url=database_url
        ) as tenant:
            yield tenant
    finally:
        if postgres and database_url:
            postgres.drop(database_url)


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
