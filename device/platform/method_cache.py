"""A bytecode cache for the methods `dataclasses` writes, kept beside Python's own .pyc.

Python keeps a module's bytecode in ``__pycache__``, but not the methods ``@dataclass``
generates: Python 3.11 writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``
and (frozen) ``__setattr__``/``__delattr__`` as source text and compiles it with ``exec`` at
every start. A kiosk creates about 80 dataclasses before READY (some 440 methods): 50 ms of
its 230 ms of imports on the development machine, a fifth of its start in an emulated boot
(docs/image.md).

`dataclasses` finds ``exec`` in its own module's globals before the builtins, so `install`
puts a caching one there. A text compiled before runs from its code object; any other is
compiled exactly as the builtin ``exec`` would (filename ``<string>``, no ``__future__`` flag
inherited) and the new entries are saved at exit, atomically, when Python may write bytecode
(``sys.dont_write_bytecode``) and the folder is writable. Keyed by the whole source text, an
entry is never stale, only unused; the file is per interpreter (its cache tag) and a
corrupt or foreign one is ignored; ``JUKEBOX_NO_METHOD_CACHE=1`` turns it off (for a
comparison: bench/start_ready.py). The kiosk's root is read-only: the image build writes the
file once (``python -m device.platform.method_cache``), as it writes every ``.pyc``.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import importlib
import logging
import marshal
import os
import sys
import threading
from pathlib import Path
from types import CodeType
from typing import Any

from contract.files import atomic_write

log = logging.getLogger(__name__)

__all__ = ["DISABLE_VARIABLE", "KIOSK_MODULES", "MethodCache", "cache_path", "install"]

# The kiosk image's file holds about 600; a developer's checkout gathers more as classes change.
MAX_ENTRIES = 2000
DISABLE_VARIABLE = "JUKEBOX_NO_METHOD_CACHE"  # set (to anything): compile as Python does

# What a kiosk imports by the time it plays with its tenant linked: the image build loads
# these once to fill the cache (the daemon adds whatever else it meets when it may write).
KIOSK_MODULES = (
    "device.cli",
    "device.daemon",
    "device.link",
    "device.remote",
    "device.mqtt.supervisor",
    "device.stick.watcher",
    "device.update.cli",
    "device.firstboot.cli",
    "device.stick.cli",
)


def cache_path() -> Path:
    tag = sys.implementation.cache_tag or "unknown"
    return Path(__file__).parent / "__pycache__" / f"dataclass-methods.{tag}.marshal"


class MethodCache:
    """Compiled `dataclasses` methods by source text; `exec` is what `dataclasses` calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known = _load(path)
        self._used: set[int] = set()  # hashes of the texts met: what a full file keeps
        self._new: dict[str, CodeType] = {}
        self._lock = threading.Lock()

    def exec(self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None) -> None:
        if isinstance(source, str):
            with self._lock:
                # Handed over, not kept: the function made from it holds what it needs.
                code = self._known.pop(source, None)
                key = hash(source)
                known = code is not None or key in self._used  # a text met twice
                self._used.add(key)
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                if not known:
                    with self._lock:
                        self._new[source] = code
            source = code
        builtins.exec(source, globals, locals)

    @property
    def misses(self) -> int:
        return len(self._new)

    @property
    def hits(self) -> int:
        return len(self._used) - len(self._new)

    def save(self, max_entries: int = MAX_ENTRIES) -> bool:
        """Add what this process compiled to the file, when it compiled anything new.

        Entries other processes wrote stay (a folder kiosk and a tenant kiosk create
        different classes), until the file would pass `max_entries`: then only what this
        process used is kept, which drops the texts of classes edited since.
        """
        with self._lock:
            if not self._new:
                return False
            entries = _load(self.path)
            if len(entries) + len(self._new) > max_entries:
                entries = {k: v for k, v in entries.items() if hash(k) in self._used}
            entries |= self._new
        try:
            self.path.parent.mkdir(exist_ok=True)
            atomic_write(self.path, marshal.dumps(entries))
        except OSError as exc:  # a read-only root: the image build wrote it, or nobody will
            log.debug("dataclass method cache not saved to %s: %s", self.path, exc)
            return False
        return True


def install(path: Path | None = None) -> MethodCache | None:
    """Serve `dataclasses` from the cache in this process; None when DISABLE_VARIABLE is set
    or something else (another cache, a debugger's hook) already replaced its `exec`."""
    if os.environ.get(DISABLE_VARIABLE) or "exec" in vars(dataclasses):
        return None
    cache = MethodCache(path or cache_path())
    dataclasses.exec = cache.exec  # type: ignore[attr-defined]
    if not sys.dont_write_bytecode:
        atexit.register(cache.save)
    return cache


def uninstall(cache: MethodCache) -> None:
    if vars(dataclasses).get("exec") == cache.exec:
        del dataclasses.exec  # type: ignore[attr-defined]


def _load(path: Path) -> dict[str, CodeType]:
    try:
        entries = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, EOFError, TypeError) as exc:
        log.warning("ignoring the dataclass method cache %s: %s", path, exc)
        return {}
    if not isinstance(entries, dict) or not all(
        isinstance(key, str) and isinstance(code, CodeType) for key, code in entries.items()
    ):
        log.warning("ignoring the dataclass method cache %s: not a cache", path)
        return {}
    return entries


def main() -> int:
    """Fill the cache with the kiosk's dataclasses (the image build runs it once)."""
    cache = install()
    if cache is None:
        sys.stderr.write("dataclasses' exec is already replaced; nothing cached\n")
        return 1
    for name in KIOSK_MODULES:
        importlib.import_module(name)
    saved = cache.save()
    where = cache.path if saved else "nothing new to save"
    sys.stdout.write(f"dataclass methods: {cache.hits} cached, {cache.misses} compiled, {where}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
