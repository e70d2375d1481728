"""The media cache stores files under their sha256 and lets the player read nothing else."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.media import CacheError, CacheIntegrityError, MediaCache
from device.domain import Sha256

AUDIO = b"fLaC" + bytes(range(256)) * 64


def sha_of(data: bytes) -> Sha256:
    return Sha256(hashlib.sha256(data).hexdigest())


@pytest.fixture
def cache(tmp_path: Path) -> MediaCache:
    return MediaCache(tmp_path / "cache")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "folder" / "01-ouverture.flac"
    path.parent.mkdir()
    path.write_bytes(AUDIO)
    return path


def temporaries(cache: MediaCache) -> list[Path]:
    return sorted(cache.media.glob("*/.*"))


def test_a_file_is_stored_under_its_sha256(cache: MediaCache, src: Path) -> None:
    sha = cache.add_file(src)
    assert sha == sha_of(AUDIO)
    stored = cache.root / "media" / sha[:2] / sha
    assert cache.path_for(sha) == stored
    assert stored.read_bytes() == AUDIO
    assert stored.stat().st_mode & 0o222 == 0  # stored read-only
    assert temporaries(cache) == []


def test_adding_a_file_already_cached_copies_nothing(cache: MediaCache, src: Path) -> None:
    sha = cache.add_file(src)
    stored = cache.path_for(sha)
    assert stored is not None
    before = stored.stat()
    copy = src.with_name("same-content.flac")
    copy.write_bytes(AUDIO)
    assert cache.add_file(copy) == sha
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_truncated_cached_file_is_replaced_on_the_next_add(cache: MediaCache, src: Path) -> None:
    sha = cache.add_file(src)
    stored = cache.path_for(sha)
    assert stored is not None
    stored.chmod(0o644)
    stored.write_bytes(AUDIO[:10])
    assert cache.add_file(src) == sha
    assert stored.read_bytes() == AUDIO


def test_path_for_an_absent_hash_is_none(cache: MediaCache) -> None:
    assert cache.path_for(sha_of(b"never stored")) is None


def test_a_malformed_hash_is_refused(cache: MediaCache) -> None:
    with pytest.raises(ValueError, match="not a lowercase sha256"):
        cache.path_for(Sha256("../../etc/passwd"))
    with pytest.raises(ValueError, match="not a lowercase sha256"):
        cache.path_for(Sha256(sha_of(AUDIO).upper()))


def test_verify_rehashes_the_content(cache: MediaCache, src: Path) -> None:
    sha = cache.add_file(src)
    assert cache.verify(sha)
    stored = cache.path_for(sha)
    assert stored is not None
    stored.chmod(0o644)
    stored.write_bytes(AUDIO[:-1] + b"!")  # same size, one byte rotten
    assert not cache.verify(sha)
    assert not cache.verify(sha_of(b"never stored"))


def test_contains_accepts_only_cached_files(cache: MediaCache, src: Path, tmp_path: Path) -> None:
    sha = cache.add_file(src)
    stored = cache.path_for(sha)
    assert stored is not None
    assert cache.contains(stored)
    # The same file reached through `..` is still the same cached file.
    assert cache.contains(cache.media / sha[:2] / ".." / sha[:2] / sha)

    assert not cache.contains(src)  # the original, outside the cache
    assert not cache.contains(cache.media / sha[:2] / sha_of(b"absent"))
    assert not cache.contains(cache.media / sha[:2])  # a directory

    link = cache.media / sha[:2] / sha_of(b"link")
    link.symlink_to(stored)
    assert not cache.contains(link)  # a symlink, even to a cached file

    odd = cache.media / sha[:2] / "notes.txt"
    odd.write_bytes(b"x")
    assert not cache.contains(odd)  # not a sha256 name

    wrong_shard = cache.media / "00" / sha
    wrong_shard.parent.mkdir()
    wrong_shard.write_bytes(AUDIO)
    assert not cache.contains(wrong_shard)

    outside = tmp_path / "media" / sha[:2] / sha  # right shape, wrong root
    outside.parent.mkdir(parents=True)
    outside.write_bytes(AUDIO)
    assert not cache.contains(outside)


def test_contains_refuses_a_shard_directory_that_is_a_symlink_out(
    cache: MediaCache, tmp_path: Path
) -> None:
    sha = sha_of(b"planted")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / sha).write_bytes(b"planted")
    (cache.media / sha[:2]).symlink_to(elsewhere)
    assert not cache.contains(cache.media / sha[:2] / sha)


def test_a_stream_is_stored_when_its_hash_and_size_match(cache: MediaCache) -> None:
    chunks = [AUDIO[:1000], AUDIO[1000:]]
    sha = cache.add_stream(chunks, sha_of(AUDIO), len(AUDIO))
    stored = cache.path_for(sha)
    assert stored is not None and stored.read_bytes() == AUDIO
    assert cache.contains(stored)


@pytest.mark.parametrize(
    ("data", "size", "message"),
    [
        (AUDIO[:-1] + b"!", len(AUDIO), "content hashes to"),
        (AUDIO, len(AUDIO) - 1, "more than the expected"),
        (AUDIO[:-1], len(AUDIO), "bytes instead of the expected"),
    ],
    ids=["wrong-content", "too-long", "too-short"],
)
def test_a_stream_that_does_not_match_leaves_nothing(
    cache: MediaCache, data: bytes, size: int, message: str
) -> None:
    with pytest.raises(CacheIntegrityError, match=message):
        cache.add_stream([data], sha_of(AUDIO), size)
    assert cache.path_for(sha_of(AUDIO)) is None
    assert temporaries(cache) == []


def test_a_stream_already_cached_is_not_read(cache: MediaCache, src: Path) -> None:
    sha = cache.add_file(src)

    def never() -> Iterator[bytes]:
        raise AssertionError("the download should not have been started")
        yield b""  # pragma: no cover

    assert cache.add_stream(never(), sha, len(AUDIO)) == sha


def test_a_stream_interrupted_by_an_exception_leaves_no_temporary(cache: MediaCache) -> None:
    def broken() -> Iterator[bytes]:
        yield AUDIO[:100]
        raise ConnectionResetError("network went away")

    with pytest.raises(CacheError, match="network went away"):
        cache.add_stream(broken(), sha_of(AUDIO), len(AUDIO))
    assert temporaries(cache) == []


def test_a_source_that_changes_during_the_copy_is_refused(
    cache: MediaCache, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_present = MediaCache._present

    def present_then_tamper(self: MediaCache, sha: Sha256, size: int | None) -> bool:
        src.write_bytes(AUDIO[:-1] + b"!")  # same size, between hashing and copying
        return real_present(self, sha, size)

    monkeypatch.setattr(MediaCache, "_present", present_then_tamper)
    with pytest.raises(CacheError, match="changed while it was copied"):
        cache.add_file(src)
    assert temporaries(cache) == []
    assert list(cache.media.glob("*/*")) == []


def test_adding_a_fifo_fails_instead_of_blocking(cache: MediaCache, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.flac"
    os.mkfifo(fifo)
    with pytest.raises(CacheError, match="not a regular file"):
        cache.add_file(fifo)


def test_adding_a_missing_file_names_it(cache: MediaCache, tmp_path: Path) -> None:
    with pytest.raises(CacheError, match=r"cannot read .*gone\.flac: No such file"):
        cache.add_file(tmp_path / "gone.flac")


KILLED_WRITER = textwrap.dedent(
    """
    import hashlib, os, signal, sys
    from pathlib import Path
    from contract.media import MediaCache

    data = b"x" * 100_000
    def chunks():
        yield data[:50_000]
        os.kill(os.getpid(), signal.SIGKILL)  # power cut in the middle of the copy
        yield data[50_000:]
    MediaCache(Path(sys.argv[1])).add_stream(chunks(), hashlib.sha256(data).hexdigest(), len(data))
    """
)


def test_a_copy_killed_midway_leaves_a_temporary_removed_at_next_start(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(root)], timeout=30, check=False
    )
    assert child.returncode == -signal.SIGKILL
    cache_dir = root / "media"
    [partial] = list(cache_dir.glob("*/.*.partial"))
    assert partial.stat().st_size == 50_000
    cache = MediaCache(root)
    assert temporaries(cache) == []
    assert cache.path_for(sha_of(b"x" * 100_000)) is None


def test_a_temporary_still_being_written_is_left_alone(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "cache")
    shard = cache.media / "ab"
    shard.mkdir()
    live = shard / f".{'ab' * 32}.0123456789ab.partial"
    stale = shard / f".{'ab' * 32}.ba9876543210.partial"
    live.write_bytes(b"half")
    stale.write_bytes(b"half")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a live writer in another thread or process
        MediaCache(tmp_path / "cache")
        assert live.exists() and not stale.exists()
    finally:
        os.close(fd)
    MediaCache(tmp_path / "cache")
    assert not live.exists()
