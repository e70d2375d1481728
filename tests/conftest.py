"""Shared fixtures: synthesised tracks, a real play journal, a content library."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from demo.tracks import TrackSpec, synthesise_track
from device.domain import Library, Playlist, PlaylistId, Track, TrackId
from device.journal.outbox import PlayJournal
from device.journal.report import JournalIdentity
from tenant.broker.process import MosquittoProcess
from tests.support.broker import SecuredBroker, anonymous_broker, secured_broker

IDENTITY = JournalIdentity(
    tenant="mediatheques-sud",
    site="centre",
    device_id="jk-test",
    firmware_version="0.1.0",
    boot_id="boot-1",
)


@pytest.fixture(autouse=True)
def _no_log_handler_left_on_a_closed_stream() -> Iterator[None]:
    """A test that runs a command's main() in this process (setup_logging) leaves the root
    logger writing to the stream pytest captured for it, which is closed once that test ends;
    every later log line in the worker would print "--- Logging error ---" on stderr."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        stream = getattr(handler, "stream", None)
        if stream is not None and getattr(stream, "closed", False):
            root.removeHandler(handler)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[PlayJournal]:
    journal = PlayJournal(tmp_path / "journal.sqlite3", IDENTITY)
    yield journal
    journal.close()


@pytest.fixture(scope="session")
def flac_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few short real FLAC files, made once per test session."""
    folder = tmp_path_factory.mktemp("flac")
    for i, seconds in enumerate((1.5, 1.5, 1.0, 2.0)):
        spec = TrackSpec(
            f"Track {i}",
            f"Artist {i}",
            seconds,
            isrc=f"FRZ0326000{i:02d}",
            frequency_hz=330 + 110 * i,
        )
        synthesise_track(folder / f"t{i}.flac", spec)
    return folder


def make_library(media: Path, *lists: tuple[str, int]) -> Library:
    """A library whose tracks all point at one existing file (the core never opens it)."""
    playlists = []
    for list_id, count in lists:
        tracks = tuple(
            Track(
                TrackId(f"{list_id}-t{i}"),
                f"{list_id} title {i}",
                f"Artist {i}",
                media,
                duration_ms=None,
                isrc=f"FRZ03{i:07d}",
            )
            for i in range(count)
        )
        playlists.append(
            Playlist(PlaylistId(list_id), list_id.title(), f"Note of {list_id}", "rev1", tracks)
        )
    return Library(tuple(playlists), featured=PlaylistId(lists[0][0]))


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A real mosquitto on a free port that lets anyone do anything."""
    with anonymous_broker(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def dynsec_broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """A real mosquitto with dynamic security: service and ingester accounts, default deny."""
    with secured_broker(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """As dynsec_broker, over TLS with a CA made for the test (broker.settings.ca_file)."""
    with secured_broker(tmp_path / "mosquitto", tls=True) as broker:
        yield broker
