"""Bad input: an error naming the item and the problem, and no statement."""

from __future__ import annotations

import dataclasses

import pytest

from tenant.payouts import (
    PayoutInputError,
    PayoutInputs,
    PayoutRules,
    Period,
    RightsHolder,
    Share,
    Subscription,
    Track,
    check_next_period,
    compute_statement,
)
from tests.payouts.example import NOVEMBER, example_inputs, example_plays, play


def test_shares_that_do_not_add_up_to_100_percent_name_the_track() -> None:
    with pytest.raises(PayoutInputError, match=r"track t9: shares add up to 99\.50 %, not 100 %"):
        Track("t9", shares=(Share("ana", 5_000), Share("brume", 4_950)))


def test_a_share_above_100_percent_is_refused() -> None:
    with pytest.raises(PayoutInputError, match=r"track t9: shares add up to 100\.01 %"):
        Track("t9", shares=(Share("ana", 10_001),))


def test_a_zero_share_is_refused() -> None:
    with pytest.raises(PayoutInputError, match="track t9: share of brume: must be more than 0 %"):
        Track("t9", shares=(Share("ana", 10_000), Share("brume", 0)))


def test_a_negative_amount_names_the_subscription() -> None:
    with pytest.raises(PayoutInputError, match=r"subscription nord \(2026-11\): amount: -5 is neg"):
        Subscription("nord", frozenset({"nord-1"}), "2026-11", -5, "EUR")


def test_an_unknown_currency_names_the_code() -> None:
    with pytest.raises(PayoutInputError, match="currency: 'EUX' is not an ISO 4217 currency code"):
        Subscription("nord", frozenset({"nord-1"}), "2026-11", 500, "EUX")


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(PayoutInputError, match="amount: must be an integer in minor units"):
        Subscription("nord", frozenset({"nord-1"}), "2026-11", 5.0, "EUR")  # type: ignore[arg-type]


def test_a_period_that_overlaps_a_closed_one_is_refused() -> None:
    half = Period("late-november", NOVEMBER.start_ms + 86_400_000, NOVEMBER.end_ms + 86_400_000)
    with pytest.raises(
        PayoutInputError, match="period late-november: overlaps closed period 2026-11"
    ):
        check_next_period([NOVEMBER], half)
    with pytest.raises(PayoutInputError, match="period 2026-11: overlaps closed period 2026-11"):
        check_next_period([NOVEMBER], NOVEMBER)


def test_a_gap_after_the_last_closed_period_is_refused() -> None:
    with pytest.raises(PayoutInputError, match=r"period 2027-01: starts at .* no gap"):
        check_next_period([NOVEMBER], Period.month(2027, 1))
    check_next_period([NOVEMBER], Period.month(2026, 12))


def test_a_share_of_an_unknown_rights_holder_is_refused() -> None:
    inputs = dataclasses.replace(
        example_inputs(), tracks=(Track("t9", shares=(Share("nobody", 10_000),)),)
    )
    with pytest.raises(PayoutInputError, match="track t9: share of nobody: no such rights holder"):
        compute_statement(inputs, example_plays(), cutoff_ms=None)


def test_a_site_in_two_libraries_is_refused() -> None:
    subs = (
        Subscription("a", frozenset({"s1"}), "2026-11", 100, "EUR"),
        Subscription("b", frozenset({"s1", "s2"}), "2026-11", 100, "EUR"),
    )
    inputs = PayoutInputs(NOVEMBER, PayoutRules(), subs, (RightsHolder("h", "H"),), ())
    with pytest.raises(PayoutInputError, match="subscription b: site s1 already belongs to a"):
        compute_statement(inputs, [], cutoff_ms=None)


def test_a_subscription_of_another_period_is_refused() -> None:
    subs = (Subscription("a", frozenset({"s1"}), "2026-10", 100, "EUR"),)
    inputs = PayoutInputs(NOVEMBER, PayoutRules(), subs, (), ())
    with pytest.raises(
        PayoutInputError, match="subscription a: is for period 2026-10, not 2026-11"
    ):
        compute_statement(inputs, [], cutoff_ms=None)


def test_two_different_plays_with_one_event_id_are_refused() -> None:
    plays = [play("alcazar", "t1", event_id="same"), play("alcazar", "t2", event_id="same")]
    with pytest.raises(PayoutInputError, match="event same: two different plays"):
        compute_statement(example_inputs(), plays, cutoff_ms=None)


def test_presorted_plays_out_of_order_are_refused() -> None:
    plays = [play("alcazar", "t1", event_id="b"), play("alcazar", "t1", event_id="a")]
    with pytest.raises(PayoutInputError, match="event a comes after b: not in event id order"):
        compute_statement(example_inputs(), plays, cutoff_ms=None, presorted=True)


def test_a_play_with_an_unknown_start_names_the_event() -> None:
    plays = [play("alcazar", "t1", event_id="e1", started_by="robot")]
    with pytest.raises(PayoutInputError, match="play e1: started_by: 'robot' is not one of"):
        compute_statement(example_inputs(), plays, cutoff_ms=None)


def test_unknown_rules_are_refused() -> None:
    with pytest.raises(PayoutInputError, match="rules: counted_started_by: unknown robot"):
        PayoutRules(counted_started_by=frozenset({"robot"}))
    with pytest.raises(PayoutInputError, match="rules: split: 'time' is not one of"):
        PayoutRules(split="time")  # type: ignore[arg-type]


def test_payment_details_stay_out_of_the_repr() -> None:
    holder = RightsHolder("ana", "Ana", "ana@example.org", payment_details="FR76 SECRET")
    assert "SECRET" not in repr(holder) and "SECRET" not in str(holder)
