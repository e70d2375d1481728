"""A closed statement read back from its stored bytes (to write its CSV and PDF later) is the
same statement, byte for byte, for any plays, shares and subscriptions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant.payouts import CountedPlay, PayoutInputs, PayoutRules, Subscription, Track
from tenant.payouts.compute import compute_statement
from tenant.payouts.statement import statement_from_bytes
from tests.payouts.example import example_inputs, example_plays
from tests.payouts.test_properties import HOLDERS, NOV, plays, subscriptions, tracks


def test_the_worked_example_reads_back_from_its_bytes() -> None:
    closed = compute_statement(example_inputs(), example_plays(), cutoff_ms=NOV.end_ms)
    body = closed.canonical_bytes()

    again = statement_from_bytes(body)

    assert again == closed
    assert again.canonical_bytes() == body


def test_bytes_of_another_format_are_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        statement_from_bytes(b'{"format": "something-else/1"}')


@settings(max_examples=30, deadline=None)
@given(tracks(), subscriptions(NOV), plays(NOV, NOV.end_ms), st.sampled_from(["plays", "listened"]))
def test_any_statement_reads_back_byte_for_byte(
    track_list: tuple[Track, ...], subs: tuple[Subscription, ...], play_list: list[CountedPlay],
    split: str,
) -> None:  # fmt: skip
    rules = PayoutRules(split=split)  # type: ignore[arg-type]
    inputs = PayoutInputs(NOV, rules, subs, HOLDERS, track_list)
    statement = compute_statement(inputs, play_list, cutoff_ms=NOV.end_ms)
    body = statement.canonical_bytes()

    assert statement_from_bytes(body).canonical_bytes() == body
