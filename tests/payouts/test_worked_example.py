"""docs/payouts.md's worked example and rounding example, computed and compared with its tables."""

from __future__ import annotations

from pathlib import Path

from tenant.payouts import UNATTRIBUTED, compute_statement
from tenant.payouts.allocate import largest_remainder
from tenant.payouts.currencies import format_amount
from tests.payouts.example import example_inputs, example_plays

DOC = Path(__file__).resolve().parents[2] / "docs" / "payouts.md"


def doc_table(marker: str) -> list[list[str]]:
    """The rows of the table between `<!-- marker -->` and `<!-- end -->`, header left out."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"<!-- {marker} -->")
    block = text[start : text.index("<!-- end -->", start)].splitlines()[1:]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block]
    assert rows and rows[1][0].startswith("---")
    return rows[2:]


def test_the_worked_example_pays_what_the_doc_says() -> None:
    statement = compute_statement(example_inputs(), example_plays(), cutoff_ms=None)
    computed: dict[tuple[str, str], list[int]] = {}
    for line in statement.lines:
        holder = "(held)" if line.holder_id == UNATTRIBUTED else line.holder_id
        figures = computed.setdefault((line.library, holder), [0, 0, 0])
        figures[0] += line.counted_plays
        figures[1] += line.amount_minor
        figures[2] += line.pro_rata_minor
    documented = {
        (library, holder): [plays, centric, pro_rata]
        for library, holder, plays, centric, pro_rata in doc_table("worked-example")
    }
    assert len(documented) == 6
    as_text = {
        key: [str(plays), format_amount(centric, "EUR"), format_amount(pro_rata, "EUR")]
        for key, (plays, centric, pro_rata) in computed.items()
    }
    assert as_text == documented
    assert statement.unattributed_tracks == ("t4",)
    assert statement.plays.counted == 15 and statement.plays.not_counted == 3


def test_the_rounding_example_gives_the_cent_to_the_documented_line() -> None:
    rows = doc_table("rounding-example")
    weights = {(holder, track, "regular"): int(weight) for holder, track, weight, *_ in rows}
    parts = largest_remainder(1000, weights)
    total = sum(weights.values())
    for holder, track, weight, floor, remainder, paid in rows:
        assert divmod(1000 * int(weight), total) == (int(floor), int(remainder))
        assert parts[(holder, track, "regular")] == int(paid)
    assert sum(parts.values()) == 1000
