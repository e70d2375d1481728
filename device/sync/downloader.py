"""Downloading one media file into the cache: resumable, bounded, verified.

Bytes arrive in ``downloads/<sha256>.part`` beside (not inside) the cache's ``media/``, so an
interrupted download survives a reboot and resumes with ``Range: bytes=N-`` instead of starting
again over a slow library network; every byte that arrived before a cut is kept, however few.
The body may never exceed the size the document announced
(checked chunk by chunk, so a hostile or broken server cannot fill the disk), and the file
enters the cache only once its sha256 and size match. The ``.part`` is hashed while it is
written, so a completed download is renamed into the cache (fsynced, then the directory
fsynced: the cache's own guarantee) without reading the file a second time; only when the
two folders sit on different filesystems is it copied through `MediaCache.add_stream`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import requests
import urllib3

from contract.files import fsync_dir, write_all
from contract.ids import is_sha256
from contract.media import CacheError, MediaCache
from device.domain import Sha256
from device.ports import TenantHttp
from device.tenant_api.errors import TenantRefused, TenantUnreachable

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["CHUNK_BYTES", "DownloadError", "DownloadIntegrityError", "Downloader", "ServerTrouble"]

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(Exception):
    """This file could not be fetched this time; whatever was received is kept for a resume."""


class DownloadIntegrityError(DownloadError):
    """The bytes are not the announced ones (hash, size, too long); the ``.part`` is deleted."""


class ServerTrouble(DownloadError):
    """The tenant is unreachable or failing (network error, 5xx): stop this pass, back off."""


class Downloader:
    """Fetches media named by sha256 from the tenant into `cache`, via `downloads_dir`."""

    def __init__(
        self,
        http: TenantHttp,
        cache: MediaCache,
        downloads_dir: Path,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        timeout_s: float = 30.0,
        url_path: Callable[[Sha256], str] | None = None,
    ) -> None:
        self.http = http
        self.url_path = url_path or (lambda sha: f"/v1/media/{sha}")  # firmware: its own path
        self.cache = cache
        self.downloads = Path(downloads_dir)
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.chunk_bytes = chunk_bytes
        self.timeout_s = timeout_s

    def part_path(self, sha: Sha256) -> Path:
        return self.downloads / f"{sha}.part"

    def fetch(self, sha: Sha256, size: int, on_bytes: Callable[[int], None] | None = None) -> Path:
        """The cache path of the file, downloading (or resuming) it first when missing.

        `on_bytes` is told how many new bytes each chunk brought, for progress reports.
        Raises DownloadIntegrityError, ServerTrouble or DownloadError.
        """
        if not is_sha256(sha) or size <= 0:
            raise ValueError(f"not a media reference: {sha!r}, {size} bytes")
        cached = self.cache.path_for(sha)
        if cached is not None and cached.stat().st_size == size:
            return cached
        part = self.part_path(sha)
        fd = _open_part(part)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_ino != os.stat(part).st_ino:
                    raise BlockingIOError  # another process moved it into the cache meanwhile
            except (BlockingIOError, FileNotFoundError):
                raise DownloadError(f"{sha} is being downloaded by another process") from None
            digest, have = self._resume_point(fd, size)
            if have < size:
                digest, have = self._receive(fd, sha, size, digest, have, on_bytes)
            if have != size or digest.hexdigest() != sha:
                _discard(fd, part)
                problem = (
                    f"{have} bytes instead of {size}"
                    if have != size
                    else f"content hashes to {digest.hexdigest()}"
                )
                raise DownloadIntegrityError(f"{sha}: {problem}; discarded, fetched again later")
            return self._commit(fd, part, sha, size)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ steps

    def _resume_point(self, fd: int, size: int) -> tuple[_Hash, int]:
        """Hash what an earlier attempt left, or start from scratch when it cannot be used."""
        have = os.fstat(fd).st_size
        if have > size:
            log.warning(
                "a partial download is longer than the file (%d > %d); restarting", have, size
            )
            os.ftruncate(fd, 0)
            return hashlib.sha256(), 0
        digest = hashlib.sha256()
        if have:
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
                digest = hashlib.file_digest(f, "sha256")
        return digest, have

    def _receive(
        self,
        fd: int,
        sha: Sha256,
        size: int,
        digest: _Hash,
        have: int,
        on_bytes: Callable[[int], None] | None,
    ) -> tuple[_Hash, int]:
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            response = self.http.get(
                self.url_path(sha), headers=headers, stream=True, timeout=self.timeout_s
            )
        except TenantUnreachable as exc:
            raise ServerTrouble(f"{sha}: tenant unreachable: {exc}") from exc
        except TenantRefused as exc:
            raise DownloadError(f"{sha}: refused by the tenant: {exc}") from exc
        except requests.RequestException as exc:
            raise ServerTrouble(f"{sha}: {exc}") from exc
        with response:
            status = response.status_code
            if status >= 500:
                raise ServerTrouble(f"{sha}: the tenant answered {status}")
            if status == 200 and have:
                log.info("%s: the tenant ignored the range, downloading again from the start", sha)
                os.ftruncate(fd, 0)
                digest, have = hashlib.sha256(), 0
            elif status == 206 and have:
                self._check_content_range(fd, sha, size, have, response)
            elif status == 416 and have:
                os.ftruncate(fd, 0)
                raise DownloadError(
                    f"{sha}: the tenant cannot resume at byte {have}; restarting later"
                )
            elif status != 200:
                raise DownloadError(f"{sha}: the tenant answered {status} {response.reason}")
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and have + int(announced) != size:
                _discard(fd, self.part_path(sha))
                raise DownloadIntegrityError(
                    f"{sha}: the tenant has {have + int(announced)} bytes, the playlist says {size}"
                )
            os.lseek(fd, have, os.SEEK_SET)
            try:
                for chunk in _chunks(response, self.chunk_bytes):
                    have += len(chunk)
                    if have > size:
                        _discard(fd, self.part_path(sha))
                        raise DownloadIntegrityError(
                            f"{sha}: the body goes past the announced {size} bytes; discarded"
                        )
                    digest.update(chunk)
                    write_all(fd, chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
            except _Cut as exc:
                raise ServerTrouble(
                    f"{sha}: interrupted at {have} of {size} bytes (kept, will resume): {exc}"
                ) from exc
        if have < size:
            raise ServerTrouble(f"{sha}: the body ended at {have} of {size} bytes; will resume")
        return digest, have

    def _check_content_range(
        self, fd: int, sha: Sha256, size: int, have: int, response: requests.Response
    ) -> None:
        value = response.headers.get("Content-Range", "")
        match = _CONTENT_RANGE.fullmatch(value.strip())
        expected = (have, size - 1, str(size))
        if not match or (int(match[1]), int(match[2]), match[3]) != expected:
            os.ftruncate(fd, 0)
            raise DownloadError(
                f"{sha}: asked for bytes {have}- of {size}, the tenant sent {value or 'no'} "
                "Content-Range; restarting later"
            )

    def _commit(self, fd: int, part: Path, sha: Sha256, size: int) -> Path:
        """Move the verified ``.part`` into the cache with the cache's own guarantee."""
        os.fsync(fd)
        os.fchmod(fd, 0o444)  # cached media are read-only
        shard = self.cache.media / sha[:2]
        target = shard / sha
        try:
            if not shard.is_dir():
                shard.mkdir(exist_ok=True)
                fsync_dir(self.cache.media)
            os.replace(part, target)
            fsync_dir(shard)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                os.fchmod(fd, 0o644)  # still a .part: the next attempt must reopen it
                raise DownloadError(f"{sha}: cannot move into the cache: {exc}") from exc
            self._copy_into_cache(part, sha, size)
        path = self.cache.path_for(sha)
        if path is None or not self.cache.contains(path):
            raise CacheError(f"{sha} was stored but the cache does not find it at {target}")
        return path

    def _copy_into_cache(self, part: Path, sha: Sha256, size: int) -> None:
        with part.open("rb") as f:
            self.cache.add_stream(iter(lambda: f.read(CHUNK_BYTES), b""), sha, size)
        with contextlib.suppress(OSError):
            part.unlink()


def _open_part(part: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(part, flags, 0o644)
    except PermissionError:
        os.chmod(part, 0o644)  # left read-only by a crash just before its move into the cache
        return os.open(part, flags, 0o644)


class _Cut(Exception):
    """The connection broke or timed out mid-body (after the bytes that did arrive)."""


def _chunks(response: requests.Response, chunk_bytes: int) -> Iterator[bytes]:
    """The body in pieces of `chunk_bytes` (the last may be shorter), then _Cut if it broke.

    Reads with ``read1`` (what the socket has, up to a size) rather than ``iter_content``,
    which keeps a whole chunk in memory and drops it when the connection breaks: a file
    smaller than one chunk then never got a byte kept and was fetched from zero forever.
    Whatever arrived before a break is handed over first, so it is written and resumed from.
    """
    raw = response.raw
    pending = bytearray()
    try:
        while piece := raw.read1(chunk_bytes - len(pending), decode_content=True):
            pending += piece
            if len(pending) >= chunk_bytes:
                yield bytes(pending)
                pending.clear()
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        if pending:
            yield bytes(pending)
        raise _Cut(str(exc)) from exc
    if pending:
        yield bytes(pending)


def _discard(fd: int, part: Path) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    with contextlib.suppress(OSError):
        part.unlink()
