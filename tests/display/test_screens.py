"""Every kiosk screen, drawn on luma's dummy device and compared pixel for pixel with a golden PNG.

After an intended change of a screen, rewrite the golden files and look at them before
committing:

    JUKEBOX_UPDATE_GOLDEN=1 .venv/bin/pytest tests/display/test_screens.py

On a mismatch the test saves what it drew as tests/display/golden/<name>.actual.png (ignored by
git) and names both files, so the two pictures can be compared side by side.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from luma.core.device import dummy
from PIL import Image, ImageChops

from contract.screen_text import clean
from device.display.model import (
    AttractScreen,
    BootScreen,
    ClaimScreen,
    ErrorScreen,
    IdentifyScreen,
    NowPlayingScreen,
    RevokedScreen,
    Screen,
    SelfTestScreen,
    StickScreen,
    TechnicianScreen,
    TestPatternScreen,
    VolumeScreen,
)
from device.display.render import (
    IDENTIFY_FLASH_S,
    MARQUEE_GAP_CELLS,
    MARQUEE_PAUSE_S,
    MARQUEE_SPEED_PX_S,
    TECHNICIAN_PAGE_S,
    animation_key,
    is_animated,
    next_change_s,
    render,
)

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("JUKEBOX_UPDATE_GOLDEN") == "1"

LONG_TITLE = NowPlayingScreen(
    playlist="Médiathèque José Cabanis",
    title="Je ne regrette rien (version orchestrale intégrale)",
    artist="Édith Piaf",
    elapsed_ms=5_000,
    duration_ms=142_000,
)
HYPERBALLAD = NowPlayingScreen(
    playlist="Fête de la musique",
    title="Hyperballad",
    artist="Björk",
    elapsed_ms=83_000,
    duration_ms=236_000,
)
ATTRACT = AttractScreen(
    playlist="Fête de la musique",
    note="Une sélection des bibliothécaires pour le 21 juin.",
)
LONG_NOTE = AttractScreen(
    playlist="Voix du monde",
    note=(
        "Des chanteuses d'Afrique de l'Ouest, du Brésil et d'Islande : Oumou Sangaré, "
        "Elza Soares, Björk et bien d'autres, choisies par l'équipe de la médiathèque "
        "pour accompagner l'exposition « Voix de femmes » jusqu'au 30 septembre. "
        "Bonne écoute !"
    ),
)
TECHNICIAN = TechnicianScreen(
    rows=(
        ("Device", "jk-7f3a2c91-0b4e-4d6a-9c1e-5a8f2b6d3e10"),
        ("Firmware", "0.1.0"),
        ("IP eth0", "192.168.1.23"),
        ("IP wlan0", "10.0.0.42"),
        ("Content", "12/14 tracks"),
        ("Journal", "3 to send"),
        ("Clock", "synced"),
        ("Display", "ok"),
    )
)

CASES: dict[str, tuple[Screen, float]] = {
    "boot": (BootScreen(version="0.1.0"), 0.0),
    "now_playing": (HYPERBALLAD, 0.0),
    "now_playing_long_title": (LONG_TITLE, 0.0),
    "now_playing_long_title_scrolled": (LONG_TITLE, 3.0),
    "now_playing_paused": (
        NowPlayingScreen("Fête de la musique", "Hyperballad", "Björk", 83_000, 236_000, True),
        0.0,
    ),
    "now_playing_unknown_duration": (
        NowPlayingScreen(
            "Jazz à la médiathèque", "Take Five", "Dave Brubeck Quartet", 42_000, None
        ),
        0.0,
    ),
    "volume_min": (VolumeScreen(volume=20, minimum=20, maximum=80), 0.0),
    "volume_mid": (VolumeScreen(volume=50, minimum=20, maximum=80), 0.0),
    "volume_max": (VolumeScreen(volume=80, minimum=20, maximum=80), 0.0),
    "attract": (ATTRACT, 0.0),
    "attract_shifted_dim": (
        AttractScreen(ATTRACT.playlist, ATTRACT.note, offset=(2, -2), dim=True),
        0.0,
    ),
    "attract_long_note": (LONG_NOTE, 0.0),
    "attract_long_note_page2": (LONG_NOTE, 6.0),
    "error": (
        ErrorScreen(
            "No music yet",
            "The playlists are still downloading. Please come back in a few minutes.",
        ),
        0.0,
    ),
    "technician_page1": (TECHNICIAN, 0.0),
    "technician_page2": (TECHNICIAN, 4.0),
    "claim": (ClaimScreen("Médiathèques du Sud", "KQ7M-X4PD"), 0.0),
    "revoked": (RevokedScreen("Médiathèques du Sud"), 0.0),
    "revoked_reclaim": (RevokedScreen("Médiathèques du Sud", "HT3R-9WNA"), 0.0),
    "stick_done": (
        StickScreen(
            True,
            "Remove the stick",
            (
                "Site: carre-d-art, Hall",
                "Pack: 2 playlist(s), 14 file(s)",
                "Diagnostics in jukebox/diagnostics/jk-7f3a2c910b4e-20261129T104500Z",
            ),
        ),
        0.0,
    ),
    "stick_refused": (
        StickScreen(
            False,
            "Stick refused",
            ("pack refused: media/3f9a…: content hashes to 0c1d…", "Nothing changed"),
        ),
        0.0,
    ),
    "identify": (IdentifyScreen("Salle 2", "jk-7f3a2c910b4e4d6a9c1e"), 0.0),
    "identify_flash": (IdentifyScreen("Salle 2", "jk-7f3a2c910b4e4d6a9c1e"), 0.6),
    "identify_long_name": (
        IdentifyScreen("Médiathèque José Cabanis, 2e étage", "jk-7f3a2c910b4e4d6a9c1e"),
        0.0,
    ),
}


# The same screens in French: every word the screen draws itself comes from the French
# catalogue, and French text uses its accents and the "œ" ligature (drawn by hand).
FRENCH_TECHNICIAN = TechnicianScreen(
    rows=(
        ("Appareil", "jk-7f3a2c91-0b4e-4d6a-9c1e-5a8f2b6d3e10"),
        ("Logiciel", "0.1.0"),
        ("IP", "192.168.1.23"),
        ("Contenu", "3 listes, 12/14 titres"),
        ("Journal", "1 en cours, 3 finies"),
        ("Volume", "40 (10-80)"),
        ("Réseau", "active Médiathèques du Sud"),
        ("Son", "USB Audio"),
    ),
    language="fr",
)
SELF_TEST_CHECKS = (("play", True), ("next", True), ("prev", False), ("up", True),
                    ("down", False), ("knob +", True), ("knob -", False))  # fmt: skip
CASES.update(
    {
        "test_pattern": (TestPatternScreen(), 0.0),
        "self_test_tone": (SelfTestScreen("tone", "playing", ()), 0.0),
        "self_test_buttons": (SelfTestScreen("buttons", "ok", SELF_TEST_CHECKS), 0.0),
        "self_test_done_failed_tone": (
            SelfTestScreen("done", "failed", tuple((n, True) for n, _ in SELF_TEST_CHECKS)),
            0.0,
        ),
        "fr_self_test_buttons": (
            SelfTestScreen(
                "buttons",
                "ok",
                (("lecture", True), ("suivant", False), ("molette +", True), ("molette -", False)),
                "fr",
            ),
            0.0,
        ),
        "fr_boot": (BootScreen("0.1.0", "Musique en chargement", language="fr"), 0.0),
        "fr_boot_starting": (BootScreen("0.1.0", language="fr"), 0.0),
        "fr_now_playing_paused": (
            NowPlayingScreen(
                "Chœurs d'enfants", "Ô Nuit", "Les Petits Chanteurs", 83_000, 236_000, True, "fr"
            ),
            0.0,
        ),
        "fr_volume_max": (VolumeScreen(volume=80, minimum=20, maximum=80, language="fr"), 0.0),
        "fr_attract": (
            AttractScreen(
                "Œuvres pour chœur",
                "Des voix à écouter le cœur léger : sélection de la médiathèque.",
                language="fr",
            ),
            0.0,
        ),
        "fr_error": (
            ErrorScreen("Aucune musique", "En attente des playlists de la bibliothèque."),
            0.0,
        ),
        "fr_technician_page1": (FRENCH_TECHNICIAN, 0.0),
        "fr_technician_page2": (FRENCH_TECHNICIAN, 4.0),
        "fr_technician_empty": (TechnicianScreen(rows=(), language="fr"), 0.0),
        "fr_claim": (ClaimScreen("Médiathèques du Sud", "KQ7M-X4PD", language="fr"), 0.0),
        "fr_revoked": (RevokedScreen("", language="fr"), 0.0),
        "fr_revoked_reclaim": (
            RevokedScreen("Médiathèques du Sud", "HT3R-9WNA", language="fr"),
            0.0,
        ),
        "fr_identify": (IdentifyScreen("Salle 2", "jk-7f3a2c910b4e4d6a9c1e", "fr"), 0.0),
        # The stick's screens as the core says them on a French kiosk (device/display/texts.py).
        "fr_stick_done": (
            StickScreen(
                True,
                "Retirez la clé",
                (
                    "Site : carre-d-art, Hall",
                    "Paquet : 2 playlist(s), 14 fichier(s)",
                    "Diagnostic dans jukebox/diagnostics/jk-7f3a2c910b4e-20261129T104500Z",
                ),
            ),
            0.0,
        ),
        "fr_stick_refused": (
            StickScreen(
                False,
                "Clé refusée",
                ("pack refused: media/3f9a…: content hashes to 0c1d…", "Rien n'a été modifié"),
            ),
            0.0,
        ),
        "fr_stick_settings": (
            StickScreen(
                True,
                "Clé lue",
                (
                    "display : language = 'fr'",
                    "Appliqués tout de suite",
                    "Redémarrez le kiosque pour : buttons (pins)",
                ),
            ),
            0.0,
        ),
    }
)


def draw_on_dummy(screen: Screen, elapsed_s: float = 0.0) -> Image.Image:
    """What luma's dummy panel holds after being sent the rendered screen."""
    device = dummy(width=128, height=64, mode="1")
    device.display(render(screen, device.size, elapsed_s))
    image: Image.Image = device.image
    return image


@pytest.mark.parametrize("name", sorted(CASES))
def test_screen_matches_its_golden_image(name: str) -> None:
    screen, elapsed_s = CASES[name]
    actual = draw_on_dummy(screen, elapsed_s)
    golden_path = GOLDEN / f"{name}.png"
    actual_path = GOLDEN / f"{name}.actual.png"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        actual.save(golden_path)
        actual_path.unlink(missing_ok=True)
        return
    assert golden_path.exists(), f"no golden image {golden_path}; run with JUKEBOX_UPDATE_GOLDEN=1"
    with Image.open(golden_path) as stored:
        golden = stored.convert("1")
    diff = (
        ImageChops.logical_xor(actual.convert("1"), golden) if golden.size == actual.size else None
    )
    if diff is None or diff.getbbox() is not None:
        actual.save(actual_path)
        changed = "size differs" if diff is None else f"{diff.histogram()[-1]} pixels differ"
        pytest.fail(f"{changed}: expected {golden_path}, got {actual_path}")
    actual_path.unlink(missing_ok=True)


def test_every_golden_image_belongs_to_a_case() -> None:
    stored = {p.stem for p in GOLDEN.glob("*.png") if not p.name.endswith(".actual.png")}
    assert stored <= set(CASES), f"stale golden images: {sorted(stored - set(CASES))}"


# ----------------------------------------------------------------------------- behaviour


def test_long_title_rests_at_its_start_before_it_scrolls() -> None:
    assert render(LONG_TITLE, elapsed_s=0.0) == render(LONG_TITLE, elapsed_s=MARQUEE_PAUSE_S - 0.1)
    assert render(LONG_TITLE, elapsed_s=0.0) != render(LONG_TITLE, elapsed_s=MARQUEE_PAUSE_S + 0.5)


def test_long_title_loops_back_seamlessly_to_its_start() -> None:
    title_px = len(LONG_TITLE.title) * 6
    loop_s = MARQUEE_PAUSE_S + (title_px + MARQUEE_GAP_CELLS * 6) / MARQUEE_SPEED_PX_S
    assert render(LONG_TITLE, elapsed_s=loop_s + 0.5) == render(LONG_TITLE, elapsed_s=0.0)


def test_only_screens_that_change_with_time_are_animated() -> None:
    assert is_animated(LONG_TITLE)
    assert not is_animated(HYPERBALLAD)
    assert is_animated(LONG_NOTE)
    assert not is_animated(ATTRACT)
    assert is_animated(TECHNICIAN)
    assert not is_animated(TechnicianScreen(TECHNICIAN.rows[:3]))
    assert not is_animated(BootScreen("1.0"))
    assert not is_animated(VolumeScreen(50, 0, 100))


def test_next_change_tells_when_the_picture_will_move() -> None:
    assert next_change_s(HYPERBALLAD, elapsed_s=3.0) is None
    assert next_change_s(LONG_TITLE, elapsed_s=0.5) == MARQUEE_PAUSE_S
    assert next_change_s(LONG_TITLE, elapsed_s=MARQUEE_PAUSE_S + 1) == MARQUEE_PAUSE_S + 1
    assert next_change_s(TECHNICIAN, elapsed_s=1.0) == TECHNICIAN_PAGE_S
    assert next_change_s(TECHNICIAN, elapsed_s=TECHNICIAN_PAGE_S) == 2 * TECHNICIAN_PAGE_S
    assert render(TECHNICIAN, elapsed_s=TECHNICIAN_PAGE_S - 0.01) == render(TECHNICIAN)


def test_progress_and_burn_in_moves_keep_the_animation_going() -> None:
    moved = replace(LONG_TITLE, elapsed_ms=9_000, paused=True)
    assert animation_key(moved) == animation_key(LONG_TITLE)
    assert animation_key(replace(LONG_NOTE, offset=(1, 1), dim=True)) == animation_key(LONG_NOTE)
    assert animation_key(replace(LONG_TITLE, title="Other")) != animation_key(LONG_TITLE)
    assert animation_key(VolumeScreen(1, 0, 9)) != animation_key(VolumeScreen(2, 0, 9))


def test_static_screens_ignore_elapsed_time() -> None:
    for screen in (HYPERBALLAD, ATTRACT, BootScreen("1.0"), VolumeScreen(5, 0, 10)):
        assert render(screen, elapsed_s=0.0) == render(screen, elapsed_s=37.5)


def test_attract_offset_moves_the_whole_picture_and_dim_draws_the_same() -> None:
    plain = render(ATTRACT)
    shifted = render(AttractScreen(ATTRACT.playlist, ATTRACT.note, offset=(2, 1), dim=True))
    expected = Image.new("1", plain.size)
    expected.paste(plain, (2, 1))
    assert shifted == expected
    assert render(AttractScreen(ATTRACT.playlist, ATTRACT.note, dim=True)) == plain


@pytest.mark.parametrize("offset", [(4, 2), (2, 3), (-2, -1), (0, -2), (-2, 1)])
def test_burn_in_shifts_of_a_few_pixels_clip_nothing(offset: tuple[int, int]) -> None:
    for screen in (ATTRACT, LONG_NOTE):
        lit = render(screen).histogram()[-1]
        assert render(replace(screen, offset=offset)).histogram()[-1] == lit


def test_identify_flashes_by_inverting_the_whole_picture() -> None:
    screen = IdentifyScreen("Salle 2", "jk-7f3a2c910b4e4d6a9c1e")
    lit = render(screen)
    dark = render(screen, elapsed_s=IDENTIFY_FLASH_S)
    assert dark == lit.point(lambda v: 255 - v)
    assert render(screen, elapsed_s=2 * IDENTIFY_FLASH_S) == lit
    assert is_animated(screen)
    assert next_change_s(screen, elapsed_s=0.1) == IDENTIFY_FLASH_S


def test_paused_screen_differs_from_playing_screen() -> None:
    paused = replace(HYPERBALLAD, paused=True)
    assert render(paused) != render(HYPERBALLAD)


def test_volume_bar_grows_with_volume() -> None:
    lit = [
        render(VolumeScreen(v, 20, 80)).crop((0, 27, 128, 45)).histogram()[-1] for v in (20, 50, 80)
    ]
    assert lit[0] < lit[1] < lit[2]


def test_accents_are_kept_and_other_scripts_fall_back_to_near_letters() -> None:
    assert clean("Médiathèque — Fête de la musique") == "Médiathèque - Fête de la musique"
    assert clean("Bjo\u0308rk") == "Björk"  # decomposed umlaut from a macOS file name
    assert clean("Dvořák’s “Œuvre” au cœur") == 'Dvorák\'s "Œuvre" au cœur'
    assert clean("Sigur Rós 🎵") == "Sigur Rós ?"
    assert clean("a\tb\x00c\u200bd\r\ne") == "a b cd e"  # zero-width space: gone
    assert clean("first\nsecond", multiline=True) == "first\nsecond"


def test_accented_text_renders_differently_from_plain_text() -> None:
    accented = render(ErrorScreen("Fête", "Médiathèque"))
    plain = render(ErrorScreen("Fete", "Mediatheque"))
    assert accented != plain


# ------------------------------------------------------------------- text that must not crash

EXTREME_TEXTS = [
    "",
    " ",
    "x" * 500,
    "mot " * 125,
    "🎵🎶👨‍👩‍👧‍👦🇫🇷",
    "\x00\x01\x07\x1b[31m\x7f\x85\u2028",
    "\n\n\n",
    "ﷺ" * 40,
    "日本語のタイトル" * 10,
    "\ud800 lone surrogate",
    "e\u0301" * 100,
]
SIZES = [(128, 64), (64, 128), (128, 32), (1, 1)]


def screens_with(text: str) -> list[Screen]:
    return [
        BootScreen(text, text),
        NowPlayingScreen(text, text, text, 10**12, 1),
        NowPlayingScreen(text, text, text, -5, None, paused=True),
        VolumeScreen(-3, 90, 10),
        VolumeScreen(10**9, 0, 0),
        AttractScreen(text, text),
        AttractScreen(text, text, offset=(-500, 900), dim=True),
        ErrorScreen(text, text),
        TechnicianScreen(((text, text),) * 30),
        TechnicianScreen(()),
        IdentifyScreen(text, text),
    ]


@pytest.mark.parametrize("text", EXTREME_TEXTS, ids=range(len(EXTREME_TEXTS)))
def test_extreme_text_renders_on_every_screen_and_size(text: str) -> None:
    for screen in screens_with(text):
        is_animated(screen)
        for size in SIZES:
            for elapsed_s in (0.0, 3.0, 1e6, -1.0):
                image = render(screen, size, elapsed_s)
                assert image.size == size
                assert image.mode == "1"


@settings(max_examples=60, deadline=None, database=None)
@given(text=st.text(max_size=300), elapsed_s=st.floats(0, 1e5))
def test_any_text_renders_on_every_screen(text: str, elapsed_s: float) -> None:
    for screen in screens_with(text):
        image = render(screen, elapsed_s=elapsed_s)
        assert image.size == (128, 64)
