"""The screen languages a kiosk speaks: one list for the kiosk's catalogue, its configuration
files (jukebox.toml, kiosk.toml) and the tenant's desired state, so all three agree."""

from __future__ import annotations

from typing import Literal, get_args

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"  # what kiosks spoke before there was a choice
