"""The cache quota: room is made from media nothing needs, least recently used first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contract.media import MediaCache
from device.domain import Sha256
from device.sync.quota import CacheQuota
from tests.sync.conftest import Device, Media, age, sha_of

pytestmark = pytest.mark.timeout(30)


def junk(cache: MediaCache, size: int, seconds_ago: float) -> Sha256:
    """Media from an old playlist, last played `seconds_ago`."""
    data = os.urandom(size)
    sha = cache.add_stream([data], sha_of(data), size)
    path = cache.path_for(sha)
    assert path is not None
    age(path, seconds_ago)
    return sha


def test_new_content_evicts_the_least_recently_used_unneeded_media_only(
    device: Device, media: list[Media]
) -> None:
    first = device.playlist("first", [media[0]])
    assert device.syncer().sync_once().outcome == "activated"
    oldest = junk(device.cache, 40_000, seconds_ago=3600)
    older = junk(device.cache, 40_000, seconds_ago=60)
    second = device.playlist("second", [media[1], media[2]])
    needed = media[0].size + media[1].size + media[2].size
    syncer = device.syncer(quota_bytes=needed + 50_000)  # room for one old file, not two

    result = syncer.sync_once()

    assert result.outcome == "activated"
    assert device.cache.path_for(oldest) is None
    assert device.cache.path_for(older) is not None
    assert device.cache.path_for(media[0].sha) is not None  # the active library's
    assert [p.id for p in device.libraries()[-1].playlists] == [first, second]


def test_content_that_cannot_fit_keeps_the_current_library_and_evicts_nothing(
    device: Device, media: list[Media]
) -> None:
    device.playlist("small", [media[0]])
    assert device.syncer().sync_once().outcome == "activated"
    [before] = device.libraries()
    unused = junk(device.cache, 10_000, seconds_ago=3600)
    device.playlist("big", [media[5], media[6], media[7]])
    syncer = device.syncer(quota_bytes=media[0].size + media[5].size)

    result = syncer.sync_once()

    assert result.outcome == "over_quota"
    assert "does not fit" in result.detail
    assert device.libraries() == [before]
    assert device.cache.path_for(unused) is not None  # evicting it would not have helped
    assert device.cache.path_for(media[5].sha) is None
    assert device.progress()[-1].state == "failed"


def test_cached_lists_only_complete_media(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "cache")
    sha = junk(cache, 100, seconds_ago=10)
    (cache.media / "zz").mkdir()
    (cache.media / "zz" / "not-a-hash").write_bytes(b"x")
    (cache.media / sha[:2] / f".{sha}.abc.partial").write_bytes(b"x")
    quota = CacheQuota(cache, 1000)
    assert list(quota.cached()) == [sha]
    report = quota.make_room({sha_of(b"new"): 950}, keep=set())
    assert report.fits and report.evicted == (sha,)
    assert cache.path_for(sha) is None
