"""A real tenant service per test (uvicorn on a free port) with a clock tests can move, on
each database the service supports: SQLite and PostgreSQL.

The tenants and the session's FLAC tracks are set up once per database, through the real
service, in a template (a data directory, and on PostgreSQL a database); each test serves its
own copy of it. Every test that uses `service`, `database_url`, `databases` or `tenant_template`
runs once on SQLite and once on PostgreSQL (`[sqlite]`, `[postgresql]` in its id): the
databases and their PostgreSQL server come from tests/support/databases.py, which says how to
use another server (JUKEBOX_TEST_POSTGRES_URL) or only one database (JUKEBOX_TEST_DATABASES).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant.settings import TenantSettings
from tenant.store import TenantStore
from tests.support.databases import Databases, Template, database_url, databases, postgres_server
from tests.support.tenant import RunningTenant
from tests.tenant.kiosk import Kiosk

__all__ = ["database_url", "databases", "postgres_server"]

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
def store(database_url: str) -> Iterator[TenantStore]:
    """The store over a new database of this run's kind, with its own engine (as another
    process would have)."""
    opened = TenantStore(database_url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


class FlacTemplate(Template):
    def __init__(self, data_dir: Path, database_url: str, tracks: list[dict[str, object]]):
        super().__init__(data_dir, database_url)
        self.tracks = tracks


@pytest.fixture(scope="session")
def tenant_template(
    tmp_path_factory: pytest.TempPathFactory, flac_dir: Path, databases: Databases
) -> Iterator[FlacTemplate]:
    """Tenants lib-a and lib-b, with the session's FLAC files imported into lib-a."""
    data_dir = tmp_path_factory.mktemp(f"tenant-template-{databases.kind}") / "tenant"
    with databases.serving(data_dir, ("lib-a", "lib-b"), keep=True) as tenant:
        tracks = [tenant.import_file("lib-a", p) for p in sorted(flac_dir.glob("*.flac"))]
    yield FlacTemplate(data_dir, tenant.database_url, tracks)
    databases.drop(tenant.database_url)


@pytest.fixture
def service(
    tmp_path: Path, clock: MovableClock, tenant_template: FlacTemplate, databases: Databases
) -> Iterator[RunningTenant]:
    settings = TenantSettings(
        poll_interval_s=POLL_INTERVAL_S, slow_down_step_s=SLOW_DOWN_STEP_S, clock=clock
    )
    with databases.serving(
        tmp_path / "tenant", ("lib-a", "lib-b"), template=tenant_template, settings=settings
    ) as tenant:
        yield tenant


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
def flac_tracks(tenant_template: FlacTemplate) -> list[dict[str, object]]:
    """The tracks of the session's FLAC files in lib-a, in file name order."""
    return tenant_template.tracks
