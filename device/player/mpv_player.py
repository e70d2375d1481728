"""The real Player: libmpv through python-mpv, audio only, gapless, fed verified cache files only.

Threads: the core calls every public method from its own thread; they issue short mpv commands
and return without waiting for mpv's events. mpv's events arrive on python-mpv's event thread,
where the callbacks below translate them into PlaybackStarted/Progress/Ended for the sink; mpv
also waits there at each file's load (`_LoadGate`), so an entry we did not create never opens.
The sink is called with the player's lock held (that is what makes the guarantees below hold),
so it must not block or call the player: putting the event on the core's queue is right.

What the core can rely on:

* A token gets at most one PlaybackStarted (at mpv's first playback-restart of its entry) and,
  once mpv opened it, exactly one PlaybackEnded: "eof", "error" (mpv's reason) or "stopped".
* After play() or stop() returns, tokens it replaced get no PlaybackStarted or
  PlaybackProgress; if mpv had opened them they end "stopped", otherwise nothing is posted.
* A refused path (see device.player.safety) is posted as PlaybackEnded(token, "error", why)
  from inside the call; mpv never sees it. A refused play() still stops what was playing.
* preload(item) when nothing is playing starts it, just as mpv moves on by itself when the
  current item fails or ends: the core follows its preloaded item in both cases.
* With gapless playback, "eof" and the next PlaybackStarted come when mpv has decoded the old
  item to its end, while its last ~0.2 s are still in the audio buffer.
* Nothing is posted once close() has begun.

Size: over 500 lines on purpose: the guarantees above hold only because the whole
conversation with mpv (commands, events, the load gate) shares one lock in one class.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mpv

from device.domain import PlayItem
from device.events import (
    Event,
    EventSink,
    PlaybackEnded,
    PlaybackOutcome,
    PlaybackProgress,
    PlaybackStarted,
)
from device.platform.priority import task_ids
from device.player.safety import RefusedMedia, verify_media_path
from device.ports import AudioOutput

log = logging.getLogger(__name__)

ReplayGain = Literal["track", "album", "no"]

# Options that make libmpv a small, closed audio engine. Every one of them is fixed here: none
# comes from configuration, the tenant or the media.
MPV_OPTIONS: dict[str, str] = {
    # Nothing from the outside world: no user config, scripts, hooks, profiles or resume data.
    "config": "no",
    "load-scripts": "no",
    "ytdl": "no",
    "osc": "no",
    "load-stats-overlay": "no",
    "load-osd-console": "no",
    "load-auto-profiles": "no",
    "resume-playback": "no",
    "save-position-on-quit": "no",
    # No terminal, no keyboard, no window.
    "terminal": "no",
    "input-default-bindings": "no",
    "input-builtin-bindings": "no",
    "input-vo-keyboard": "no",
    "input-terminal": "no",
    "vid": "no",
    "sid": "no",
    "audio-display": "no",
    "stop-screensaver": "no",
    # Open exactly the file given: no playlists, EDL, cue sheets, archives, HLS or ffconcat
    # references, no ordered chapters, no side files picked up from the cache directory.
    "access-references": "no",
    "demuxer": "lavf",
    "load-unsafe-playlists": "no",
    "ordered-chapters": "no",
    "autoload-files": "no",
    "audio-file-auto": "no",
    "sub-auto": "no",
    "cover-art-auto": "no",
    # A player that waits for work and plays queued items back to back.
    "idle": "yes",
    "keep-open": "no",
    "gapless-audio": "yes",
    "prefetch-playlist": "yes",
    "volume-max": "100",
    "audio-client-name": "jukebox",
    # Local files on a Pi Zero 2 W: small read-ahead, no seek-back buffer.
    "cache": "no",
    "demuxer-max-bytes": "4MiB",
    "demuxer-max-back-bytes": "0",
    "demuxer-readahead-secs": "2",
}

_MPV_LOG_LEVELS = {
    "fatal": logging.CRITICAL,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
}

_END_EOF = mpv.MpvEventEndFile.EOF
_END_ERROR = mpv.MpvEventEndFile.ERROR
_END_REDIRECT = mpv.MpvEventEndFile.REDIRECT


def _silence_main_handle(player: Any) -> None:
    """Turn off the events of python-mpv's main handle, which nobody reads.

    python-mpv reads events from a second client ("py_event_handler"); the main one's queue
    filled up after about 140 tracks, and mpv then logged "Too many events queued" as an error
    on every kiosk (bench/button_latency.py --presses 200 showed it).
    """
    request = getattr(mpv, "_mpv_request_event", None)
    if request is None:  # another python-mpv: harmless, the queue is bounded
        log.debug("python-mpv has no _mpv_request_event; main handle events left on")
        return
    for event_id in mpv.MpvEventID.ANY:
        if event_id != mpv.MpvEventID.SHUTDOWN:  # the one event mpv will not turn off
            request(player.handle, event_id, 0)


class _LoadGate:
    """mpv's "on_load" hook on the handle python-mpv reads: before opening any file, mpv waits
    until the event thread has looked at it and called `release`.

    The last line of defence (see `MpvPlayer._on_load`) must act before mpv decodes a byte of
    a file that is not ours. Removing it when its events arrive was too late under load: an
    expanded playlist's entry once wrote 1.5 s of audio first (tests/player/test_mpv_player.py).
    python-mpv has no hook API, so libmpv's two functions are called through its library.
    """

    NAME = b"on_load"

    def __init__(self, player: Any) -> None:
        self._handle = player._event_handle  # the client whose events python-mpv's thread reads
        add = mpv.backend.mpv_hook_add
        add.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_int]
        add.restype = ctypes.c_int
        self._continue = mpv.backend.mpv_hook_continue
        self._continue.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        self._continue.restype = ctypes.c_int
        code = add(self._handle, 0, self.NAME, 0)
        if code < 0:
            raise RuntimeError(f"mpv_hook_add on_load: {mpv.ErrorCode.human_readable(code)}")

    def release(self, hook_id: int) -> None:
        self._continue(self._handle, hook_id)


@dataclass
class _Entry:
    """One mpv playlist entry we created, keyed by mpv's playlist_entry_id."""

    token: int
    path: Path
    superseded: bool = False  # replaced by play()/stop(): no more Started/Progress
    opened: bool = False  # mpv sent start-file for it
    started: bool = False  # PlaybackStarted posted


class MpvPlayer:
    """device.ports.Player over libmpv.

    `ao=None` lets mpv choose the audio output; tests use `ao="null"` (real time) or
    `audio_file=...` (mpv's "pcm" output: a WAV file written as fast as mpv decodes).
    `mpv_log_level` is mpv's own level for what it sends to our logger ("v" for debugging).
    """

    def __init__(
        self,
        sink: EventSink,
        cache_root: Path,
        *,
        ao: str | None = None,
        audio_device: str | None = None,
        audio_file: Path | None = None,
        replaygain: ReplayGain = "track",
        progress_interval_s: float = 0.25,
        mpv_log_level: str = "warn",
    ) -> None:
        self._sink = sink
        self._cache_root = cache_root
        self.problem: str | None = None  # for the technician screen
        self._audio_failed = False  # mpv could not open the audio device for the current file
        self._progress_interval_s = progress_interval_s
        options = dict(MPV_OPTIONS, replaygain=replaygain)
        if audio_file is not None:
            if ao not in (None, "pcm"):
                raise ValueError(f"audio_file needs ao='pcm', not {ao!r}")
            options["ao"] = "pcm"
            options["ao-pcm-file"] = str(audio_file)
        elif ao is not None:
            options["ao"] = ao
        if audio_device is not None:
            options["audio-device"] = audio_device

        # Shared between the core thread and mpv's event thread.
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._closed = False
        # Only touched on mpv's event thread (under the lock when it posts).
        self._current: int | None = None  # entry id of mpv's current file
        self._position_s: float | None = None
        self._duration_s: float | None = None
        self._paused = False
        self._last_progress_at = float("-inf")
        self._last_progress_ms: int | None = None

        before = task_ids()
        self._mpv: Any = mpv.MPV(log_handler=self._on_log, loglevel=mpv_log_level, **options)
        # libmpv's core and script threads and python-mpv's event thread: the press path's
        # (device/platform/priority.py); the daemon puts them in the real-time class.
        self.native_threads = frozenset(task_ids() - before)
        self._mpv.register_event_callback(self._guarded(self._on_event))
        self._load_gate = _LoadGate(self._mpv)
        self._mpv.observe_property("time-pos", self._guarded(self._on_time_pos))
        self._mpv.observe_property("pause", self._guarded(self._on_pause))
        self._mpv.observe_property("duration", self._guarded(self._on_duration))
        _silence_main_handle(self._mpv)
        log.info("mpv %s ready (ao=%s)", self._mpv.mpv_version, options.get("ao", "auto"))

    # ------------------------------------------------------------------ core thread

    def play(self, item: PlayItem) -> None:
        """Replace whatever plays (or is queued) with `item` and start it now, unpaused."""
        with self._lock:
            if self._closed:
                self._refuse(item, "the player is closed")
                return
            for entry in self._entries.values():
                entry.superseded = True
            path = self._verify(item)
            if path is None:
                self._command("stop")  # the core asked for a replacement: silence the old
                return
            if self._load(item, path, "replace") is not None:
                self._set("pause", False)

    def preload(self, item: PlayItem | None) -> None:
        """Queue `item` to follow the current one gaplessly, dropping any earlier queued item."""
        with self._lock:
            if self._closed:
                if item is not None:
                    self._refuse(item, "the player is closed")
                return
            self._command("playlist-clear")  # keeps only the current file
            path = self._verify(item) if item is not None else None
            if item is not None and path is not None:
                self._load(item, path, "append-play")

    def pause(self) -> None:
        self._set("pause", True)

    def resume(self) -> None:
        self._set("pause", False)

    def stop(self) -> None:
        """Stop and forget the queue; the current token ends "stopped"."""
        with self._lock:
            if self._closed:
                return
            for entry in self._entries.values():
                entry.superseded = True
            self._command("stop")
            self._set("pause", False)  # mpv keeps pause across files; the next item must sound

    def set_volume(self, percent: int) -> None:
        """Set mpv's software volume, clamped to 0-100 (mpv's volume-max is 100 too)."""
        clamped = max(0, min(100, int(percent)))
        if clamped != percent:
            log.warning("volume %s clamped to %d", percent, clamped)
        self._set("volume", clamped)

    @property
    def volume(self) -> float | None:
        """The volume mpv applies now, read back (diagnostics, self-test); None once closed."""
        if self._closed:
            return None
        try:
            value = self._mpv.volume
        except Exception:
            return None
        return float(value) if isinstance(value, int | float) else None

    def outputs(self) -> tuple[AudioOutput, ...]:
        """mpv's audio-device-list as it is now (ALSA is asked again at every read)."""
        if self._closed:
            return ()
        try:
            listed = self._mpv.audio_device_list or []
        except Exception:
            log.exception("mpv could not list its audio devices")
            return ()
        return tuple(
            AudioOutput(str(d.get("name", "")), str(d.get("description", "")))
            for d in listed
            if isinstance(d, dict) and d.get("name")
        )

    def set_output(self, name: str) -> None:
        """Switch mpv's audio-device; mpv reopens its output and playback carries on where it
        was (same entry, same position), so the current play is neither stopped nor restarted."""
        if self.output == name:
            return
        log.info("audio output: %s", name)
        with self._lock:
            self._audio_failed = False
        self._set("audio-device", name)

    @property
    def output(self) -> str | None:
        """The audio-device mpv uses now, read back; None once closed."""
        if self._closed:
            return None
        try:
            value = self._mpv.audio_device
        except Exception:
            return None
        return str(value) if value is not None else None

    def close(self) -> None:
        """Shut mpv down and wait for its event thread; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._mpv.terminate()
        except Exception:
            log.exception("mpv did not terminate cleanly")
        log.info("mpv closed")

    # ------------------------------------------------------------------ helpers (core thread)

    def _verify(self, item: PlayItem) -> Path | None:
        try:
            return verify_media_path(item.path, self._cache_root)
        except RefusedMedia as refused:
            self._refuse(item, f"refused: {refused}")
            return None

    def _refuse(self, item: PlayItem, reason: str) -> None:
        log.error("token %d: %s", item.token, reason)
        self._post(PlaybackEnded(item.token, "error", reason))

    def _load(self, item: PlayItem, path: Path, mode: str) -> int | None:
        """loadfile under the lock, so the event thread cannot see the entry before we map it."""
        try:
            result = self._mpv.command("loadfile", os.fsencode(path), mode)
            entry_id = int(result["playlist_entry_id"])
        except Exception as exc:
            self._refuse(item, f"mpv could not queue {path}: {exc}")
            return None
        self._entries[entry_id] = _Entry(item.token, path)
        log.debug("token %d is mpv entry %d (%s, %s)", item.token, entry_id, mode, path)
        return entry_id

    def _command(self, *args: str) -> None:
        try:
            self._mpv.command(*args)
        except Exception:
            log.exception("mpv command %s failed", args[0])

    def _set(self, name: str, value: object) -> None:
        if self._closed:
            return
        try:
            setattr(self._mpv, name, value)
        except Exception:
            log.exception("mpv could not set %s=%r", name, value)

    def _post(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:
            log.exception("event sink failed on %r", event)

    # ------------------------------------------------------------------ mpv's event thread

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Keep a bug in a callback in our log instead of python-mpv's warnings."""

        def run(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                log.exception("mpv event callback failed")

        return run

    def _on_event(self, event: Any) -> None:
        kind = event.event_id.value
        if kind == mpv.MpvEventID.START_FILE:
            self._on_start_file(int(event.data.playlist_entry_id))
        elif kind == mpv.MpvEventID.PLAYBACK_RESTART:
            self._on_playback_restart()
        elif kind == mpv.MpvEventID.END_FILE:
            self._on_end_file(event.data)
        elif kind == mpv.MpvEventID.HOOK:
            self._on_load(int(event.data.id))

    def _on_load(self, hook_id: int) -> None:
        """mpv waits, about to open its current entry (start-file came just before): one we did
        not create (an expanded playlist's, see _drop_expanded) is removed unopened."""
        try:
            with self._lock:
                current = self._current
                if current is not None and current not in self._entries and not self._closed:
                    log.error("mpv was about to open entry %d, not ours: removing it", current)
                    self._remove_entries(range(current, current + 1))
        finally:
            self._load_gate.release(hook_id)  # mpv waits for this, whatever happened above

    def _on_start_file(self, entry_id: int) -> None:
        with self._lock:
            if self._closed:
                return
            self._current = entry_id
            self._audio_failed = False
            self._position_s = None
            self._duration_s = None
            self._last_progress_at = float("-inf")
            self._last_progress_ms = None
            entry = self._entries.get(entry_id)
            if entry is None:
                return  # not ours (see _drop_expanded): no events for it
            entry.opened = True
            # We only append or replace, so mpv opens our entries in id order: older ones it
            # has not opened by now were dropped from its playlist and will never be.
            for stale in [i for i, e in self._entries.items() if i < entry_id and not e.opened]:
                del self._entries[stale]

    def _on_playback_restart(self) -> None:
        with self._lock:
            entry = self._entries.get(self._current) if self._current is not None else None
            if self._closed or entry is None or entry.started or entry.superseded:
                return
            self._start(entry)

    def _start(self, entry: _Entry) -> None:
        """Post PlaybackStarted (lock held)."""
        entry.started = True
        duration_s = self._duration_s
        if duration_s is None:  # not delivered yet: ask mpv
            duration_s = self._read_property(entry, "duration")
        duration_ms = round(duration_s * 1000) if duration_s is not None else None
        self._post(PlaybackStarted(entry.token, duration_ms))

    def _on_end_file(self, data: Any) -> None:
        entry_id, reason = int(data.playlist_entry_id), int(data.reason)
        with self._lock:
            if self._closed:
                return
            if self._current == entry_id:
                self._current = None
            if reason == _END_REDIRECT:
                self._drop_expanded(int(data.playlist_insert_id), data.playlist_insert_num_entries)
            entry = self._entries.pop(entry_id, None)
            if entry is None:
                return
            outcome: PlaybackOutcome
            text: str | None = None
            if reason == _END_REDIRECT:
                outcome = "error"
                text = f"refused: {entry.path} is a playlist, not audio"
            elif reason == _END_ERROR:
                outcome = "error"
                text = f"mpv: {mpv.ErrorCode.human_readable(data.error)}: {entry.path}"
            elif reason == _END_EOF:
                outcome = "eof"
            else:
                outcome = "stopped"
            if text is not None:
                log.error("token %d: %s", entry.token, text)
            if entry.superseded:
                if not entry.started:
                    return
                outcome, text = "stopped", None
            elif outcome == "eof" and self._audio_failed:
                # Without an audio device mpv "plays" a file by reaching its end at once:
                # that is an error, not a finished play.
                outcome = "error"
                text = self.problem = "no audio output: check the sound card and audio.output"
                log.error("token %d: %s", entry.token, text)
            elif outcome == "eof":
                self.problem = None
            if text is not None and "audio output" in text:
                self.problem = text  # for the technician screen, until a track plays again
            self._post(PlaybackEnded(entry.token, outcome, text))

    def _drop_expanded(self, first_id: int, count: int) -> None:
        """Remove the entries mpv expanded a playlist file into, before or while it opens them.

        access-references=no and demuxer=lavf stop mpv from ever reading a playlist; this is the
        last line of defence, so a cache file can never make mpv play something else. Runs
        with the lock held, so the core cannot change the playlist between lookup and removal.
        """
        expanded = range(first_id, first_id + count)
        log.error("mpv expanded a playlist into entries %s; removing them", list(expanded))
        self._remove_entries(expanded)

    def _remove_entries(self, ids: range) -> None:
        """Remove the entries with these ids that mpv's playlist still holds (by id: indexes
        move, and "current" may already be the next entry after an earlier removal)."""
        try:
            playlist = self._mpv.playlist
            indexes = [i for i, e in enumerate(playlist) if e.get("id") in ids]
            for index in reversed(indexes):
                self._mpv.command("playlist-remove", index)
        except Exception:
            log.exception("could not remove playlist entries %s", list(ids))

    def _on_time_pos(self, _name: str, value: float | None) -> None:
        if value is None:
            return
        with self._lock:
            self._position_s = value
            if self._paused:
                if round(value * 1000) != self._last_progress_ms:
                    self._post_progress()  # moved while paused (a seek): tell the core
            elif time.monotonic() - self._last_progress_at >= self._progress_interval_s:
                self._post_progress()

    def _on_pause(self, _name: str, value: bool | None) -> None:
        with self._lock:
            self._paused = bool(value)
            entry = self._entries.get(self._current) if self._current is not None else None
            if self._paused and entry is not None and not self._closed:
                # mpv sends no time-pos change on pause and the last one may be 0.1 s old:
                # read where it stopped, so the core can count exactly what was heard.
                position_s = self._read_property(entry, "time-pos")
                if position_s is not None:
                    self._position_s = position_s
                self._post_progress()

    def _on_duration(self, _name: str, value: float | None) -> None:
        with self._lock:
            self._duration_s = value

    def _post_progress(self) -> None:
        """Post the position of the current entry if it started and was not replaced (lock held)."""
        entry = self._entries.get(self._current) if self._current is not None else None
        if self._closed or entry is None or not entry.started or entry.superseded:
            return
        if self._position_s is None:
            return
        position_ms = max(0, round(self._position_s * 1000))
        self._last_progress_at = time.monotonic()
        self._last_progress_ms = position_ms
        self._post(PlaybackProgress(entry.token, position_ms))

    def _read_property(self, entry: _Entry, name: str) -> float | None:
        """A numeric property of `entry`'s file, or None if mpv already moved on (lock held, so
        close() cannot free mpv under us).

        Observed values arrive in step with mpv's events; a direct read does not. One
        expand-text reads the path with the value, so a value of another file is never used
        (the same path, queued twice, has the same duration).
        """
        try:
            text = str(self._mpv.command("expand-text", f"${{path}}\n${{={name}:}}"))
            path, _, value = text.rpartition("\n")
            return float(value) if path == str(entry.path) and value else None
        except Exception:
            return None

    def _on_log(self, level: str, prefix: str, text: str) -> None:
        if "Could not open/initialize audio device" in text:
            with self._lock:
                self._audio_failed = True
        log.log(_MPV_LOG_LEVELS.get(level, logging.DEBUG), "mpv[%s] %s", prefix, text.rstrip())
