"""The console's fixtures: the real tenant over HTTP with staff of every role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.tracks import TrackSpec, synthesise_track
from tenant.roles import Role
from tests.e2e.conftest import short_tracks
from tests.support.tenant import RunningTenant
from tests.tenant.staff_support import PASSWORD, add_user

__all__ = ["PASSWORD", "short_tracks"]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RunningTenant]:
    """lib-a with a curator of `centre` (carla), one of `annexe` (anna), a technician (theo),
    a reports reader (rita); lib-b beside it."""
    with RunningTenant(tmp_path / "tenant", ("lib-a", "lib-b")) as service:
        add_user(service, "carla", Role.CURATOR, ("centre",))
        add_user(service, "anna", Role.CURATOR, ("annexe",))
        add_user(service, "theo", Role.TECHNICIAN)
        add_user(service, "rita", Role.REPORTS)
        add_user(service, "nadia", Role.NETWORK_ADMIN)
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
