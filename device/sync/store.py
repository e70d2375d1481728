"""The last activated playlists document, kept in ``STATE_DIR/library.json``.

A kiosk that reboots without network must play at once, so the document that was last made
active is written next to the cache (temporary file, fsync, rename, directory fsync: after a
power cut the file holds the old document or the new one, never half of each) and re-validated
when it is read back, exactly as if the tenant had sent it again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from contract.files import atomic_write
from device.sync.document import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    PlaylistsDocument,
    validate_document,
)

__all__ = ["LIBRARY_FILE", "ActiveDocument", "load_active", "save_active"]

log = logging.getLogger(__name__)

LIBRARY_FILE = "library.json"
_FORMAT = 1


@dataclass(frozen=True)
class ActiveDocument:
    """A document that was made active, with what is needed to ask the tenant for changes."""

    document: PlaylistsDocument
    base_url: str  # the tenant base URL it came from: media URLs are checked against it
    etag: str | None
    activated_at: datetime  # wall clock, for the technician


def save_active(state_dir: Path, active: ActiveDocument) -> None:
    """Replace ``library.json`` atomically; raises OSError when the disk refuses."""
    payload = {
        "format": _FORMAT,
        "base_url": active.base_url,
        "etag": active.etag,
        "activated_at": active.activated_at.isoformat(),
        "document": active.document.raw,
    }
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    atomic_write(Path(state_dir) / LIBRARY_FILE, data)


def load_active(state_dir: Path) -> ActiveDocument | None:
    """The persisted document, or None (logged) when there is none or it is unusable."""
    path = Path(state_dir) / LIBRARY_FILE
    try:
        with path.open("rb") as f:
            data = f.read(MAX_DOCUMENT_BYTES * 4 + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("cannot read the saved library %s: %s", path, exc)
        return None
    try:
        if len(data) > MAX_DOCUMENT_BYTES * 4:
            raise DocumentError("", "too large")
        envelope = json.loads(data.decode("utf-8"))
        if not isinstance(envelope, dict) or envelope.get("format") != _FORMAT:
            raise DocumentError("format", f"expected {_FORMAT}")
        base_url = envelope.get("base_url")
        etag = envelope.get("etag")
        activated_at = datetime.fromisoformat(str(envelope.get("activated_at")))
        if not isinstance(base_url, str) or not (etag is None or isinstance(etag, str)):
            raise DocumentError("base_url", "expected strings for base_url and etag")
        document = validate_document(envelope.get("document"), urlsplit(base_url).path)
    except (DocumentError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        log.error("the saved library %s is unusable, ignoring it: %s", path, exc)
        return None
    return ActiveDocument(document, base_url, etag, activated_at)
