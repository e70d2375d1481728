"""Fixtures of the end-to-end tests: short synthesised tracks and the whole rig (rig.py).

The rig's database comes from `databases` (tests/support/databases.py), as in tests/tenant, but
here it is SQLite unless a test is marked ON_EVERY_DATABASE: these tests run real kiosk
processes, a broker and an ingester for seconds to minutes each, and running all of them twice
would add minutes to the suite for little. tests/tenant already runs the store, the API and the
ingester on both databases; on PostgreSQL the end-to-end suite adds what only the whole system
shows, with two tests:
- test_offline_delivery: the play-report path at volume, a kiosk's thousand journalled plays
  through the broker and the ingester into the store, each stored exactly once;
- test_revoke: a device's life at the tenant, claimed, online and revoked, its status written
  by the ingester and its broker account removed, and the unacknowledged plays kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.tracks import TrackSpec, synthesise_track
from tests.e2e.rig import Rig
from tests.support.broker import SecuredBroker
from tests.support.databases import DATABASES, Databases, database_url, databases_of

__all__ = ["ON_EVERY_DATABASE", "database_url"]

ON_EVERY_DATABASE = pytest.mark.parametrize("databases", DATABASES, indirect=True)


@pytest.fixture(scope="session")
def short_tracks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three real FLAC files of about one second, made once per session."""
    folder = tmp_path_factory.mktemp("e2e-tracks")
    return [
        synthesise_track(
            folder / f"short{i}.flac",
            TrackSpec(
                f"Short {i}", f"Artist {i}", 1.0, f"FRZ0326100{i:02d}", frequency_hz=330 + 110 * i
            ),
        )
        for i in range(3)
    ]


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest) -> Databases:
    """SQLite; each of DATABASES for a test marked ON_EVERY_DATABASE."""
    return databases_of(getattr(request, "param", "sqlite"), request.config)


@pytest.fixture
def rig(
    tmp_path: Path, dynsec_broker: SecuredBroker, short_tracks: list[Path], database_url: str
) -> Iterator[Rig]:
    rig = Rig(tmp_path, dynsec_broker, short_tracks, database_url=database_url)
    yield rig
    rig.close()
