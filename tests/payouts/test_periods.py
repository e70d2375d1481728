"""Closing periods: signed statements, late plays as the next period's adjustments."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tenant.payouts import (
    PayoutInputError,
    PayoutInputs,
    PayoutRules,
    PayoutSignatureError,
    SignedStatement,
    Subscription,
    close_period,
    preview_period,
    verify_statement,
)
from tests.payouts.example import (
    DECEMBER,
    HOLDERS,
    NOVEMBER,
    TRACKS,
    example_inputs,
    example_plays,
    play,
)

KEY = Ed25519PrivateKey.generate()
CUTOFF = NOVEMBER.end_ms + 86_400_000  # closed one day after the month ended


def december_inputs(rules: PayoutRules | None = None) -> PayoutInputs:
    subs = (Subscription("alcazar", frozenset({"alcazar"}), DECEMBER.name, 3_000, "EUR"),)
    return PayoutInputs(DECEMBER, rules or PayoutRules(), subs, HOLDERS, TRACKS)


def test_a_closed_statement_is_signed_and_verifies_with_the_tenants_public_key() -> None:
    statement, signed = close_period(example_inputs(), example_plays(), CUTOFF, KEY)
    content = verify_statement(signed, KEY.public_key())
    assert content["plays_sha256"] == statement.plays_sha256
    assert content["cutoff_ms"] == CUTOFF
    assert content["rules"] == PayoutRules().as_dict()


def test_a_changed_byte_or_another_key_fails_verification() -> None:
    _, signed = close_period(example_inputs(), example_plays(), CUTOFF, KEY)
    forged = SignedStatement(signed.body.replace(b'"amount_minor":10000', b'"amount_minor":10001'),
                             signed.signature)  # fmt: skip
    assert forged.body != signed.body
    with pytest.raises(PayoutSignatureError, match="signature: does not match"):
        verify_statement(forged, KEY.public_key())
    with pytest.raises(PayoutSignatureError):
        verify_statement(signed, Ed25519PrivateKey.generate().public_key())


def test_the_plays_hash_changes_with_any_play_and_not_with_their_order() -> None:
    plays = example_plays()
    base = preview_period(example_inputs(), plays)
    assert preview_period(example_inputs(), list(reversed(plays))).plays_sha256 == base.plays_sha256
    changed = [dataclasses.replace(plays[0], listened_ms=plays[0].listened_ms + 1), *plays[1:]]
    assert preview_period(example_inputs(), changed).plays_sha256 != base.plays_sha256


def test_a_late_play_lands_in_the_next_period_as_an_adjustment_under_its_rules() -> None:
    plays = example_plays()
    november, signed = close_period(example_inputs(), plays, CUTOFF, KEY)
    late = play("alcazar", "t3", played_ms=NOVEMBER.end_ms - 1_000, received_ms=CUTOFF + 1)
    regular = play("alcazar", "t1", played_ms=DECEMBER.start_ms + 5_000)
    everything = [*plays, late, regular]

    again, _ = close_period(example_inputs(), everything, CUTOFF, KEY)
    assert again.canonical_bytes() == signed.body == november.canonical_bytes()

    december, _ = close_period(december_inputs(), everything, DECEMBER.end_ms, KEY, november)
    kinds = {(line.track_id, line.kind): line.amount_minor for line in december.lines}
    assert kinds == {("t3", "adjustment"): 1_500, ("t1", "regular"): 1_500}
    assert (december.plays.regular, december.plays.adjustments) == (1, 1)
    body = json.loads(december.canonical_bytes())
    assert body["previous_cutoff_ms"] == CUTOFF


def test_the_first_period_closed_takes_no_adjustments() -> None:
    before = play("alcazar", "t1", played_ms=NOVEMBER.start_ms - 1, received_ms=CUTOFF - 1)
    statement = preview_period(example_inputs(), [before])
    assert statement.plays.selected == 0 and statement.given.outside == 1


def test_closing_a_period_again_or_after_a_preview_is_refused() -> None:
    november, _ = close_period(example_inputs(), example_plays(), CUTOFF, KEY)
    with pytest.raises(PayoutInputError, match="period 2026-11: overlaps closed period 2026-11"):
        close_period(example_inputs(), example_plays(), CUTOFF + 1, KEY, november)
    preview = preview_period(example_inputs(), example_plays())
    with pytest.raises(PayoutInputError, match="is a preview, not closed"):
        close_period(december_inputs(), [], DECEMBER.end_ms, KEY, preview)


def test_a_cutoff_before_the_previous_one_is_refused() -> None:
    november, _ = close_period(example_inputs(), example_plays(), CUTOFF, KEY)
    with pytest.raises(PayoutInputError, match=r"cutoff .* is not after the previous period's"):
        close_period(december_inputs(), [], CUTOFF - 1, KEY, november)


def test_listened_time_split_follows_the_minutes_listened() -> None:
    rules = PayoutRules(split="listened")
    plays = [play("alcazar", "t1", listened_ms=90_000), play("alcazar", "t3", listened_ms=30_000)]
    statement = preview_period(example_inputs(rules), plays)
    paid = {line.holder_id: line.amount_minor for line in statement.lines}
    assert paid == {"ana": 7_500, "soleil": 2_500}
