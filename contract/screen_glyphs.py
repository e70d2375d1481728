"""The kiosk screens' fonts and the few glyphs they lack, drawn by hand.

In the contract so that the tenant's console previews a playlist note with the kiosk's own
drawing (contract/screen_text.py); the kiosk's display imports them from here.

The bitmap fonts cover Latin-1 only, which holds French's é, è, à, ç, ê, ô, « and » but not
"œ" and "Œ" (cœur, œuvre, Œdipe): those are drawn here, one character cell each, like the
ellipsis, the play and pause signs, from the face's own metrics so they sit on its baseline
and x-height. Pixel-art icons (speaker, warning sign) are drawn point by point: no polygon
rasteriser whose output may change with Pillow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ON = 255
OFF = 0

ELLIPSIS = "…"
PLAY = "▶"
PAUSE = "⏸"
LIGATURE_OE = "œ"
LIGATURE_OE_CAPITAL = "Œ"
ICONS = frozenset((ELLIPSIS, PLAY, PAUSE, LIGATURE_OE, LIGATURE_OE_CAPITAL))


@dataclass(frozen=True)
class Face:
    """A monospaced bitmap font and the metrics the layouts need."""

    font: ImageFont.ImageFont
    cw: int  # cell width
    lh: int  # cell height, i.e. line height
    cap_top: int  # first row of a capital letter inside the cell
    baseline: int  # last row of a capital letter inside the cell
    x_top: int  # first row of a lower-case "o" inside the cell

    def width(self, text: str) -> int:
        return len(text) * self.cw

    def cols(self, width: int) -> int:
        return max(1, width // self.cw)


def _ink_top(font: ImageFont.ImageFont, ch: str, cw: int, lh: int) -> tuple[int, int]:
    probe = Image.new("1", (cw, lh), OFF)
    ImageDraw.Draw(probe).text((0, 0), ch, font=font, fill=ON)
    box = probe.getbbox() or (0, 0, cw, lh)
    return box[1], box[3] - 1


def face(font: ImageFont.ImageFont) -> Face:
    left, top, right, bottom = font.getbbox("M")
    cw, lh = right - left, bottom - top
    if font.getlength("i") != cw:
        raise ValueError("layouts assume a monospaced font")
    cap_top, baseline = _ink_top(font, "H", cw, lh)
    x_top, _ = _ink_top(font, "o", cw, lh)
    return Face(font=font, cw=cw, lh=lh, cap_top=cap_top, baseline=baseline, x_top=x_top)


@functools.cache
def fonts() -> tuple[Face, Face, Face]:
    """(bold, body, small): Pillow's own bold 6x11 and the bundled public-domain misc-fixed."""
    here = Path(__file__).with_name("screen_fonts")
    bold = face(ImageFont.load_default_imagefont())
    body = face(ImageFont.load(str(here / "6x10.pil")))
    small = face(ImageFont.load(str(here / "5x8.pil")))
    return bold, body, small


def draw_icon(draw: ImageDraw.ImageDraw, ch: str, x: int, y: int, f: Face) -> None:
    """One of ICONS in the cell at (x, y)."""
    top, bottom = y + f.cap_top, y + f.baseline
    if ch == ELLIPSIS:
        for dx in (0, 2, 4):
            draw.point((x + dx, bottom), fill=ON)
    elif ch == PLAY:
        height = bottom - top + 1
        odd = height | 1  # an odd height gives the triangle a one-pixel tip
        _triangle(draw, x, bottom - odd + 1, odd)
    elif ch == PAUSE:
        h = bottom - top
        draw.rectangle((x, top, x + 1, top + h), fill=ON)
        draw.rectangle((x + 3, top, x + 4, top + h), fill=ON)
    elif ch == LIGATURE_OE:
        bitmap(draw, x, y + f.x_top, ligature_oe(bottom - (y + f.x_top) + 1))
    elif ch == LIGATURE_OE_CAPITAL:
        bitmap(draw, x, top, ligature_oe_capital(bottom - top + 1))


def ligature_oe(height: int) -> tuple[str, ...]:
    """ "œ" five pixels wide: an "o" and an "e" sharing their middle stroke."""
    middle = ["#.#.#"] * max(0, height - 4)
    return (".#.#.", *middle, "#.###", "#.#..", ".#.##")


def ligature_oe_capital(height: int) -> tuple[str, ...]:
    """ "Œ" five pixels wide: the bowl of an "O" and the arms of an "E", the bar at mid-height."""
    rows = ["#.#.."] * max(0, height - 2)
    if rows:
        rows[(len(rows) - 1) // 2] = "#.###"
    return (".####", *rows, ".####")


def _triangle(draw: ImageDraw.ImageDraw, x: int, top: int, height: int) -> None:
    """A right-pointing play triangle `height` pixels tall, drawn row by row to stay crisp."""
    half = (height - 1) / 2
    for row in range(height):
        reach = int(half - abs(row - half))
        draw.line((x, top + row, x + reach, top + row), fill=ON)


SPEAKER = (
    ".......#.....",
    "......##.....",
    "....####.....",
    "########..#..",
    "########...#.",
    "########...#.",
    "########...#.",
    "########..#..",
    "....####.....",
    "......##.....",
    ".......#.....",
)
WARNING = (
    ".......#.......",
    "......###......",
    "......###......",
    ".....#####.....",
    ".....##.##.....",
    "....###.###....",
    "....###.###....",
    "...####.####...",
    "...####.####...",
    "..###########..",
    "..#####.#####..",
    ".#############.",
    "###############",
)


def bitmap(draw: ImageDraw.ImageDraw, x: int, y: int, rows: tuple[str, ...]) -> None:
    """Pixel-art icons, drawn point by point: no polygon rasteriser that may change with Pillow."""
    for dy, row in enumerate(rows):
        for dx, pixel in enumerate(row):
            if pixel == "#":
                draw.point((x + dx, y + dy), fill=ON)
