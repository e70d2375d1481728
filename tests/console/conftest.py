"""The console's fixtures: the real tenant over HTTP with staff of every role, on each
database (tests/support/databases.py): every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.tracks import TrackSpec, synthesise_track
from tenant.roles import Role
from tests.e2e.conftest import short_tracks
from tests.support.databases import (
    Databases,
    Template,
    database_url,
    databases,
    postgres_server,
)
from tests.support.tenant import RunningTenant
from tests.tenant.staff_support import PASSWORD, add_user

__all__ = ["PASSWORD", "database_url", "databases", "postgres_server", "short_tracks"]

SLUGS = ("lib-a", "lib-b")


@pytest.fixture(scope="session")
def staff_template(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> Iterator[Template]:
    """lib-a with a curator of `centre` (carla), one of `annexe` (anna), a technician (theo),
    a reports reader (rita), a network administrator (nadia); lib-b beside it. Made once per
    database: each test serves a copy (a new service and its users cost two seconds)."""
    data_dir = tmp_path_factory.mktemp(f"console-template-{databases.kind}") / "tenant"
    with databases.serving(data_dir, SLUGS, keep=True) as service:
        add_user(service, "carla", Role.CURATOR, ("centre",))
        add_user(service, "anna", Role.CURATOR, ("annexe",))
        add_user(service, "theo", Role.TECHNICIAN)
        add_user(service, "rita", Role.REPORTS)
        add_user(service, "nadia", Role.NETWORK_ADMIN)
    yield Template(data_dir, service.database_url)
    databases.drop(service.database_url)


@pytest.fixture
def service(
    tmp_path: Path, staff_template: Template, databases: Databases
) -> Iterator[RunningTenant]:
    """A copy of staff_template, served."""
    with databases.serving(tmp_path / "tenant", SLUGS, template=staff_template) as service:
        yield service


@pytest.fixture(scope="session")
def flac_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two short FLAC files, one with a hostile title."""
    folder = tmp_path_factory.mktemp("console-tracks")
    specs = [
        TrackSpec("<script>alert(1)</script>", '=HYPERLINK("x")', 1.0, "FRZ032600101"),
        TrackSpec("Quiet morning", "Les Sœurs", 1.0, "FRZ032600102", frequency_hz=550),
    ]
    return [synthesise_track(folder / f"t{i}.flac", s) for i, s in enumerate(specs)]
