"""Playback sequencing: which item mpv plays now, which one is queued after it, and why.

The controller starts playlists, steps next/previous, keeps one item preloaded so mpv moves on
gaplessly (and follows it when it does), treats an item mpv did not start in time as failed,
gives up after a run of failures, and tells the play accounting when plays start, progress
and end. Like every controller it is a plain object called on the core's thread
(Mopidy's PlaybackController under its core); it reaches the other controllers through `core`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from device.core.accounting import Play, PlayAccounting
from device.core.status import Mode
from device.domain import EndReason, PlayItem, Playlist, PlaylistId, StartedBy, Track

if TYPE_CHECKING:
    from device.core.kiosk import Kiosk

log = logging.getLogger(__name__)

START_TIMEOUT_S = 8.0  # an item mpv has not started by then is treated as failed
RESTART_THRESHOLD_MS = 3000  # "previous" after this far into a track restarts it


class PlaybackController:
    def __init__(self, core: Kiosk) -> None:
        self.core = core
        self.player = core.player
        self.clock = core.clock
        self.config = core.config.playback
        checkpoint_s = self.config.progress_checkpoint_s
        self.accounting = PlayAccounting(core.journal, core.clock, checkpoint_s)
        self.mode = Mode.IDLE
        self.selected: PlaylistId | None = None
        self.current: Play | None = None
        self.preloaded: Play | None = None
        self.reset_pending = False  # go back to defaults when the current track ends
        self._tokens = 0
        self._failures = 0  # items in a row that failed before any sound

    # ------------------------------------------------------------------ visitor actions

    def play_pause(self) -> None:
        if self.mode is Mode.PLAYING:
            self.mode = Mode.PAUSED
            self.player.pause()
        elif self.mode is Mode.PAUSED:
            self.mode = Mode.PLAYING
            self.player.resume()
        else:
            self.start_playlist(self.selected_playlist(), StartedBy.VISITOR)

    def step(self, direction: int) -> None:
        current = self.current
        if current is None or self.mode is Mode.IDLE:
            self.start_playlist(self.selected_playlist(), StartedBy.VISITOR)
            return
        playlist = current.playlist
        if direction < 0 and current.position_ms > RESTART_THRESHOLD_MS:
            index: int | None = current.index
        else:
            index = self._playable(playlist, current.index + direction, direction, wrap=True)
        if index is None:
            self.end_current(EndReason.SKIPPED)
            self.go_idle()
            return
        self.replace_current(lambda: self.play(playlist, index, StartedBy.VISITOR))

    def next_playlist(self) -> None:
        """Select the next playlist offered now (one outside its own hours is skipped)."""
        playlists = self.core.library.playlists
        if not playlists:
            return
        ids = [p.id for p in playlists]
        position = ids.index(self.selected) if self.selected in ids else -1
        following = [playlists[(position + k) % len(ids)] for k in range(1, len(ids) + 1)]
        offered = [p for p in following if self.core.defaults.offered(p)]
        if not offered:
            refused = self.core.defaults.refusal(following[0])
            if refused is not None:
                self.core.notices.toast(*refused)
            return
        self.selected = offered[0].id
        if self.mode is Mode.PLAYING:
            self.replace_current(
                lambda: self.start_playlist(self.selected_playlist(), StartedBy.VISITOR)
            )
        else:
            self.end_current(EndReason.STOPPED)
            self.go_idle(keep_selection=True)

    def cancel_reset(self) -> None:
        """A visitor is back before the track ended: keep following the playlist."""
        if self.reset_pending:
            self.reset_pending = False
            if self.current is not None and self.preloaded is None:
                self.preload_after(self.current)

    def stop_after_current(self) -> None:
        """Back to the defaults when this track ends: nothing is queued after it."""
        self.reset_pending = True
        self.set_preload(None)

    # ------------------------------------------------------------------ sequencing

    def selected_playlist(self) -> Playlist | None:
        return self.core.library.find(self.selected) or self.core.defaults.featured_playlist()

    def start_playlist(self, playlist: Playlist | None, started_by: StartedBy) -> None:
        notices = self.core.notices
        if playlist is None:
            words = self.core.texts
            notices.toast(words.nothing_to_play, words.no_playlist)
            return
        refused = self.core.defaults.refusal(playlist)
        if refused is not None:
            log.info("%s of %s refused: %s", started_by, playlist.id, " ".join(refused))
            if started_by is StartedBy.VISITOR:  # autoplay and schedule just wait, silently
                notices.toast(*refused)
            return
        self.selected = playlist.id
        index = self._playable(playlist, 0, +1, wrap=False)
        if index is None:
            words = self.core.texts
            notices.toast(words.nothing_to_play, words.no_track_of.format(playlist=playlist.title))
            self.go_idle(keep_selection=True)
            return
        self.play(playlist, index, started_by)

    def play(self, playlist: Playlist, index: int, started_by: StartedBy) -> None:
        track = playlist.tracks[index]
        assert track.media is not None
        if self.core.visitor.asleep:
            self.core.visitor.wake()
        self.current = Play(self._item(track), playlist, index, started_by, self.clock.monotonic())
        self.mode = Mode.PLAYING
        self.preloaded = None
        self.player.play(self.current.item)
        self.preload_after(self.current)

    def preload_after(self, play: Play) -> None:
        wrap = self.config.at_playlist_end == "loop"
        index = self._playable(play.playlist, play.index + 1, +1, wrap=wrap)
        if index is None:
            self.set_preload(None)
            return
        track = play.playlist.tracks[index]
        self.set_preload(Play(self._item(track), play.playlist, index, play.started_by, 0.0))

    def set_preload(self, play: Play | None) -> None:
        self.preloaded = play
        self.player.preload(play.item if play else None)

    def replace_current(self, start: Callable[[], None]) -> None:
        """Skip the current play for what `start` plays: sound first, then the journal.

        Closing the skipped play is a durable SQLite write (an fsync), which a disk busy with
        a download can stretch to tens of milliseconds; the visitor's press must not wait
        for it. The skipped play's figures are fixed before the new item starts.
        """
        skipped, self.current = self.current, None
        start()
        if skipped is not None:
            self.accounting.finished(skipped, EndReason.SKIPPED)

    def end_current(self, reason: EndReason, error: str | None = None) -> None:
        current, self.current = self.current, None
        if current is not None:
            self.accounting.finished(current, reason, error)

    def go_idle(self, keep_selection: bool = False) -> None:
        if self.current is not None:
            self.end_current(EndReason.STOPPED)
        if self.mode is not Mode.IDLE:
            self.player.stop()
        self.preloaded = None
        self.mode = Mode.IDLE
        self.core.visitor.went_idle()
        if not keep_selection:
            self.selected = self.core.defaults.featured_id()

    def _item(self, track: Track) -> PlayItem:
        assert track.media is not None
        self._tokens += 1
        return PlayItem(self._tokens, track.media)

    def _playable(self, playlist: Playlist, start: int, direction: int, wrap: bool) -> int | None:
        """The first track from `start` whose media is in the cache, reporting the others."""
        count = len(playlist.tracks)
        for offset in range(count):
            index = start + offset * direction
            if wrap:
                index %= count
            if not 0 <= index < count:
                return None
            track = playlist.tracks[index]
            if track.media is not None:
                return index
            self.core.notices.note_error(
                f"skipped '{track.title}': {track.problem or 'not in the cache'}"
            )
            self.core.notices.toast(self.core.texts.track_unavailable, track.title)
        return None

    # ------------------------------------------------------------------ player events

    def on_started(self, token: int, duration_ms: int | None) -> None:
        current = self.current
        if current is not None and current.item.token == token and not current.journaled:
            self.accounting.audio_started(current, duration_ms)

    def on_progress(self, token: int, position_ms: int) -> None:
        current = self.current
        if current is not None and current.item.token == token:
            self.accounting.progressed(current, position_ms)
            if current.listened_ms > 0:
                self._failures = 0  # sound really flows

    def on_ended(self, token: int, outcome: str, error: str | None) -> None:
        current = self.current
        if current is None or current.item.token != token:
            if self.preloaded is not None and self.preloaded.item.token == token:
                self.preloaded = None  # the queued item failed before its turn
            return
        if outcome == "error":
            self.core.notices.note_error(f"'{current.track.title}' failed: {error}")
            self.core.notices.toast(self.core.texts.cannot_play, current.track.title)
            heard_nothing = current.listened_ms == 0  # no file, or no audio output
            self.end_current(EndReason.ERROR, error)
            self._failures = self._failures + 1 if heard_nothing else 0
            if self._failures >= max(3, len(current.playlist.tracks)):
                self.core.notices.note_error(
                    f"no track of '{current.playlist.title}' could be played"
                )
                self._failures = 0
                self.go_idle(keep_selection=True)
                return
        elif outcome == "eof":
            self.accounting.reached_end(current)
            self.end_current(EndReason.FINISHED)
        else:
            self.end_current(EndReason.STOPPED)
            self.go_idle(keep_selection=True)
            return
        if self.reset_pending:
            self.reset_pending = False
            self.set_preload(None)
            self.core.defaults.reset_to_featured()
            return
        follower = self.preloaded
        if follower is None or outcome == "stopped":
            self.go_idle(keep_selection=True)
            return
        # mpv moves on to the preloaded entry by itself (gapless); follow it.
        follower.requested_at = self.clock.monotonic()
        self.current = follower
        self.preloaded = None
        self.preload_after(follower)

    # ------------------------------------------------------------------ start timeout

    def deadline(self) -> float | None:
        """When the current item counts as failed if mpv has not started it."""
        current = self.current
        if current is not None and not current.journaled:
            return current.requested_at + START_TIMEOUT_S
        return None

    def tick(self, now: float) -> None:
        current = self.current
        if (
            current is not None
            and current.event_id is None
            and now >= current.requested_at + START_TIMEOUT_S
        ):
            # mpv never started it: do not trust its queue, play the next one explicitly.
            self.on_ended(current.item.token, "error", "did not start in time")
            follower, self.current = self.current, None
            if follower is not None:
                self.play(follower.playlist, follower.index, follower.started_by)
