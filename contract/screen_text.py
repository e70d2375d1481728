"""Text on the kiosk's 128x64 screen: making it drawable, wrapping it, drawing it, and the
attract screen's title and note, page by page.

Pure functions over Pillow, shared by the kiosk's display (device/display/render.py) and the
tenant's console, which previews a playlist's note with this very drawing. Text is made safe
first (`clean`): the bitmap fonts only cover Latin-1 (plus "œ", "Œ" and the icons drawn in
contract/screen_glyphs.py), so other letters are folded to a near one ("ő" -> "o") or to "?",
and control characters to spaces.
"""

from __future__ import annotations

import functools
import unicodedata

from PIL import Image, ImageDraw

from contract.screen_glyphs import ELLIPSIS, ICONS, OFF, ON, PLAY, Face, draw_icon, fonts

SIZE = (128, 64)
ATTRACT_PAGE_S = 6.0  # slow: a visitor reads three lines in well under that
ATTRACT_MAX_PAGES = 5
ATTRACT_MARGIN = 2  # room for the burn-in shift without clipping text

_FOLD = {
    "‘": "'",
    "’": "'",
    "‚": ",",
    "‛": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "−": "-",
    "•": "·",
    "€": "EUR",
    "™": "TM",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "♪": PLAY,  # no note glyph; the play sign reads as "music" too
    "►": PLAY,
    "⏵": PLAY,
    "❚": "|",
}


def clean(text: str, *, multiline: bool = False) -> str:
    """Make `text` drawable: Latin-1 plus our icons, no control characters, never raises.

    Single-line text has its whitespace collapsed; multi-line text keeps its line breaks.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text.replace("\r\n", "\n")):
        if ch in ICONS:
            out.append(ch)
        elif ch in _FOLD:
            out.append(_FOLD[ch])
        elif ch == "\n" or ch == "\r" or ch in "\u2028\u2029":
            out.append("\n" if multiline else " ")
        elif ch.isspace():
            out.append(" ")
        else:
            category = unicodedata.category(ch)
            if category in ("Mn", "Me", "Cf"):
                continue  # stray combining marks, joiners, variation selectors, soft hyphens
            if category.startswith("C"):
                out.append(" " if category == "Cc" else "?")
            elif ord(ch) < 256:
                out.append(ch)
            else:
                base = unicodedata.normalize("NFKD", ch)[:1]
                out.append(base if base and " " < base < "\x7f" else "?")
    joined = "".join(out)
    if not multiline:
        return " ".join(joined.split())
    lines = [" ".join(line.split()) for line in joined.split("\n")]
    return "\n".join(lines).strip("\n")


def ellipsize(text: str, face: Face, width: int) -> str:
    """`text` if it fits in `width` pixels, else its start and an ellipsis."""
    cols = face.cols(width)
    if len(text) <= cols:
        return text
    return text[: cols - 1].rstrip() + ELLIPSIS


def wrap(text: str, face: Face, width: int, max_lines: int | None = None) -> list[str]:
    """Greedy word wrap; words wider than a line are cut; the last kept line gets an ellipsis."""
    cols = face.cols(width)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if not word:
                continue
            while len(word) > cols:
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cols])
                word = word[cols:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= cols:
                line = f"{line} {word}"
            else:
                lines.append(line)
                line = word
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[: max(0, max_lines)]
        if lines:
            last = lines[-1]
            lines[-1] = last + ELLIPSIS if len(last) < cols else last[: cols - 1] + ELLIPSIS
    return lines


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, face: Face) -> None:
    """Draw one line, drawing the icon characters by hand (the fonts lack them)."""
    x, y = xy
    run_start = x
    run = ""
    for ch in text:
        if ch in ICONS:
            if run:
                draw.text((run_start, y), run, font=face.font, fill=ON)
                run = ""
            draw_icon(draw, ch, x, y, face)
            x += face.cw
            run_start = x
        else:
            run += ch
            x += face.cw
    if run:
        draw.text((run_start, y), run, font=face.font, fill=ON)


def centered(width: int, text: str, face: Face) -> int:
    return max(0, (width - face.width(text)) // 2)


def page_index(count: int, period_s: float, elapsed_s: float) -> int:
    return int(max(0.0, elapsed_s) // period_s) % count if count > 1 else 0


@functools.lru_cache(maxsize=8)  # an animated screen is laid out once, not at every frame
def attract_pages(
    playlist: str, note: str, size: tuple[int, int]
) -> tuple[list[str], list[list[str]]]:
    """The attract screen's title lines and its note's pages of lines."""
    bold, body, _small = fonts()
    w, h = size
    inner = w - 2 * ATTRACT_MARGIN
    title = wrap(clean(playlist), bold, inner, max_lines=2)
    area = h - 2 * ATTRACT_MARGIN - len(title) * bold.lh - 4 - bold.lh - 2
    per_page = max(1, area // body.lh)
    lines = wrap(clean(note, multiline=True), body, inner, max_lines=per_page * ATTRACT_MAX_PAGES)
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    return title, pages


def draw_attract(
    image: Image.Image, playlist: str, note: str, invite: str, offset: tuple[int, int],
    elapsed_s: float,
) -> None:  # fmt: skip
    """The attract screen: the playlist's title, a page of its note, the call to action."""
    bold, body, _small = fonts()
    w, h = image.size
    content = Image.new("1", image.size, OFF)
    draw = ImageDraw.Draw(content)
    m = ATTRACT_MARGIN

    title, pages = attract_pages(playlist, note, image.size)
    y = m
    for line in title:
        draw_text(draw, (m, y), line, bold)
        y += bold.lh
    y += 4
    for line in pages[page_index(len(pages), ATTRACT_PAGE_S, elapsed_s)]:
        draw_text(draw, (m, y), line, body)
        y += body.lh

    call = ellipsize(clean(invite), bold, w)
    draw_text(draw, (centered(w, call, bold), h - m - bold.lh), call, bold)
    image.paste(content, offset)


def note_preview(
    playlist: str, note: str, invite: str, size: tuple[int, int] = SIZE
) -> list[Image.Image]:
    """Each page of a playlist's attract screen as the kiosk draws it (mode "1" images)."""
    _title, pages = attract_pages(playlist, note, size)
    images = []
    for number in range(len(pages)):
        image = Image.new("1", size, OFF)
        draw_attract(image, playlist, note, invite, (0, 0), number * ATTRACT_PAGE_S)
        images.append(image)
    return images
