"""The screen catalogues: every language says every phrase, with the same placeholders, and the
panel's fonts draw the letters French needs."""

from __future__ import annotations

import string

import pytest
from PIL import Image, ImageChops, ImageDraw

from contract.languages import LANGUAGES
from contract.screen_text import draw_text
from device.display.glyphs import fonts
from device.display.model import AttractScreen, ErrorScreen, RevokedScreen, TechnicianScreen
from device.display.render import render
from device.display.texts import CATALOGUES, EN, texts_for


def placeholders(phrase: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(phrase) if name is not None}


def test_every_language_of_the_contract_has_a_catalogue() -> None:
    assert set(CATALOGUES) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_phrase_takes_the_same_placeholders_as_in_english(language: str) -> None:
    english = EN.phrases()
    for name, phrase in texts_for(language).phrases().items():  # type: ignore[arg-type]
        assert phrase.strip(), f"{language}: {name} is empty"
        assert placeholders(phrase) == placeholders(english[name]), f"{language}: {name}"


def draw_word(word: str, face_index: int) -> Image.Image:
    face = fonts()[face_index]
    image = Image.new("1", (face.width(word), face.lh), 0)
    draw_text(ImageDraw.Draw(image), (0, 0), word, face)
    return image


@pytest.mark.parametrize("face_index", [0, 1, 2], ids=["bold", "body", "small"])
@pytest.mark.parametrize("letter", ["é", "è", "à", "ç", "ê", "ô", "œ", "Œ", "É", "À", "«"])
def test_french_letters_have_their_own_glyph_in_every_face(face_index: int, letter: str) -> None:
    """Not blank, not a question mark, not the bare letter without its accent."""
    drawn = draw_word(letter, face_index)
    assert drawn.getbbox() is not None
    base = {"œ": "o", "Œ": "O", "«": "<"}.get(letter, letter.encode("ascii", "ignore").decode())
    for other in {"?", base or "?"}:
        assert ImageChops.difference(drawn, draw_word(other, face_index)).getbbox() is not None


@pytest.mark.parametrize("face_index", [0, 1, 2], ids=["bold", "body", "small"])
def test_the_oe_ligature_sits_on_the_baseline_like_o(face_index: int) -> None:
    ligature, o = draw_word("œ", face_index).getbbox(), draw_word("o", face_index).getbbox()
    assert ligature is not None and o is not None
    assert (ligature[1], ligature[3]) == (o[1], o[3])


def test_the_same_screen_draws_other_words_in_french() -> None:
    for screen in (
        AttractScreen("Jazz", "Notes"),
        RevokedScreen("Réseau"),
        TechnicianScreen(rows=()),
    ):
        french = render(type(screen)(**{**screen.__dict__, "language": "fr"}))
        assert ImageChops.difference(render(screen), french).getbbox() is not None


def test_a_screen_without_words_of_its_own_ignores_the_language() -> None:
    assert not hasattr(ErrorScreen("a", "b"), "language")


def test_the_desired_state_schema_offers_exactly_the_catalogued_languages() -> None:
    import json
    from pathlib import Path

    import contract.protocol

    schema_path = Path(contract.protocol.__file__).with_name("schemas") / "desired-state.json"
    schema = json.loads(schema_path.read_text())
    assert tuple(schema["properties"]["language"]["enum"]) == LANGUAGES
