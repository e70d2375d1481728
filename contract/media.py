"""The content-addressed media cache: the only place the player may read audio from.

A file's name is the sha256 of its bytes, so a name is also a promise about the content and a
playlist can say exactly which recording it means. Layout under `root`::

    media/<sha[:2]>/<sha256 hex>                  a complete, verified file (read-only)
    media/<sha[:2]>/.<sha256 hex>.<random>.partial a copy in progress (flock'ed by its writer)

Every write goes to a temporary name in the final directory, is fsynced, renamed over the final
name and the directory fsynced, so after a power cut a name either holds its whole content or
does not exist. Temporaries left by a crash are removed when the cache is opened; those still
locked by a live writer (the tenant sync in another thread or process) are left alone.

`add_file` serves the local folder; `add_stream` is the seam for downloads, which check the
expected hash and size while they write.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from contract.files import fsync_dir, temporary_sibling, write_all
from contract.ids import Sha256, is_sha256, sha256, sha256_file

__all__ = ["CacheError", "CacheIntegrityError", "MediaCache"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_PARTIAL = ".partial"


class CacheError(Exception):
    """Media could not be read or stored; the message names the file."""


class CacheIntegrityError(CacheError):
    """The bytes written do not have the expected sha256 or size; nothing was stored."""


class MediaCache:
    """The media cache under `root` (created if missing)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.media = self.root / "media"
        try:
            self.media.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the media cache {self.media}: {exc}") from exc
        self._media_resolved = self.media.resolve()
        removed = self.remove_stray_temporaries()
        if removed:
            log.info("removed %d interrupted cache write(s) from %s", removed, self.media)

    # ------------------------------------------------------------------ reading

    def path_for(self, sha: Sha256) -> Path | None:
        """The cached file with this hash, or None when it is not (or not properly) there."""
        path = self._location(sha)
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                return path
        except OSError:
            pass
        return None

    def contains(self, path: Path) -> bool:
        """True only for a regular file (not a symlink) at its sha256 name inside the cache.

        The player's gate: a path that passes can only be something the cache stored.
        """
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return False
            resolved = Path(path).resolve(strict=True)
        except (OSError, ValueError, RuntimeError):
            return False
        name = resolved.name
        return is_sha256(name) and resolved.parent == self._media_resolved / name[:2]

    def verify(self, sha: Sha256) -> bool:
        """Re-hash the cached file: False if it is missing or its bytes no longer match."""
        path = self.path_for(sha)
        if path is None:
            return False
        try:
            with _open_regular(path) as f:
                actual = sha256_file(f)
        except (OSError, CacheError) as exc:
            log.warning("cannot verify cached %s: %s", path, exc)
            return False
        if actual != sha:
            log.warning("cached %s is corrupt: its content hashes to %s", path, actual)
            return False
        return True

    # ------------------------------------------------------------------ writing

    def add_file(self, src: Path) -> Sha256:
        """Store a copy of `src` and return its hash; nothing is copied when already cached."""
        try:
            with _open_regular(src) as f:
                size = os.fstat(f.fileno()).st_size
                sha = sha256_file(f)
                if self._present(sha, size):
                    return sha
                f.seek(0)
                return self.add_stream(_chunks(f), sha, size)
        except CacheIntegrityError as exc:
            raise CacheError(f"{src} changed while it was copied into the cache: {exc}") from exc
        except OSError as exc:
            raise CacheError(f"cannot read {src}: {exc.strerror or exc}") from exc

    def add_stream(
        self, chunks: Iterable[bytes], expected_sha256: Sha256, expected_size: int | None = None
    ) -> Sha256:
        """Store bytes that must hash to `expected_sha256` (and be `expected_size` long).

        Raises CacheIntegrityError, leaving nothing behind, when they do not; `chunks` is not
        consumed when the file is already cached.
        """
        sha = self._checked(expected_sha256)
        if self._present(sha, expected_size):
            return sha
        final = self._location(sha)
        try:
            self._make_shard(final.parent)
            temp = temporary_sibling(final, _PARTIAL)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise CacheError(f"cannot write into the cache {final.parent}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # tells a starting cache this write is alive
            digest = sha256()
            size = 0
            for chunk in chunks:
                size += len(chunk)
                if expected_size is not None and size > expected_size:
                    raise CacheIntegrityError(f"more than the expected {expected_size} bytes")
                digest.update(chunk)
                write_all(fd, chunk)
            if expected_size is not None and size != expected_size:
                raise CacheIntegrityError(f"{size} bytes instead of the expected {expected_size}")
            if digest.hexdigest() != sha:
                raise CacheIntegrityError(f"content hashes to {digest.hexdigest()}, not {sha}")
            os.fsync(fd)
            os.fchmod(fd, 0o444)
            os.replace(temp, final)
            fsync_dir(final.parent)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            if isinstance(exc, OSError):
                raise CacheError(f"cannot write {final}: {exc.strerror or exc}") from exc
            raise
        finally:
            os.close(fd)
        log.debug("cached %s (%d bytes)", sha, size)
        return sha

    def remove_stray_temporaries(self) -> int:
        """Delete temporaries of interrupted writes (unlocked ones only); return how many."""
        removed = 0
        for temp in self.media.glob(f"*/.*{_PARTIAL}"):
            try:
                fd = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                with contextlib.suppress(OSError):
                    if temp.is_symlink():
                        temp.unlink()
                        removed += 1
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                temp.unlink()
                removed += 1
            except OSError:
                pass  # a live writer holds it, or it vanished: either way not ours to remove
            finally:
                os.close(fd)
        return removed

    # ------------------------------------------------------------------ internals

    def _checked(self, sha: str) -> Sha256:
        if not is_sha256(sha):
            raise ValueError(f"not a lowercase sha256 hex digest: {sha!r}")
        return Sha256(sha)

    def _location(self, sha: Sha256) -> Path:
        sha = self._checked(sha)
        return self.media / sha[:2] / sha

    def _present(self, sha: Sha256, size: int | None) -> bool:
        path = self._location(sha)
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size):
            return True
        log.warning("cached %s is damaged (wrong size or type); it will be replaced", path)
        return False

    def _make_shard(self, shard: Path) -> None:
        if not shard.is_dir():
            shard.mkdir(exist_ok=True)
            fsync_dir(self.media)


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[io.BufferedReader]:
    """Open for reading without ever blocking on a FIFO or device, or reading one."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise CacheError(f"{path} is not a regular file")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def _chunks(f: io.BufferedReader) -> Iterator[bytes]:
    while chunk := f.read(_CHUNK):
        yield chunk
