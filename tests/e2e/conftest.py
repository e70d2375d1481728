"""Fixtures of the end-to-end tests: short synthesised tracks and the whole rig (rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.tracks import TrackSpec, synthesise_track
from tests.e2e.rig import Rig
from tests.support.broker import SecuredBroker


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


@pytest.fixture
def rig(tmp_path: Path, dynsec_broker: SecuredBroker, short_tracks: list[Path]) -> Iterator[Rig]:
    rig = Rig(tmp_path, dynsec_broker, short_tracks)
    yield rig
    rig.close()
