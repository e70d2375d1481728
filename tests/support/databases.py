"""The databases the tenant's tests run on: SQLite and PostgreSQL.

    @pytest.fixture
    def service(databases: Databases, tmp_path: Path) -> Iterator[RunningTenant]:
        with databases.serving(tmp_path / "tenant", ("lib-a",)) as service:
            yield service      # service.database_url: the database this run chose

`databases` (session scoped, parametrised) is the one place that picks the database: a test
using it, directly or through a fixture, runs once on SQLite and once on PostgreSQL (`[sqlite]`,
`[postgresql]` in its id). The conftests that want it import it (tests/tenant, tests/console;
tests/e2e runs most tests on SQLite only and overrides it). tests/tenant/test_database_fixtures.py
checks that no test of the tenant reaches around it to the SQLite default.

PostgreSQL is a throwaway server started once per test process, however many conftests ask for
it (tenant.store.postgres: Debian's `postgresql` package, initdb in a temporary folder, its own
port, stopped at the end of the session). With JUKEBOX_TEST_POSTGRES_URL set (a server URL such
as `postgresql+psycopg://jukebox@127.0.0.1:5432/postgres`, whose user may create databases) the
tests use that server instead. JUKEBOX_TEST_DATABASES=sqlite (or postgresql) runs only one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from tenant.store import default_database_url
from tenant.store.postgres import PostgresServer, create_database, drop_database
from tenant.store.records import DATABASE_FILE
from tests.support.tenant import RunningTenant, running_tenant

__all__ = ["DATABASES", "Databases", "Template", "database_url", "databases", "postgres_server"]

POSTGRES_URL = os.environ.get("JUKEBOX_TEST_POSTGRES_URL")
DATABASES = [
    kind.strip()
    for kind in os.environ.get("JUKEBOX_TEST_DATABASES", "sqlite,postgresql").split(",")
    if kind.strip()
]
_SERVER = pytest.StashKey[PostgresServer]()


class Template:
    """A data directory and its database, set up once, that each test serves a copy of."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url


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

    def check_no_default(self, data_dir: Path) -> None:
        """On PostgreSQL, nothing opened the SQLite default in data_dir: neither the test nor
        the service reached around the database this run chose."""
        stray = data_dir / DATABASE_FILE
        assert self.server_url is None or not stray.exists(), f"{stray} on a PostgreSQL run"

    @contextmanager
    def serving(
        self,
        data_dir: Path,
        slugs: Sequence[str],
        *,
        template: Template | None = None,
        keep: bool = False,
        **options: Any,
    ) -> Iterator[RunningTenant]:
        """The service over data_dir on a new database of this kind, or on a copy of the
        template (its data directory and its database); the database is dropped afterwards
        unless `keep` (a template's). `options` go to RunningTenant (settings, broker…)."""
        if template is None:
            url = self.new(data_dir)
        else:
            shutil.copytree(template.data_dir, data_dir)
            url = self.copy(template.database_url, data_dir)
        try:
            with running_tenant(data_dir, slugs, database_url=url, **options) as tenant:
                yield tenant
        finally:
            if not keep:
                self.drop(url)
        self.check_no_default(data_dir)


def databases_of(kind: str, config: pytest.Config) -> Databases:
    if kind == "sqlite":
        return Databases(kind, None)
    if kind == "postgresql":
        return Databases(kind, postgres_url(config))
    raise ValueError(f"JUKEBOX_TEST_DATABASES: {kind!r}: not sqlite or postgresql")


def postgres_url(config: pytest.Config) -> str:
    """The maintenance database of the session's one PostgreSQL server (started at the first
    call, stopped when the session ends)."""
    if POSTGRES_URL is not None:
        return POSTGRES_URL
    server = config.stash.get(_SERVER, None)
    if server is None:
        server = PostgresServer().start()
        config.stash[_SERVER] = server
        config.add_cleanup(server.stop)
    return server.url


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> str:
    """The URL of a PostgreSQL server's maintenance database, for the whole session."""
    return postgres_url(pytestconfig)


@pytest.fixture(scope="session", params=DATABASES)
def databases(request: pytest.FixtureRequest) -> Databases:
    return databases_of(request.param, request.config)


@pytest.fixture
def database_url(databases: Databases, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test run's kind (SQLite: tmp_path/tenant/tenant.sqlite3)."""
    url = databases.new(tmp_path / "tenant")
    yield url
    databases.drop(url)
    databases.check_no_default(tmp_path / "tenant")
