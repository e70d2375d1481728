"""Statements as CSV that a French spreadsheet opens as it is.

UTF-8 with a byte order mark (so accents survive), `;` between cells, a decimal comma in
amounts and no thousands separator (so they are numbers), CRLF line ends. A text cell that
starts with = + - @ (or a tab or carriage return) gets a leading apostrophe, so a title like
`=HYPERLINK(...)` is shown, never run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from tenant.payouts.currencies import format_amount
from tenant.payouts.statement import UNATTRIBUTED, Statement, TrackInfo

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

HOLDER_COLUMNS = (
    "period",
    "library",
    "kind",
    "ISRC",
    "artist",
    "title",
    "counted plays",
    "listened (s)",
    "amount",
    "pro-rata amount",
    "currency",
)
LIBRARY_COLUMNS = (
    "period",
    "library",
    "rights holder",
    "counted plays",
    "listened (s)",
    "amount",
    "pro-rata amount",
    "currency",
)


def safe_cell(text: str) -> str:
    """`text`, with a leading apostrophe if a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def holder_csv(statement: Statement, holder_id: str) -> bytes:
    """One rights holder's lines: per library and per track, with the pro-rata comparison."""
    rows: list[Sequence[str]] = []
    index = statement.track_index()
    for line in statement.lines:
        if line.holder_id != holder_id:
            continue
        track = index.get(line.track_id) or TrackInfo(line.track_id, "", "", "")
        rows.append(
            (
                statement.period.name,
                line.library,
                line.kind,
                track.isrc,
                track.artist,
                track.title,
                str(line.counted_plays),
                str(line.listened_ms // 1000),
                format_amount(line.amount_minor, line.currency),
                format_amount(line.pro_rata_minor, line.currency),
                line.currency,
            )
        )
    return _csv(HOLDER_COLUMNS, rows)


def library_csv(statement: Statement, library: str) -> bytes:
    """What one library's amount paid for, by rights holder (held money on its own rows)."""
    per_holder: dict[str, list[int]] = {}
    currency = ""
    for line in statement.lines:
        if line.library != library:
            continue
        currency = line.currency
        figures = per_holder.setdefault(line.holder_id, [0, 0, 0, 0])
        figures[0] += line.counted_plays
        figures[1] += line.listened_ms
        figures[2] += line.amount_minor
        figures[3] += line.pro_rata_minor
    rows: list[Sequence[str]] = []
    order = sorted(per_holder, key=lambda h: (h == UNATTRIBUTED, statement.holder_name(h), h))
    for holder in order:
        plays, listened, amount, pro_rata = per_holder[holder]
        rows.append(
            (
                statement.period.name,
                library,
                statement.holder_name(holder),
                str(plays),
                str(listened // 1000),
                format_amount(amount, currency),
                format_amount(pro_rata, currency),
                currency,
            )
        )
    for total in statement.libraries:
        if total.library == library and total.unallocated_minor:
            rows.append(
                (
                    statement.period.name,
                    library,
                    "(no counted play: held)",
                    "0",
                    "0",
                    format_amount(total.unallocated_minor, total.currency),
                    "",
                    total.currency,
                )
            )
    return _csv(LIBRARY_COLUMNS, rows)


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue().encode("utf-8-sig")
