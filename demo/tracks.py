"""Synthesised tracks with real tags, for the demo, the tests and the benchmarks (no downloads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 44100


@dataclass(frozen=True)
class TrackSpec:
    title: str
    artist: str
    seconds: float
    isrc: str | None = None
    album: str | None = None
    frequency_hz: float = 440.0
    replaygain_track_db: float | None = None


def synthesise_track(path: Path, spec: TrackSpec) -> Path:
    """Write a FLAC file with a short melody and tags (title, artist, ISRC, ReplayGain).

    The melody steps through a few notes so that a listener (or a test reading PCM output) can
    tell tracks apart; numpy and soundfile come with the `sim` extra.
    """
    import mutagen.flac
    import numpy as np
    import soundfile

    frames = max(1, int(spec.seconds * SAMPLE_RATE))
    t = np.arange(frames, dtype=np.float64) / SAMPLE_RATE
    notes = spec.frequency_hz * np.array([1.0, 1.25, 1.5, 2.0])
    note = notes[(t * 2).astype(int) % len(notes)]
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t + 1.0 / SAMPLE_RATE) * 50)
    signal = 0.25 * np.sin(2 * np.pi * note * t) * envelope
    stereo = np.column_stack([signal, signal]).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), stereo, SAMPLE_RATE, format="FLAC", subtype="PCM_16")

    tags = mutagen.flac.FLAC(str(path))  # type: ignore[no-untyped-call]
    tags["title"] = spec.title
    tags["artist"] = spec.artist
    if spec.album:
        tags["album"] = spec.album
    if spec.isrc:
        tags["isrc"] = spec.isrc
    if spec.replaygain_track_db is not None:
        tags["replaygain_track_gain"] = f"{spec.replaygain_track_db:+.2f} dB"
        tags["replaygain_track_peak"] = "0.250000"
    tags.save()
    return path
