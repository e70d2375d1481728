"""The self-test's tone: a short WAV made at start and stored in the verified media cache.

mpv is only ever handed verified cache paths (docs/architecture.md, decision 4): no lavfi
source, no file outside the cache. So the tone is generated here (a 440 Hz sine, half a
second, 16-bit mono at 22.05 kHz: 22 KB), stored under its own sha256 like any track, and
the core plays that path. The bytes are the same on every kiosk, so a kiosk that already has
it writes nothing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import struct
import wave
from pathlib import Path

from contract.ids import Sha256
from contract.media import CacheError, MediaCache

log = logging.getLogger(__name__)

RATE = 22_050
FREQUENCY_HZ = 440
DURATION_S = 0.5
AMPLITUDE = 0.3  # of full scale: audible across a room at the kiosk's volume, never harsh
FADE_S = 0.02  # no click at either end
# What tone_wav() makes (a test keeps them together): a kiosk that stored the tone at an
# earlier start finds it by name and size, without computing half a second of sine and its
# hash again on the way to READY (7 ms natively on the development VM).
TONE_SHA256 = Sha256("5c76118095dfff60060738ad3045152cd6e2b409e3650d6bd8abb64a786a89de")
TONE_BYTES = 22_094


def tone_wav() -> bytes:
    """The tone as WAV bytes, identical on every run."""
    frames = int(RATE * DURATION_S)
    fade = int(RATE * FADE_S)
    samples = []
    for i in range(frames):
        envelope = min(1.0, i / fade, (frames - 1 - i) / fade)
        value = AMPLITUDE * envelope * math.sin(2 * math.pi * FREQUENCY_HZ * i / RATE)
        samples.append(round(value * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def ensure_test_tone(cache: MediaCache) -> Path | None:
    """The tone's verified path in `cache`, stored if missing; None (logged) if it cannot be."""
    stored = cache.path_for(TONE_SHA256)
    with contextlib.suppress(OSError):  # gone since: made again below
        if stored is not None and stored.stat().st_size == TONE_BYTES:
            return stored
    data = tone_wav()
    try:
        cache.add_stream([data], TONE_SHA256, len(data))  # checks the bytes against the name
    except CacheError as exc:
        log.error("self-test tone not stored, the self-test will say so: %s", exc)
        return None
    return cache.path_for(TONE_SHA256)
