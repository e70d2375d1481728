"""A rights holder's statement as a one-page PDF (fpdf2), the summary a label reads first.

The page holds the period, the rules, the totals per currency, the libraries and then the
tracks by amount, as many as fit; the rest is counted ("12 more lines: see the CSV"), whose
lines are complete. The built-in Helvetica font covers Latin-1: other characters are written
as their plain forms (œ as oe, a dash as -) or without their accents where that makes them
Latin-1, else as "?" (the CSV keeps them all).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from tenant.payouts.currencies import format_amount
from tenant.payouts.statement import Line, Statement, TrackInfo

ROW_MM = 5.0
PAGE_ROWS = 46  # rows of ROW_MM that fit under the heading on an A4 page


_PLAIN = str.maketrans(
    {"œ": "oe", "Œ": "OE", "—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
     "…": "...", "€": "EUR"}
)  # fmt: skip


def latin1(text: str) -> str:
    """`text` in the characters the PDF's built-in font has."""
    out = []
    for char in text.translate(_PLAIN):
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            bare = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(bare or "?")
    return "".join(out)


def holder_pdf(statement: Statement, holder_id: str, made_ms: int | None = None) -> bytes:
    """One page: per library and per track, library-centric amount beside pro-rata."""
    lines = [line for line in statement.lines if line.holder_id == holder_id]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(datetime.fromtimestamp((made_ms or 0) / 1000, UTC))
    pdf.set_title(latin1(f"Payout statement {statement.period.name}"))
    pdf.add_page()
    pdf.set_margins(15, 15, 15)
    pdf.set_font("Helvetica", "B", 14)
    _row(pdf, [(180, f"Payout statement {statement.period.name}")], 8)
    pdf.set_font("Helvetica", "", 10)
    _row(pdf, [(180, f"Rights holder: {statement.holder_name(holder_id)} ({holder_id})")])
    rules = statement.rules
    who = ", ".join(sorted(rules.counted_started_by))
    pdf.set_font("Helvetica", "", 9)
    _row(
        pdf,
        [
            (
                180,
                f"Rules: a play counts from {rules.counted_stream_ms // 1000} s, started by {who}, "
                f"{'with' if rules.count_error_ended else 'without'} plays ended by an error;",
            )
        ],
    )
    split = "listened time" if rules.split == "listened" else "counted plays"
    _row(pdf, [(180, f"each library's amount split by {split} at its own kiosks.")])
    _row(pdf, [(180, f"Plays hash (sha256): {statement.plays_sha256}")])
    totals: dict[str, list[int]] = {}
    for line in lines:
        figures = totals.setdefault(line.currency, [0, 0])
        figures[0] += line.amount_minor
        figures[1] += line.pro_rata_minor
    for currency, (amount, pro_rata) in sorted(totals.items()):
        pdf.set_font("Helvetica", "B", 11)
        _row(
            pdf,
            [
                (
                    180,
                    f"Total: {format_amount(amount, currency)} {currency} "
                    f"(pro-rata would pay {format_amount(pro_rata, currency)} {currency})",
                )
            ],
            7,
        )
    budget = PAGE_ROWS
    budget -= _libraries(pdf, lines, budget // 2)
    _tracks(pdf, statement, lines, budget)
    return bytes(pdf.output())


def _libraries(pdf: FPDF, lines: list[Line], room: int) -> int:
    per_library: dict[tuple[str, str], list[int]] = {}
    for line in lines:
        figures = per_library.setdefault((line.library, line.currency), [0, 0, 0])
        figures[0] += line.counted_plays
        figures[1] += line.amount_minor
        figures[2] += line.pro_rata_minor
    order = sorted(per_library.items(), key=lambda item: (-item[1][1], item[0]))
    pdf.set_font("Helvetica", "B", 9)
    _row(pdf, [(90, "Library"), (30, "Counted plays"), (30, "Amount"), (30, "Pro-rata")])
    pdf.set_font("Helvetica", "", 9)
    shown = order[: max(room - 2, 0)]
    for (library, currency), (plays, amount, pro_rata) in shown:
        _row(
            pdf,
            [
                (90, library),
                (30, str(plays)),
                (30, f"{format_amount(amount, currency)} {currency}"),
                (30, f"{format_amount(pro_rata, currency)} {currency}"),
            ],
        )
    if len(order) > len(shown):
        _row(pdf, [(180, f"{len(order) - len(shown)} more libraries: see the CSV")])
    return len(shown) + 2


def _tracks(pdf: FPDF, statement: Statement, lines: list[Line], room: int) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 9)
    _row(
        pdf,
        [(40, "Library"), (28, "ISRC"), (62, "Artist - title"), (14, "Plays"), (36, "Amount")],
    )
    pdf.set_font("Helvetica", "", 8)
    order = sorted(lines, key=lambda line: (-line.amount_minor, line.library, line.track_id))
    shown = order[: max(room - 2, 0)]
    index = statement.track_index()
    for line in shown:
        track = index.get(line.track_id) or TrackInfo(line.track_id, "", "", "")
        adjust = " (adjustment)" if line.kind == "adjustment" else ""
        _row(
            pdf,
            [
                (40, line.library),
                (28, track.isrc),
                (62, f"{track.artist} - {track.title}{adjust}"),
                (14, str(line.counted_plays)),
                (36, f"{format_amount(line.amount_minor, line.currency)} {line.currency}"),
            ],
        )
    if len(order) > len(shown):
        _row(pdf, [(180, f"{len(order) - len(shown)} more lines: see the CSV")])


def _row(pdf: FPDF, cells: list[tuple[float, str]], height: float = ROW_MM) -> None:
    for width, text in cells[:-1]:
        pdf.cell(width, height, _fit(pdf, latin1(text), width))
    width, text = cells[-1]
    pdf.cell(width, height, _fit(pdf, latin1(text), width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` cut with an ellipsis mark so it stays inside its column."""
    if pdf.get_string_width(text) <= width - 1:
        return text
    while text and pdf.get_string_width(text + "...") > width - 1:
        text = text[:-1]
    return text + "..."
