"""A local folder of playlists.toml and audio files becomes a Library of cached, tagged tracks."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import mutagen.id3
import mutagen.wave
import numpy as np
import pytest
import soundfile

from contract.media import CacheError, MediaCache
from contract.tags import TrackTags, normalise_isrc, read_tags
from demo.tracks import TrackSpec, synthesise_track
from device.content.folder import ContentError, FolderContentSource
from device.domain import DurationMs, Library, PlaylistId, Sha256, TrackId
from device.ports import ContentSource

PLAYLISTS = """\
featured = "jazz"

[[playlist]]
id = "festival"
title = "Festival des Suds 2026"
note = "Les artistes du festival, à écouter avant le concert."
tracks = [
    "01-ouverture.flac",
    { file = "02-nuit.flac", title = "La nuit", artist = "Orchestre", \
isrc = "fr-z03-26-00009", id = "nuit" },
]

[[playlist]]
id = "jazz"
title = "Jazz au Carré"
tracks = ["sub/03-untagged.flac", "01-ouverture.flac"]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    synthesise_track(
        folder / "01-ouverture.flac",
        TrackSpec(
            "Ouverture", "Les Suds", 0.25, isrc="FRZ032600001", album="Live", frequency_hz=330
        ),
    )
    synthesise_track(
        folder / "02-nuit.flac", TrackSpec("Night", "Someone", 0.2, isrc="GBAYE0000351")
    )
    untagged = folder / "sub" / "03-untagged.flac"
    untagged.parent.mkdir()
    soundfile.write(str(untagged), np.zeros((4410, 2), dtype=np.float32), 44100, format="FLAC")
    (folder / "playlists.toml").write_text(PLAYLISTS, encoding="utf-8")
    return folder


@pytest.fixture
def cache(tmp_path: Path) -> MediaCache:
    return MediaCache(tmp_path / "cache")


def load(folder: Path, cache: MediaCache) -> Library:
    source: ContentSource = FolderContentSource(folder, cache)
    return source.load()


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_playlists_load_in_order_with_their_notes(folder: Path, cache: MediaCache) -> None:
    library = load(folder, cache)
    assert [p.id for p in library.playlists] == ["festival", "jazz"]
    festival, jazz = library.playlists
    assert festival.title == "Festival des Suds 2026"
    assert festival.note == "Les artistes du festival, à écouter avant le concert."
    assert jazz.note == ""
    assert library.featured == "jazz"
    assert library.available_tracks == library.total_tracks == 4


def test_tags_fill_the_tracks_and_the_id_is_the_content_hash(
    folder: Path, cache: MediaCache
) -> None:
    ouverture = load(folder, cache).playlists[0].tracks[0]
    sha = sha_of(folder / "01-ouverture.flac")
    assert ouverture.id == f"sha256:{sha}"
    assert ouverture.sha256 == sha
    assert (ouverture.title, ouverture.artist, ouverture.album) == ("Ouverture", "Les Suds", "Live")
    assert ouverture.isrc == "FRZ032600001"
    assert ouverture.duration_ms == 250
    assert ouverture.problem is None


def test_explicit_entries_override_the_tags(folder: Path, cache: MediaCache) -> None:
    nuit = load(folder, cache).playlists[0].tracks[1]
    assert (nuit.id, nuit.title, nuit.artist) == ("nuit", "La nuit", "Orchestre")
    assert nuit.isrc == "FRZ032600009"  # normalised
    assert nuit.duration_ms == 200  # still from the file


def test_an_untagged_file_gets_its_stem_and_an_unknown_artist(
    folder: Path, cache: MediaCache
) -> None:
    untagged = load(folder, cache).playlists[1].tracks[0]
    assert (untagged.title, untagged.artist, untagged.isrc) == (
        "03-untagged",
        "Unknown artist",
        None,
    )
    assert untagged.duration_ms == 100


def test_tracks_point_into_the_cache_never_into_the_folder(folder: Path, cache: MediaCache) -> None:
    library = load(folder, cache)
    for playlist in library.playlists:
        for track in playlist.tracks:
            assert track.media is not None and track.sha256 is not None
            assert cache.contains(track.media)
            assert track.media == cache.path_for(track.sha256)
            assert not track.media.is_relative_to(folder)
    # The file used by both playlists is stored once.
    assert len(list(cache.media.glob("*/*"))) == 3


def test_the_cached_copy_survives_the_folder(folder: Path, cache: MediaCache) -> None:
    track = load(folder, cache).playlists[0].tracks[0]
    (folder / "01-ouverture.flac").unlink()  # the USB stick is pulled out
    assert track.media is not None and track.media.read_bytes()[:4] == b"fLaC"


def test_featured_defaults_to_the_first_playlist(folder: Path, cache: MediaCache) -> None:
    toml = folder / "playlists.toml"
    toml.write_text(toml.read_text().replace('featured = "jazz"\n', ""))
    library = load(folder, cache)
    assert library.featured == PlaylistId("festival")
    featured = library.featured_playlist()
    assert featured is not None and featured.id == "festival"


def test_the_revision_is_stable_and_changes_with_any_edit(folder: Path, cache: MediaCache) -> None:
    def revisions() -> list[str]:
        return [p.revision for p in load(folder, cache).playlists]

    first = revisions()
    assert all(len(r) == 12 and int(r, 16) >= 0 for r in first)
    assert revisions() == first

    toml = folder / "playlists.toml"
    original = toml.read_text()
    edits = {
        "note": original.replace("avant le concert", "après le concert"),
        "title": original.replace("Festival des Suds 2026", "Festival des Suds"),
        "order": original.replace(
            'tracks = ["sub/03-untagged.flac", "01-ouverture.flac"]',
            'tracks = ["01-ouverture.flac", "sub/03-untagged.flac"]',
        ),
    }
    changed: dict[str, list[str]] = {}
    for name, text in edits.items():
        toml.write_text(text)
        changed[name] = revisions()
    toml.write_text(original)
    assert changed["note"][0] != first[0] and changed["note"][1] == first[1]
    assert changed["title"][0] != first[0]
    assert changed["order"][1] != first[1] and changed["order"][0] == first[0]

    synthesise_track(folder / "01-ouverture.flac", TrackSpec("Ouverture", "Les Suds", 0.3))
    assert all(a != b for a, b in zip(revisions(), first, strict=True))  # new content in both


HOSTILE = """\
[[playlist]]
id = "hostile"
title = "Hostile"
tracks = [
    "../../etc/passwd",
    "/etc/passwd",
    "escape.flac",
    "inside-link.flac",
    "sub",
    "missing.flac",
    "sub/../../content/01-ouverture.flac",
    "readme.txt",
    "fifo.flac",
    "01-ouverture.flac",
]
"""


def test_a_hostile_playlist_loses_only_its_bad_tracks(
    folder: Path, cache: MediaCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "escape.flac").symlink_to("/etc/passwd")
    (folder / "inside-link.flac").symlink_to("01-ouverture.flac")
    (folder / "readme.txt").write_text("Not audio at all.")
    os.mkfifo(folder / "fifo.flac")  # would block a naive reader forever
    (folder / "playlists.toml").write_text(HOSTILE)

    with caplog.at_level(logging.WARNING, logger="device.content.folder"):
        [playlist] = load(folder, cache).playlists

    problems = [t.problem for t in playlist.tracks]
    assert problems == [
        "outside the playlist folder ('..')",
        "absolute paths are not allowed, give a path relative to the folder",
        "a symlink leading outside the playlist folder",
        None,
        "a directory, not a file",
        "file not found",
        "outside the playlist folder ('..')",
        None,
        "not a regular file",
        None,
    ]
    for track in playlist.tracks:
        assert (track.media is None) == (track.problem is not None)
        assert track.media is None or cache.contains(track.media)
    passwd, absolute, escape = playlist.tracks[:3]
    assert (passwd.id, passwd.title, passwd.artist) == (
        "file:../../etc/passwd",
        "passwd",
        "Unknown artist",
    )
    assert absolute.id == "file:/etc/passwd" and escape.id == "file:escape.flac"
    # A symlink inside the folder is followed; its content is what gets cached.
    assert playlist.tracks[3].sha256 == sha_of(folder / "01-ouverture.flac")
    # Nothing from outside the folder reached the cache.
    cached = {p.name for p in cache.media.glob("*/*")}
    assert cached == {sha_of(folder / "01-ouverture.flac"), sha_of(folder / "readme.txt")}

    logged = [r.getMessage() for r in caplog.records if r.name == "device.content.folder"]
    assert (
        "playlist 'hostile' playlist[0].tracks[0] '../../etc/passwd': "
        "outside the playlist folder ('..'); track unavailable"
    ) in logged
    assert any(
        "playlist[0].tracks[2] 'escape.flac': a symlink leading outside" in m for m in logged
    )
    assert all("\n" not in m for m in logged)  # one journald entry per problem


def test_a_file_that_is_not_audio_is_cached_anyway(
    folder: Path, cache: MediaCache, caplog: pytest.LogCaptureFixture
) -> None:
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a picture")
    (folder / "playlists.toml").write_text(
        '[[playlist]]\nid = "p"\ntitle = "P"\ntracks = ["cover.jpg"]\n'
    )
    with caplog.at_level(logging.WARNING):
        [track] = load(folder, cache).playlists[0].tracks
    assert track.media is not None and cache.contains(track.media)
    assert (track.title, track.artist, track.duration_ms, track.problem) == (
        "cover",
        "Unknown artist",
        None,
        None,
    )
    assert "not a recognised audio format" in caplog.text


def test_a_file_that_cannot_be_cached_costs_only_its_track(
    folder: Path, cache: MediaCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add_file = MediaCache.add_file

    def add_file(self: MediaCache, src: Path) -> Sha256:
        if src.name == "02-nuit.flac":  # e.g. an unreadable sector on the USB stick
            raise CacheError(f"cannot read {src}: Input/output error")
        return real_add_file(self, src)

    monkeypatch.setattr(MediaCache, "add_file", add_file)
    nuit = load(folder, cache).playlists[0].tracks[1]
    assert nuit.media is None and nuit.id == "nuit"
    assert nuit.problem == f"not cached: cannot read {folder / '02-nuit.flac'}: Input/output error"
    assert load(folder, cache).available_tracks == 3


def test_the_same_explicit_id_for_the_same_file_is_allowed(folder: Path, cache: MediaCache) -> None:
    (folder / "playlists.toml").write_text(
        '[[playlist]]\nid = "a"\ntitle = "A"\ntracks = [{ file = "02-nuit.flac", id = "nuit" }]\n'
        '[[playlist]]\nid = "b"\ntitle = "B"\n'
        'tracks = [{ file = "./02-nuit.flac", id = "nuit" }]\n'
    )
    library = load(folder, cache)
    assert [p.tracks[0].id for p in library.playlists] == [TrackId("nuit")] * 2


def _playlist(tracks: str = '["01-ouverture.flac"]', **keys: str) -> str:
    body = "".join(f"{k} = {v}\n" for k, v in keys.items())
    return f'[[playlist]]\nid = "festival"\ntitle = "Festival"\n{body}tracks = {tracks}\n'


MALFORMED = [
    ("featured = ", "not valid TOML: Invalid value (at end of document)"),
    (
        '[[playlist]]\nid = "a"\nid = "b"\n',
        "not valid TOML: Cannot overwrite a value (at line 3, column 9)",
    ),
    ('featured = "festival"\n', "playlist: missing, expected an array ([[playlist]] tables)"),
    ('[playlist]\nid = "a"\n', "playlist: expected an array ([[playlist]] tables), got a table"),
    ("playlist = []\n", "playlist: expected at least one [[playlist]]"),
    (
        'playlist = ["festival"]\n',
        "playlist[0]: expected a table ([[playlist]]), got a string ('festival')",
    ),
    ('featurd = "festival"\n' + _playlist(), "featurd: unknown key, did you mean 'featured'?"),
    (_playlist(titel='"x"'), "playlist[0].titel: unknown key, did you mean 'title'?"),
    (
        _playlist(colour='"red"'),
        "playlist[0].colour: unknown key, expected one of: id, note, title, tracks",
    ),
    (
        '[[playlist]]\ntitle = "T"\ntracks = ["a.flac"]\n',
        "playlist[0].id: missing, expected a string (a playlist id)",
    ),
    (
        _playlist().replace('"festival"', "3"),
        "playlist[0].id: expected a string (a playlist id), got an integer (3)",
    ),
    (
        _playlist().replace('"festival"', '"Festival 2026"'),
        "playlist[0].id: expected lowercase letters, digits, '-' or '_' (1 to 64), "
        "got 'Festival 2026'",
    ),
    (
        _playlist() + _playlist(),
        "playlist[1].id: duplicate id 'festival', already used by playlist[0]; "
        "expected a unique id",
    ),
    (
        '[[playlist]]\nid = "a"\ntracks = ["a.flac"]\n',
        "playlist[0].title: missing, expected a string (the title shown on the screen)",
    ),
    (
        _playlist().replace('"Festival"', '""'),
        "playlist[0].title: expected a non-empty string, got ''",
    ),
    (
        _playlist().replace('"Festival"', "true"),
        "playlist[0].title: expected a string (the title shown on the screen), "
        "got a boolean (True)",
    ),
    (_playlist(note="[]"), "playlist[0].note: expected a string (an editorial note), got an array"),
    (
        _playlist(note="2026-05-01"),
        "playlist[0].note: expected a string (an editorial note), "
        "got a date or time (datetime.date(2026, 5, 1))",
    ),
    (
        '[[playlist]]\nid = "a"\ntitle = "A"\n',
        "playlist[0].tracks: missing, expected an array (an array of file names or tables)",
    ),
    (_playlist("[]"), "playlist[0].tracks: expected at least one track, got an empty array"),
    (
        _playlist('"a.flac"'),
        "playlist[0].tracks: expected an array (an array of file names or tables), "
        "got a string ('a.flac')",
    ),
    (
        _playlist('["a.flac", 5]'),
        'playlist[0].tracks[1]: expected a file name or a table like { file = "…" }, '
        "got an integer (5)",
    ),
    (
        _playlist('[""]'),
        "playlist[0].tracks[0]: expected a file name relative to the folder, got ''",
    ),
    (
        _playlist()
        + _playlist().replace('"festival"', '"b"')
        + _playlist("[{ file = 3 }]").replace('"festival"', '"c"'),
        "playlist[2].tracks[0].file: expected a string (a file name), got an integer (3)",
    ),
    (
        _playlist('[{ title = "T" }]'),
        "playlist[0].tracks[0].file: missing, expected a string (a file name)",
    ),
    (
        _playlist('[{ file = "a.flac", artiste = "X" }]'),
        "playlist[0].tracks[0].artiste: unknown key, did you mean 'artist'?",
    ),
    (
        _playlist('[{ file = "a.flac", artist = "" }]'),
        "playlist[0].tracks[0].artist: expected a non-empty string, got ''",
    ),
    (
        _playlist('[{ file = "a.flac", isrc = "ABC" }]'),
        "playlist[0].tracks[0].isrc: expected an ISRC like FRZ032600001, got 'ABC'",
    ),
    (
        _playlist('[{ file = "a.flac", id = "my id" }]'),
        "playlist[0].tracks[0].id: expected a track id without spaces, got 'my id'",
    ),
    (
        _playlist('[{ file = "a.flac", id = "t" }, { file = "b.flac", id = "t" }]'),
        "playlist[0].tracks[1].id: duplicate track id 't', "
        "already used by playlist[0].tracks[0].id for another file; expected one id per file",
    ),
    (
        'featured = "rock"\n' + _playlist() + _playlist().replace('"festival"', '"jazz"'),
        "featured: expected the id of a playlist (one of: festival, jazz), got 'rock'",
    ),
    (
        "featured = 1\n" + _playlist(),
        "featured: expected a string (the id of a playlist), got an integer (1)",
    ),
]


@pytest.mark.parametrize(("toml", "expected"), MALFORMED)
def test_a_malformed_playlists_file_is_refused_with_a_precise_message(
    folder: Path, cache: MediaCache, toml: str, expected: str
) -> None:
    path = folder / "playlists.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load(folder, cache)
    assert str(error.value) == f"{path}: {expected}"
    assert list(cache.media.glob("*/*")) == []  # refused before anything was cached


def test_a_missing_playlists_file_is_named(tmp_path: Path, cache: MediaCache) -> None:
    with pytest.raises(ContentError) as error:
        load(tmp_path / "empty", cache)
    assert str(error.value) == (
        f"{tmp_path / 'empty' / 'playlists.toml'}: not found; "
        "the content folder needs this file to describe its playlists"
    )


def test_a_playlists_file_that_is_not_utf8_is_named(folder: Path, cache: MediaCache) -> None:
    latin1 = _playlist().replace("Festival", "Fête").encode("latin-1")
    path = folder / "playlists.toml"
    path.write_bytes(latin1)
    with pytest.raises(ContentError) as error:
        load(folder, cache)
    offset = latin1.index("ê".encode("latin-1"))
    assert str(error.value) == f"{path}: not UTF-8 text (byte {offset})"


# --------------------------------------------------------------------------- tags


def test_read_tags_reads_vorbis_comments_and_replaygain(tmp_path: Path) -> None:
    path = synthesise_track(
        tmp_path / "a.flac",
        TrackSpec(
            "Titre", "Artiste", 0.2, isrc="FRZ032600001", album="Album", replaygain_track_db=-6.5
        ),
    )
    assert read_tags(path) == TrackTags(
        "Titre", "Artiste", "Album", "FRZ032600001", DurationMs(200), -6.5
    )


def test_read_tags_reads_id3_frames_of_a_wave_file(tmp_path: Path) -> None:
    path = tmp_path / "b.wav"
    soundfile.write(str(path), np.zeros((4410, 2), dtype=np.float32), 44100)
    wave = mutagen.wave.WAVE(str(path))  # type: ignore[no-untyped-call]
    wave.add_tags()  # type: ignore[no-untyped-call]
    assert wave.tags is not None
    wave.tags.add(mutagen.id3.TIT2(encoding=3, text=["Wav title"]))
    wave.tags.add(mutagen.id3.TPE1(encoding=3, text=["Wav artist"]))
    wave.tags.add(mutagen.id3.TSRC(encoding=3, text=["gb-aye-00-00351"]))
    wave.tags.add(mutagen.id3.TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=["+1.25 dB"]))
    wave.save()
    assert read_tags(path) == TrackTags(
        "Wav title", "Wav artist", None, "GBAYE0000351", DurationMs(100), 1.25
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"just some text", "not a recognised audio format"),
        (b"fLaC\x00\x00\x00\x22", "unreadable audio file: "),
        (b"", "unreadable audio file: "),
        (b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"\xff" * 100, "unreadable audio file: "),
    ],
    ids=["text", "truncated-flac", "empty", "broken-mp3"],
)
def test_read_tags_never_raises_on_a_bad_file(tmp_path: Path, content: bytes, problem: str) -> None:
    suffix = {b"ju": ".txt", b"ID": ".mp3"}.get(content[:2], ".flac")
    path = tmp_path / f"track{suffix}"
    path.write_bytes(content)
    tags = read_tags(path)
    assert tags.problem is not None and tags.problem.startswith(problem)
    assert (tags.title, tags.artist, tags.isrc, tags.duration_ms) == (None, None, None, None)


def test_read_tags_of_a_missing_file_or_a_directory_says_why(tmp_path: Path) -> None:
    assert read_tags(tmp_path / "gone.flac").problem == "cannot read: No such file or directory"
    assert read_tags(tmp_path).problem == "not a regular file"


def test_a_malformed_isrc_tag_is_ignored(tmp_path: Path) -> None:
    path = synthesise_track(tmp_path / "a.flac", TrackSpec("T", "A", 0.1, isrc="not-an-isrc"))
    assert read_tags(path).isrc is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("FRZ032600001", "FRZ032600001"),
        ("fr-z03-26-00001", "FRZ032600001"),
        ("FR Z03 26 00001", "FRZ032600001"),
        ("FRZ03260000", None),
        ("12Z032600001", None),
    ],
)
def test_isrcs_are_normalised_or_rejected(raw: str, expected: str | None) -> None:
    assert normalise_isrc(raw) == expected


def test_unchanged_files_are_not_hashed_again_but_edited_ones_are(
    folder: Path, cache: MediaCache
) -> None:
    first = load(folder, cache).playlists[0].tracks[0]
    index = cache.root / "folder-hashes.json"
    assert sha_of(folder / "01-ouverture.flac") in index.read_text()
    # Same size and mtime as recorded: the index answers, the file is not read again.
    source = folder / "01-ouverture.flac"
    before = source.stat()
    data = bytearray(source.read_bytes())
    data[-1] ^= 0xFF
    source.write_bytes(bytes(data))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert load(folder, cache).playlists[0].tracks[0].sha256 == first.sha256
    # A real edit changes the mtime: the file is hashed and cached anew.
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    edited = load(folder, cache).playlists[0].tracks[0]
    assert edited.sha256 == sha_of(source) != first.sha256


def test_a_corrupt_hash_index_is_ignored(folder: Path, cache: MediaCache) -> None:
    load(folder, cache)
    (cache.root / "folder-hashes.json").write_text("{not json")
    library = load(folder, cache)
    assert library.available_tracks == library.total_tracks == 4


def test_every_problem_of_the_file_is_reported_at_once(folder: Path, cache: MediaCache) -> None:
    path = folder / "playlists.toml"
    path.write_text(
        _playlist('["a.flac", 5, { file = "b.flac", isrc = "ABC", artiste = "X" }]')
        + '[[playlist]]\nid = "Bad Id"\ntracks = []\n',
        encoding="utf-8",
    )
    with pytest.raises(ContentError) as error:
        load(folder, cache)
    assert str(error.value).splitlines() == [
        f"{path}: {problem}"
        for problem in (
            'playlist[0].tracks[1]: expected a file name or a table like { file = "…" }, '
            "got an integer (5)",
            "playlist[0].tracks[2].artiste: unknown key, did you mean 'artist'?",
            "playlist[0].tracks[2].isrc: expected an ISRC like FRZ032600001, got 'ABC'",
            "playlist[1].id: expected lowercase letters, digits, '-' or '_' (1 to 64), "
            "got 'Bad Id'",
            "playlist[1].title: missing, expected a string (the title shown on the screen)",
            "playlist[1].tracks: expected at least one track, got an empty array",
        )
    ]
    assert list(cache.media.glob("*/*")) == []


def test_a_file_nested_too_deeply_is_one_clear_error(folder: Path, cache: MediaCache) -> None:
    path = folder / "playlists.toml"
    path.write_text("featured = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load(folder, cache)
    assert str(error.value) == f"{path}: not valid TOML: nested too deeply for this reader"
