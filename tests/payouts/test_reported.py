"""Money and plays that cannot be paid are reported, never silently dropped."""

from __future__ import annotations

from tenant.payouts import UNATTRIBUTED, compute_statement
from tests.payouts.example import example_inputs, play


def test_a_track_missing_from_the_catalogue_is_held_and_listed_as_unattributed() -> None:
    plays = [play("alcazar", "t1"), play("alcazar", "not-in-catalogue")]
    statement = compute_statement(example_inputs(), plays, cutoff_ms=None)
    held = [line for line in statement.lines if line.holder_id == UNATTRIBUTED]
    assert [(line.track_id, line.amount_minor) for line in held] == [("not-in-catalogue", 5_000)]
    assert statement.unattributed_tracks == ("not-in-catalogue",)
    alcazar = next(t for t in statement.libraries if t.library == "alcazar")
    assert (alcazar.unattributed_minor, alcazar.unallocated_minor) == (5_000, 0)


def test_counted_plays_at_a_site_no_library_pays_for_are_listed() -> None:
    plays = [play("annexe", "t1"), play("annexe", "t2"), play("alcazar", "t1")]
    statement = compute_statement(example_inputs(), plays, cutoff_ms=None)
    assert statement.unsubscribed_sites == (("annexe", 2),)
    assert statement.plays.counted == 3
    nord = next(t for t in statement.libraries if t.library == "nord")
    assert nord.unallocated_minor == 5_000
    assert [pool.unallocated_minor for pool in statement.pools] == [0]
