"""Draw each kiosk screen as a 1-bit Pillow image.

Pure functions of (screen, size, elapsed_s): no luma, no clock, no I/O besides loading the
bundled bitmap fonts once. That is what lets the OLED, the emulator, the control socket and the
golden-image tests share one drawing, identical on every machine.

Text is made safe first (`clean`: Latin-1 plus a few drawn glyphs, other letters folded) and
wrapped by contract/screen_text.py, which also lays out the attract screen: the tenant's
console previews a playlist note with that very code. Text
that does not fit is word-wrapped and ended with an ellipsis, scrolled (the now-playing title)
or paged (attract note, technician rows); `is_animated` and `next_change_s` tell the adapter
when a screen changes with time, so it redraws only then.

Size: one drawing function per screen kind, each short; kept in one module so every screen
shares the same fonts, margins and text helpers at a glance (over 400 lines on purpose).
"""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw

from contract.screen_text import (
    ATTRACT_PAGE_S,
    attract_pages,
    clean,
    draw_attract,
    ellipsize,
    wrap,
)
from contract.screen_text import centered as _centered
from contract.screen_text import draw_text as _text
from contract.screen_text import page_index as _page
from device.display.glyphs import (
    OFF,
    ON,
    PAUSE,
    PLAY,
    SPEAKER,
    WARNING,
    Face,
    bitmap,
    fonts,
)
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
from device.display.texts import texts_for

PRODUCT_NAME = "Jukebox"
SIZE = (128, 64)

MARQUEE_PAUSE_S = 2.0  # the title rests at its start, so it can be read before it moves
MARQUEE_SPEED_PX_S = 16.0  # 2 px per frame at 8 fps: smooth on a slow I2C panel
MARQUEE_GAP_CELLS = 4
TECHNICIAN_PAGE_S = 4.0
IDENTIFY_FLASH_S = 0.5  # light and dark halves: visible across a room, slow enough to read


# ---------------------------------------------------------------------------- text helpers


def _big_text(image: Image.Image, xy: tuple[int, int], text: str, face: Face, scale: int) -> None:
    """Draw text `scale` times larger by blowing up its pixels: headline digits and the logo."""
    if not text:
        return
    small = Image.new("1", (face.width(text), face.lh), OFF)
    _text(ImageDraw.Draw(small), (0, 0), text, face)
    big = small.resize((small.width * scale, small.height * scale), Image.Resampling.NEAREST)
    image.paste(ON, xy, big)


def _clock(ms: int) -> str:
    seconds = max(0, ms) // 1000
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{min(hours, 99)}:{minutes:02}:{secs:02}"
    return f"{minutes}:{secs:02}"


def _marquee_offset(period_px: int, elapsed_s: float) -> int:
    """Pixels the title has moved: rest for MARQUEE_PAUSE_S, then one full loop, repeat."""
    cycle = MARQUEE_PAUSE_S + period_px / MARQUEE_SPEED_PX_S
    t = max(0.0, elapsed_s) % cycle
    if t < MARQUEE_PAUSE_S:
        return 0
    return min(period_px, int((t - MARQUEE_PAUSE_S) * MARQUEE_SPEED_PX_S))


# --------------------------------------------------------------------------------- screens


def _boot(image: Image.Image, s: BootScreen) -> None:
    bold, body, small = fonts()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    logo = ellipsize(PRODUCT_NAME, bold, w // 2)
    _big_text(image, (max(0, (w - 2 * bold.width(logo)) // 2), 4), logo, bold, 2)
    version = ellipsize(clean(f"v{s.version}" if s.version else ""), small, w)
    _text(draw, (_centered(w, version, small), 30), version, small)
    message = ellipsize(clean(s.message or texts_for(s.language).starting), body, w)
    _text(draw, (_centered(w, message, body), h - body.lh - 6), message, body)


def _now_playing(image: Image.Image, s: NowPlayingScreen, elapsed_s: float) -> None:
    bold, body, small = fonts()
    w, h = image.size
    draw = ImageDraw.Draw(image)

    playlist = ellipsize(clean(s.playlist), small, w)
    _text(draw, (0, 0), playlist, small)

    title = clean(s.title)
    if bold.width(title) <= w:
        _text(draw, (0, 11), title, bold)
    else:
        period = bold.width(title) + MARQUEE_GAP_CELLS * bold.cw
        x = -_marquee_offset(period, elapsed_s)
        _text(draw, (x, 11), title, bold)
        _text(draw, (x + period, 11), title, bold)

    artist = ellipsize(clean(s.artist), body, w)
    _text(draw, (0, 24), artist, body)

    bar_top = 40
    draw.rectangle((0, bar_top, w - 1, bar_top + 6), outline=ON)
    known = s.duration_ms is not None and s.duration_ms > 0
    if known and s.duration_ms:
        fraction = min(1.0, max(0.0, s.elapsed_ms / s.duration_ms))
        fill = int((w - 4) * fraction)
        if fill > 0:
            draw.rectangle((2, bar_top + 2, 1 + fill, bar_top + 4), fill=ON)
    row = h - small.lh - 2
    _text(draw, (0, row), _clock(s.elapsed_ms), small)
    total = _clock(s.duration_ms) if known and s.duration_ms else "--:--"
    _text(draw, (w - small.width(total), row), total, small)

    if not s.paused:
        _text(draw, (_centered(w, PLAY, bold), row + small.cap_top - bold.cap_top), PLAY, bold)
    else:
        # Inverted, with its capitals level with the times: the one thing that stands out.
        label = f"{PAUSE} {clean(texts_for(s.language).paused)}"
        x = _centered(w, label, bold)
        y = row + small.cap_top - bold.cap_top
        caps_top, caps_bottom = y + bold.cap_top, y + bold.baseline
        draw.rectangle((x - 4, caps_top - 3, x + bold.width(label) + 2, caps_bottom + 3), fill=ON)
        badge = Image.new("1", (bold.width(label), bold.lh), OFF)
        _text(ImageDraw.Draw(badge), (0, 0), label, bold)
        image.paste(OFF, (x, y), badge)


def _volume(image: Image.Image, s: VolumeScreen) -> None:
    bold, _body, small = fonts()
    w = image.width
    draw = ImageDraw.Draw(image)

    bitmap(draw, 0, 4, SPEAKER)
    words = texts_for(s.language)
    _text(draw, (17, 5), ellipsize(clean(words.volume), bold, w - 17 - 2 * bold.cw * 3), bold)
    value = str(s.volume)
    _big_text(image, (w - bold.width(value) * 2, 0), value, bold, 2)

    low, high = s.minimum, s.maximum
    level = min(max(s.volume, low), high) if high >= low else s.volume
    fraction = 1.0 if high <= low else (level - low) / (high - low)
    bar_top, bar_bottom = 27, 44
    draw.rectangle((0, bar_top, w - 1, bar_bottom), outline=ON)
    fill = int((w - 6) * fraction)
    if fill > 0:
        draw.rectangle((3, bar_top + 3, 2 + fill, bar_bottom - 3), fill=ON)

    row = bar_bottom + 4
    for label, x, reached in (
        (words.volume_min, 0, s.volume <= low),
        (words.volume_max, w - small.width(words.volume_max) - 2, s.volume >= high),
    ):
        if reached:
            draw.rectangle((x, row - 1, x + small.width(label) + 1, row + small.lh), fill=ON)
            mark = Image.new("1", (small.width(label), small.lh), OFF)
            _text(ImageDraw.Draw(mark), (0, 0), label, small)
            image.paste(OFF, (x + 1, row), mark)
        else:
            _text(draw, (x + 1, row), label, small)


def _attract_pages(s: AttractScreen, size: tuple[int, int]) -> tuple[list[str], list[list[str]]]:
    return attract_pages(s.playlist, s.note, size)


def _attract(image: Image.Image, s: AttractScreen, elapsed_s: float) -> None:
    draw_attract(image, s.playlist, s.note, texts_for(s.language).invite, s.offset, elapsed_s)


def _error(image: Image.Image, s: ErrorScreen) -> None:
    bold, body, _small = fonts()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    bitmap(draw, 0, 1, WARNING)
    title = ellipsize(clean(s.title), bold, w - 19)
    _text(draw, (19, 2), title, bold)
    top = 17
    for i, line in enumerate(wrap(clean(s.detail, multiline=True), body, w, (h - top) // body.lh)):
        _text(draw, (0, top + i * body.lh), line, body)


def _claim(image: Image.Image, s: ClaimScreen) -> None:
    """The claim code as large as it fits: an admin reads it from across a reading room."""
    bold, body, small = fonts()
    w, _h = image.size
    draw = ImageDraw.Draw(image)
    tenant = ellipsize(clean(s.tenant) or "Jukebox", small, w)
    _text(draw, (_centered(w, tenant, small), 0), tenant, small)
    words = texts_for(s.language)
    prompt = ellipsize(clean(words.claim_prompt), body, w)
    _text(draw, (_centered(w, prompt, body), 11), prompt, body)
    code = clean(s.code)
    scale = 2 if bold.width(code) * 2 <= w else 1
    x = max(0, (w - bold.width(code) * scale) // 2)
    _big_text(image, (x, 24), code, bold, scale)
    hint = ellipsize(clean(s.site_hint or words.claim_hint), small, w)
    _text(draw, (_centered(w, hint, small), 56), hint, small)


def _revoked(image: Image.Image, s: RevokedScreen) -> None:
    bold, body, small = fonts()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    bitmap(draw, 0, 1, WARNING)
    words = texts_for(s.language)
    _text(draw, (19, 2), ellipsize(clean(words.withdrawn), bold, w - 19), bold)
    tenant = clean(s.tenant) or words.the_network
    detail = clean(words.withdrawn_detail.format(tenant=tenant))
    lines = wrap(detail, body, w, 3 if s.claim_code else 4)
    for i, line in enumerate(lines):
        _text(draw, (0, 17 + i * body.lh), line, body)
    if s.claim_code:
        code = ellipsize(clean(words.reclaim.format(code=s.claim_code)), small, w)
        _text(draw, (_centered(w, code, small), h - small.lh), code, small)


def _stick(image: Image.Image, s: StickScreen) -> None:
    """A stick's outcome: a warning sign when it was refused, one line per thing it did."""
    bold, _body, small = fonts()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    left = 0
    if not s.ok:
        bitmap(draw, 0, 1, WARNING)
        left = 19
    _text(draw, (left, 2), ellipsize(clean(s.title), bold, w - left), bold)
    top = 17
    rows = (h - top) // small.lh
    lines = [ln for raw in s.lines for ln in wrap(clean(raw), small, w)]
    for i, line in enumerate(lines[:rows]):
        _text(draw, (0, top + i * small.lh), line, small)


def _identify(image: Image.Image, s: IdentifyScreen, elapsed_s: float) -> None:
    """The kiosk's name as large as it fits, its id below; every other half-second inverted."""
    bold, _body, small = fonts()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    prompt = ellipsize(clean(texts_for(s.language).this_kiosk_is), small, w)
    _text(draw, (_centered(w, prompt, small), 1), prompt, small)
    name = clean(s.name) or "jukebox"
    if bold.width(name) * 2 <= w:
        _big_text(image, (_centered(w, name, bold) - bold.width(name) // 2, 16), name, bold, 2)
    else:
        for i, line in enumerate(wrap(name, bold, w, max_lines=2)):
            _text(draw, (_centered(w, line, bold), 16 + i * bold.lh), line, bold)
    device_id = ellipsize(clean(s.device_id), small, w)
    _text(draw, (_centered(w, device_id, small), h - small.lh - 1), device_id, small)
    if int(max(0.0, elapsed_s) // IDENTIFY_FLASH_S) % 2:
        image.paste(image.point(lambda v: 255 - v))


@functools.lru_cache(maxsize=8)
def _technician_pages(rows: tuple[tuple[str, str], ...], size: tuple[int, int]) -> list[list[str]]:
    """Lay rows out as lines "label   value"; a value too long goes on its own lines."""
    _bold, _body, small = fonts()
    w, h = size
    cols = small.cols(w)
    per_page = max(1, (h - small.lh - 2) // (small.lh + 1))
    blocks: list[list[str]] = []
    for raw_label, raw_value in rows:
        label, value = clean(str(raw_label)), clean(str(raw_value))
        if len(label) + 1 + len(value) <= cols:
            blocks.append([label + " " * (cols - len(label) - len(value)) + value])
        else:
            values = wrap(value, small, w - small.cw, max_lines=per_page - 1)
            blocks.append([ellipsize(label, small, w), *(" " + v for v in values)])
    pages: list[list[str]] = [[]]
    for block in blocks:
        if pages[-1] and len(pages[-1]) + len(block) > per_page:
            pages.append([])
        pages[-1].extend(block[:per_page])
    return pages


def _technician(image: Image.Image, s: TechnicianScreen, elapsed_s: float) -> None:
    _bold, _body, small = fonts()
    w, _h = image.size
    draw = ImageDraw.Draw(image)
    pages = _technician_pages(s.rows, image.size)
    index = _page(len(pages), TECHNICIAN_PAGE_S, elapsed_s)

    draw.rectangle((0, 0, w - 1, small.lh), fill=ON)
    header = Image.new("1", (w, small.lh), OFF)
    header_draw = ImageDraw.Draw(header)
    words = texts_for(s.language)
    _text(header_draw, (1, 0), ellipsize(clean(words.technician), small, w // 2), small)
    if len(pages) > 1:
        counter = f"{index + 1}/{len(pages)}"
        _text(header_draw, (w - small.width(counter) - 1, 0), counter, small)
    image.paste(OFF, (0, 1), header)

    lines = pages[index] if s.rows else [ellipsize(clean(words.no_information), small, w)]
    for i, line in enumerate(lines):
        _text(draw, (0, small.lh + 3 + i * (small.lh + 1)), line, small)


def _test_pattern(image: Image.Image) -> None:
    """A 2-pixel checkerboard inside a one-pixel frame: a dead row or column breaks it."""
    w, h = image.size
    draw = ImageDraw.Draw(image)
    for y in range(2, h - 2):
        for x in range(2, w - 2):
            if (x // 2 + y // 2) % 2:
                draw.point((x, y), fill=ON)
    draw.rectangle((0, 0, w - 1, h - 1), outline=ON)


def _self_test(image: Image.Image, s: SelfTestScreen) -> None:
    """Header, the tone's outcome, then the checks in two columns, a tick for each one seen."""
    _bold, _body, small = fonts()
    w, h = image.size
    words = texts_for(s.language)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, w - 1, small.lh), fill=ON)
    header = Image.new("1", (w, small.lh), OFF)
    _text(ImageDraw.Draw(header), (1, 0), ellipsize(clean(words.self_test), small, w), small)
    image.paste(OFF, (0, 1), header)
    outcome = {"playing": words.tone_playing, "ok": words.tone_ok, "failed": words.tone_failed}
    tone = clean(f"{words.tone}: {outcome[s.tone]}")
    _text(draw, (0, small.lh + 3), ellipsize(tone, small, w), small)
    if s.step == "tone":
        return
    half = w // 2
    top = 2 * small.lh + 5
    rows = max(1, (h - top - small.lh - 1) // small.lh)
    for i, (name, seen) in enumerate(s.checks[: 2 * rows]):
        x, y = (i // rows) * half, top + (i % rows) * small.lh
        box = (x, y + small.cap_top, x + 4, y + small.baseline)
        draw.rectangle(box, outline=ON, fill=ON if seen else OFF)
        label = ellipsize(clean(name), small, half - 7)
        _text(draw, (x + 7, y), label, small)
    footer = words.self_test_done if s.step == "done" else words.press_each
    footer = ellipsize(clean(footer), small, w)
    _text(draw, (_centered(w, footer, small), h - small.lh), footer, small)


# ------------------------------------------------------------------------------ public API


def render(screen: Screen, size: tuple[int, int] = SIZE, elapsed_s: float = 0.0) -> Image.Image:
    """Draw `screen` as a mode "1" image; `elapsed_s` (since it was first shown) drives motion.

    Never raises for odd text: empty, huge, emoji or control characters all draw something.
    """
    image = Image.new("1", size, OFF)
    match screen:
        case BootScreen():
            _boot(image, screen)
        case NowPlayingScreen():
            _now_playing(image, screen, elapsed_s)
        case VolumeScreen():
            _volume(image, screen)
        case AttractScreen():
            _attract(image, screen, elapsed_s)
        case ErrorScreen():
            _error(image, screen)
        case TechnicianScreen():
            _technician(image, screen, elapsed_s)
        case ClaimScreen():
            _claim(image, screen)
        case RevokedScreen():
            _revoked(image, screen)
        case StickScreen():
            _stick(image, screen)
        case IdentifyScreen():
            _identify(image, screen, elapsed_s)
        case TestPatternScreen():
            _test_pattern(image)
        case SelfTestScreen():
            _self_test(image, screen)
    return image


def next_change_s(
    screen: Screen, size: tuple[int, int] = SIZE, elapsed_s: float = 0.0
) -> float | None:
    """The elapsed time from which the picture may differ from the one at `elapsed_s`.

    None: never (a static screen, drawn once). `elapsed_s` itself: it is moving right now
    (a scrolling title), redraw at the frame rate. Later: nothing moves until then (the
    marquee's rest at its start, the next page of a note), so the adapter can sleep.
    """
    elapsed_s = max(0.0, elapsed_s)
    match screen:
        case NowPlayingScreen():
            bold = fonts()[0]
            title_px = bold.width(clean(screen.title))
            if title_px <= size[0]:
                return None
            period_px = title_px + MARQUEE_GAP_CELLS * bold.cw
            cycle = MARQUEE_PAUSE_S + period_px / MARQUEE_SPEED_PX_S
            into = elapsed_s % cycle
            return elapsed_s + (MARQUEE_PAUSE_S - into) if into < MARQUEE_PAUSE_S else elapsed_s
        case AttractScreen():
            pages = len(_attract_pages(screen, size)[1])
            return _next_page_s(pages, ATTRACT_PAGE_S, elapsed_s)
        case TechnicianScreen():
            pages = len(_technician_pages(screen.rows, size))
            return _next_page_s(pages, TECHNICIAN_PAGE_S, elapsed_s)
        case IdentifyScreen():
            return _next_page_s(2, IDENTIFY_FLASH_S, elapsed_s)
        case _:
            return None


def _next_page_s(pages: int, period_s: float, elapsed_s: float) -> float | None:
    return (elapsed_s // period_s + 1) * period_s if pages > 1 else None


def is_animated(screen: Screen, size: tuple[int, int] = SIZE) -> bool:
    """Whether the picture changes with elapsed time, i.e. needs redrawing while it is shown.

    True for a now-playing title too wide to fit (marquee), an attract note longer than one
    page, and technician rows longer than one page. Everything else is drawn once.
    """
    return next_change_s(screen, size, 0.0) is not None


def animation_key(screen: Screen) -> object:
    """What must change for a new screen to restart the animation of the one it replaces.

    The core sends a new now-playing screen at every progress tick; the title must keep
    scrolling through those, and an attract note keep paging while the picture moves.
    """
    match screen:
        case NowPlayingScreen():
            return (NowPlayingScreen, screen.playlist, screen.title)
        case AttractScreen():
            return (AttractScreen, screen.playlist, screen.note)
        case TechnicianScreen():
            return TechnicianScreen  # a changing value must not send the pages back to one
        case _:
            return screen
