"""Play accounting: what becomes a journaled play, and how much of it was heard.

A play opens when mpv reports that audio started, never when it was merely requested; its
listened time is the sum of forward progress between position reports (pauses do not move the
position, and a jump larger than PROGRESS_JUMP_MS is a seek, not listening); it is checkpointed
so that a power cut loses at most one checkpoint interval; it is finalised exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from device.domain import EndReason, EventId, PlayItem, Playlist, StartedBy, Track
from device.journal.outbox import PlayJournal
from device.ports import Clock

log = logging.getLogger(__name__)

PROGRESS_JUMP_MS = 2500


@dataclass
class Play:
    """The item the player has been asked to play, and its journal entry once audio started."""

    item: PlayItem
    playlist: Playlist
    index: int
    started_by: StartedBy
    requested_at: float
    event_id: EventId | None = None
    duration_ms: int | None = None
    position_ms: int = 0
    listened_ms: int = 0
    checkpoint_at: float = 0.0

    @property
    def track(self) -> Track:
        return self.playlist.tracks[self.index]

    @property
    def journaled(self) -> bool:
        return self.event_id is not None


class PlayAccounting:
    def __init__(self, journal: PlayJournal, clock: Clock, checkpoint_s: float) -> None:
        self.journal = journal
        self.clock = clock
        self.checkpoint_s = checkpoint_s
        self.plays_started = 0

    def audio_started(self, play: Play, duration_ms: int | None) -> None:
        if play.journaled:
            return
        now = self.clock.monotonic()
        track = play.track
        play.duration_ms = duration_ms or track.duration_ms
        play.checkpoint_at = now
        play.event_id = self.journal.open_play(
            playlist_id=play.playlist.id,
            playlist_revision=play.playlist.revision,
            track_id=track.id,
            isrc=track.isrc,
            track_duration_ms=play.duration_ms,
            started_by=play.started_by,
            started_wall_ms=self.clock.wall_time_ms(),
            clock_synced=self.clock.is_synced(),
            started_uptime_ms=int(now * 1000),
        )
        self.plays_started += 1
        log.info("play %s started: %s by %s", play.event_id, track.id, play.started_by.value)

    def progressed(self, play: Play, position_ms: int) -> None:
        delta = position_ms - play.position_ms
        play.position_ms = position_ms
        if play.event_id is None or not 0 < delta <= PROGRESS_JUMP_MS:
            return
        play.listened_ms += delta
        now = self.clock.monotonic()
        if now - play.checkpoint_at >= self.checkpoint_s:
            play.checkpoint_at = now
            self.journal.record_progress(play.event_id, play.listened_ms)

    def reached_end(self, play: Play) -> None:
        """mpv reports the end slightly before the last position report: that tail was heard."""
        if play.duration_ms and play.journaled:
            tail = play.duration_ms - play.position_ms
            play.listened_ms += max(0, min(tail, PROGRESS_JUMP_MS))

    def finished(self, play: Play, reason: EndReason, error: str | None = None) -> None:
        if play.event_id is None:
            return
        self.journal.close_play(
            play.event_id,
            listened_ms=play.listened_ms,
            reason=reason,
            ended_wall_ms=self.clock.wall_time_ms(),
            error=error,
        )
        log.info(
            "play %s ended: %s after %d ms listened", play.event_id, reason.value, play.listened_ms
        )
