"""The helper's verdict as the daemon reads it: phrases survive the file, anything else is
refused (the watcher then waits for a readable one)."""

from __future__ import annotations

import json

import pytest

from device.display.texts import EN, FR, phrase, verbatim
from device.stick.layout import Verdict

DONE = Verdict(
    "sda1",
    "done",
    site=(phrase("site_line", site="carre-d-art", name="Hall"), phrase("wifi_line", ssid="Bib")),
    settings=(phrase("settings_values", section="display", values="language = 'fr'"),),
    pack=True,
    diagnostics=True,
    written=phrase("diagnostics_in", path="jukebox/diagnostics/jk-1"),
    notes=(phrase("pack_imported", playlists=1, files=2),),
)


def test_a_verdict_reads_back_as_it_was_written_and_says_itself_in_either_language() -> None:
    back = Verdict.from_json(DONE.to_json())
    assert back == DONE
    assert [p.say(EN) for p in back.site] == ["Site: carre-d-art, Hall", "Wi-Fi Bib"]
    assert [p.say(FR) for p in back.site] == ["Site : carre-d-art, Hall", "Wi-Fi Bib"]
    assert back.written is not None
    assert back.written.say(FR) == "Diagnostic dans jukebox/diagnostics/jk-1"
    refused = Verdict("sda1", "refused", problems=("jukebox/site.toml: device.site: missing",))
    assert Verdict.from_json(refused.to_json()) == refused


def test_problems_stay_text_and_a_plain_string_line_is_shown_as_it_is() -> None:
    value = json.loads(DONE.to_json())
    value["site"] = ["as written"]
    assert Verdict.from_json(json.dumps(value).encode()).site == (verbatim("as written"),)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("site", [{"key": "no_such_phrase", "args": {}}]),
        ("settings", "display: on"),
        ("notes", [{"key": "pack_imported", "args": {"files": 1}}]),
        ("written", {"args": {}}),
    ],
)
def test_a_verdict_with_a_line_that_is_no_phrase_is_not_read(field: str, bad: object) -> None:
    value = json.loads(DONE.to_json())
    value[field] = bad
    with pytest.raises(ValueError):
        Verdict.from_json(json.dumps(value).encode())
