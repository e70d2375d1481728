"""The screen catalogues: every language says every phrase, with the same placeholders, and the
panel's fonts draw the letters French needs."""

from __future__ import annotations

import json
import string

import pytest
from PIL import Image, ImageChops, ImageDraw

from contract.languages import LANGUAGES
from contract.screen_text import draw_text
from device.display.glyphs import fonts
from device.display.model import AttractScreen, ErrorScreen, RevokedScreen, TechnicianScreen
from device.display.render import render
from device.display.texts import CATALOGUES, EN, Phrase, phrase, texts_for, verbatim


def placeholders(phrase: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(phrase) if name is not None}


def test_every_language_of_the_contract_has_a_catalogue() -> None:
    assert set(CATALOGUES) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_phrase_takes_the_same_placeholders_as_in_english(language: str) -> None:
    english = EN.phrases()
    for name, words in texts_for(language).phrases().items():  # type: ignore[arg-type]
        assert words.strip(), f"{language}: {name} is empty"
        assert placeholders(words) == placeholders(english[name]), f"{language}: {name}"


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


# ------------------------------------------------------------------ phrases said later


def test_a_phrase_is_said_in_the_language_of_the_moment() -> None:
    count = phrase("pack_imported", playlists=2, files=14)
    assert count.say(EN) == "Pack: 2 playlist(s), 14 file(s)"
    assert count.say(texts_for("fr")) == "Paquet : 2 playlist(s), 14 fichier(s)"
    # Verbatim text (a file's problem) is the same in every language, braces and all.
    problem = verbatim("site.toml: device.site: {not} a placeholder")
    assert problem.say(EN) == problem.say(texts_for("fr")) == problem.args[0][1]


def test_a_phrase_with_an_unknown_key_or_the_wrong_arguments_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="no phrase 'stick_lost'"):
        phrase("stick_lost")
    with pytest.raises(ValueError, match=r"'pack_imported' takes \['files', 'playlists'\]"):
        phrase("pack_imported", playlists=2)
    with pytest.raises(ValueError, match="no phrase 'phrases'"):
        phrase("phrases")  # a method of the catalogue, not one of its phrases


@pytest.mark.parametrize(
    "said",
    [phrase("restart_for", settings="display.driver"), verbatim("a: b"), phrase("remove_stick")],
)
def test_a_phrase_survives_json(said: Phrase) -> None:
    assert Phrase.from_json(json.loads(json.dumps(said.to_json()))) == said


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"key": "no_such_phrase"}, "no phrase 'no_such_phrase'"),
        ({"key": "restart_for", "args": {}}, "'restart_for' takes"),
        ({"key": "remove_stick", "args": ["x"]}, "args is not an object"),
        (["remove_stick"], "not a phrase"),
        (3, "not a phrase"),
    ],
)
def test_json_that_is_not_a_phrase_is_refused(value: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Phrase.from_json(value)
