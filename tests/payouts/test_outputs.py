"""The CSV and PDF a rights holder or a library receives, read back as they would be."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zlib
from pathlib import Path

from tenant.payouts import CountedPlay, PayoutInputs, Statement, Track, compute_statement
from tenant.payouts.export_csv import holder_csv, library_csv, safe_cell
from tenant.payouts.export_pdf import holder_pdf
from tests.payouts.example import (
    HOLDERS,
    NOVEMBER,
    SUBSCRIPTIONS,
    example_inputs,
    example_plays,
    play,
)


def example_statement() -> Statement:
    return compute_statement(example_inputs(), example_plays(), cutoff_ms=None)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "a French spreadsheet needs the BOM to read UTF-8"
    assert b"\r\n" in data
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def pdf_text(data: bytes, tmp_path: Path) -> tuple[str, int]:
    """The PDF's text and page count, by poppler's pdftotext if installed, else by reading the
    compressed content streams of fpdf2's built-in font text."""
    if shutil.which("pdftotext") and shutil.which("pdfinfo"):
        path = tmp_path / "statement.pdf"
        path.write_bytes(data)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        ).stdout
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
        pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]
        return text, pages
    texts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        found = re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content)
        texts += [re.sub(rb"\\(.)", rb"\1", m).decode("latin-1") for m in found]
    return "\n".join(texts), len(re.findall(rb"/Type\s*/Page\b", data))


def test_a_holders_csv_opens_in_a_french_spreadsheet() -> None:
    rows = read_csv(holder_csv(example_statement(), "ana"))
    assert rows[0][:6] == ["period", "library", "kind", "ISRC", "artist", "title"]
    assert rows[1:] == [
        ["2026-11", "alcazar", "regular", "FRX202600001", "Ana Lumière", "Marée",
         "3", "180", "60,00", "30,00", "EUR"],
        ["2026-11", "nord", "regular", "FRX202600001", "Ana Lumière", "Marée",
         "1", "60", "5,00", "10,00", "EUR"],
    ]  # fmt: skip


def test_a_cell_that_looks_like_a_formula_is_neutralised() -> None:
    rows = read_csv(holder_csv(example_statement(), "soleil"))
    titles = {row[5] for row in rows[1:]}
    assert titles == {"Nuit", "'=Tube"}
    assert [safe_cell(t) for t in ("-1", "+1", "@x", "a=b")] == ["'-1", "'+1", "'@x", "a=b"]


def test_a_librarys_csv_shows_what_its_amount_paid_for_by_rights_holder() -> None:
    rows = read_csv(library_csv(example_statement(), "alcazar"))
    assert [(r[2], r[3], r[5], r[6]) for r in rows[1:]] == [
        ("Ana Lumière", "3", "60,00", "30,00"),
        ("Duo Brume", "1", "12,00", "6,00"),
        ("Label Soleil", "1", "8,00", "4,00"),
        ("(no known rights holder: held)", "1", "20,00", "10,00"),
    ]


def test_a_library_without_counted_plays_shows_its_money_as_held() -> None:
    statement = compute_statement(example_inputs(), [play("alcazar", "t1")], cutoff_ms=None)
    rows = read_csv(library_csv(statement, "nord"))
    assert rows[1:] == [
        ["2026-11", "nord", "(no counted play: held)", "0", "0", "50,00", "", "EUR"]
    ]


def test_no_output_holds_payment_details() -> None:
    statement = example_statement()
    blobs = [holder_csv(statement, "ana"), library_csv(statement, "alcazar")]
    blobs.append(statement.canonical_bytes())
    assert all(b"SECRET" not in blob for blob in blobs)


def test_a_holders_pdf_is_one_page_with_totals_and_the_pro_rata_comparison(
    tmp_path: Path,
) -> None:
    data = holder_pdf(example_statement(), "ana")
    assert data.startswith(b"%PDF-")
    text, pages = pdf_text(data, tmp_path)
    assert pages == 1
    assert "Payout statement 2026-11" in text
    assert "Ana Lumière" in text
    assert "Total: 65,00 EUR (pro-rata would pay 40,00 EUR)" in text
    assert "FRX202600001" in text


def test_a_long_statement_still_fits_one_page_and_points_to_the_csv(tmp_path: Path) -> None:
    tracks = tuple(
        Track(
            f"x{i:03d}",
            f"FRX2026{i:05d}",
            "Ana",
            f"Chanson n°{i} — œuvre",
            example_inputs().tracks[0].shares,
        )
        for i in range(120)
    )
    inputs = PayoutInputs(NOVEMBER, example_inputs().rules, SUBSCRIPTIONS, HOLDERS, tracks)
    plays: list[CountedPlay] = [play("alcazar", t.id) for t in tracks]
    data = holder_pdf(compute_statement(inputs, plays, cutoff_ms=None), "ana")
    text, pages = pdf_text(data, tmp_path)
    assert pages == 1
    assert re.search(r"\d+ more lines: see the CSV", text)
    assert "Chanson n°0 - oeuvre" in text  # "œ" and "—" are not in the built-in font
