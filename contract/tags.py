"""Tags of an audio file, read with mutagen, never failing.

Libraries bring whatever files they have, so a file mutagen cannot parse is not an error here:
the caller gets empty fields and a reason, and the player is the judge of whether it plays.
"""

from __future__ import annotations

import logging
import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.easymp4 import EasyMP4Tags

from contract.ids import DurationMs

__all__ = ["TrackTags", "normalise_isrc", "read_tags"]

log = logging.getLogger(__name__)

# Easy MP4 tags know no ISRC or ReplayGain; iTunes-style freeform atoms hold them.
_register_freeform: Callable[[str, str], None] = EasyMP4Tags.RegisterFreeformKey  # untyped
for _key, _atom in (("isrc", "ISRC"), ("replaygain_track_gain", "replaygain_track_gain")):
    if _key not in EasyMP4Tags.Get:
        _register_freeform(_key, _atom)

# Easy keys first (EasyID3, EasyMP4, Vorbis comments), then raw ID3 frames (WAVE, AIFF) and ASF.
_KEYS = {
    "title": ("title", "TIT2", "Title"),
    "artist": ("artist", "TPE1", "Author"),
    "album": ("album", "TALB", "WM/AlbumTitle"),
    "isrc": ("isrc", "TSRC", "WM/ISRC"),
    "label": ("organization", "label", "TPUB", "WM/Publisher"),  # the rights holder, if named
    "gain": (
        "replaygain_track_gain",
        "TXXX:REPLAYGAIN_TRACK_GAIN",
        "TXXX:replaygain_track_gain",
        "REPLAYGAIN_TRACK_GAIN",
    ),
}
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_GAIN = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*(?:dB)?\s*", re.IGNORECASE)

_open_audio: Callable[..., Any] = mutagen.File  # untyped in mutagen


@dataclass(frozen=True)
class TrackTags:
    """What the file says about itself; every field may be missing."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    isrc: str | None = None
    duration_ms: DurationMs | None = None
    replaygain_track_gain_db: float | None = None
    label: str | None = None  # label or publisher (organization, TPUB): the rights holder
    problem: str | None = None  # why nothing could be read, e.g. "not a recognised audio format"


def read_tags(path: Path) -> TrackTags:
    """Read the tags of `path`; never raises (mutagen can fail in many ways on a bad file)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return TrackTags(problem="not a regular file")
    except OSError as exc:
        return TrackTags(problem=f"cannot read: {exc.strerror or exc}")
    try:
        audio = _open_audio(path, easy=True)
    except Exception as exc:
        log.debug("mutagen cannot read %s: %r", path, exc)
        return TrackTags(problem=f"unreadable audio file: {exc or type(exc).__name__}")
    if audio is None:
        return TrackTags(problem="not a recognised audio format")
    try:
        tags = audio.tags
        isrc_tag = _text(tags, "isrc")
        isrc = normalise_isrc(isrc_tag) if isrc_tag else None
        if isrc_tag and not isrc:
            log.warning("%s: ignoring malformed ISRC tag %r", path, isrc_tag)
        return TrackTags(
            title=_text(tags, "title"),
            artist=_text(tags, "artist"),
            album=_text(tags, "album"),
            isrc=isrc,
            duration_ms=_duration(audio),
            replaygain_track_gain_db=_gain(_text(tags, "gain")),
            label=_text(tags, "label"),
        )
    except Exception as exc:  # a tag mutagen parsed but cannot render
        log.debug("mutagen failed on the tags of %s: %r", path, exc)
        return TrackTags(duration_ms=_duration(audio), problem=f"unreadable tags: {exc}")


def normalise_isrc(value: str) -> str | None:
    """``fr-z03-26-00001`` -> ``FRZ032600001``; None when it cannot be an ISRC."""
    compact = re.sub(r"[\s-]", "", value).upper()
    return compact if _ISRC.fullmatch(compact) else None


def _text(tags: Any, field: str) -> str | None:
    if tags is None:
        return None
    for key in _KEYS[field]:
        try:
            value = tags[key]
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        items = getattr(value, "text", value)  # ID3 frames hold their strings in .text
        if isinstance(items, str | bytes):
            items = [items]
        for item in items:
            text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            text = text.replace("\x00", "").strip()
            if text:
                return text
    return None


def _duration(audio: Any) -> DurationMs | None:
    try:
        seconds = float(audio.info.length)
    except (AttributeError, TypeError, ValueError):
        return None
    return DurationMs(round(seconds * 1000)) if 0 < seconds < math.inf else None


def _gain(text: str | None) -> float | None:
    match = _GAIN.fullmatch(text) if text else None
    return float(match.group(1)) if match else None
