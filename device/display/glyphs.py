"""The screens' fonts and glyphs: they live in contract/screen_glyphs.py, shared with the
tenant's preview of a playlist note; the display's modules import them from here."""

from contract.screen_glyphs import (
    ELLIPSIS,
    ICONS,
    LIGATURE_OE,
    LIGATURE_OE_CAPITAL,
    OFF,
    ON,
    PAUSE,
    PLAY,
    SPEAKER,
    WARNING,
    Face,
    bitmap,
    draw_icon,
    face,
    fonts,
    ligature_oe,
    ligature_oe_capital,
)

__all__ = [
    "ELLIPSIS", "ICONS", "LIGATURE_OE", "LIGATURE_OE_CAPITAL", "OFF", "ON", "PAUSE", "PLAY",
    "SPEAKER", "WARNING", "Face", "bitmap", "draw_icon", "face", "fonts", "ligature_oe",
    "ligature_oe_capital",
]  # fmt: skip
