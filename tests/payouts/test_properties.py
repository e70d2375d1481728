"""Properties of statements for any plays, amounts and shares (hypothesis)."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tenant.payouts import (
    CountedPlay,
    PayoutInputs,
    PayoutRules,
    Period,
    RightsHolder,
    Share,
    Statement,
    Subscription,
    Track,
    compute_statement,
)
from tenant.payouts.allocate import largest_remainder

NOV = Period.month(2026, 11)
DEC = Period.month(2026, 12)
HOLDERS = tuple(RightsHolder(f"h{i}", f"Holder {i}") for i in range(4))
SITES = [f"s{i}" for i in range(6)]  # s5 belongs to no library
TRACK_IDS = [f"t{i}" for i in range(6)]  # t5 is in no catalogue


@st.composite
def tracks(draw: st.DrawFn) -> tuple[Track, ...]:
    out = []
    for track_id in TRACK_IDS[:5]:
        holders = draw(st.lists(st.sampled_from(HOLDERS), unique=True, max_size=3))
        cuts = (
            sorted(
                draw(
                    st.lists(
                        st.integers(1, 9_999),
                        unique=True,
                        min_size=len(holders) - 1,
                        max_size=len(holders) - 1,
                    )
                )
            )
            if holders
            else []
        )
        bounds = [0, *cuts, 10_000]
        shares = tuple(Share(h.id, bounds[i + 1] - bounds[i]) for i, h in enumerate(holders))
        out.append(Track(track_id, f"ISRC{track_id}", "Artist", "Title", shares))
    return tuple(out)


@st.composite
def subscriptions(draw: st.DrawFn, period: Period) -> tuple[Subscription, ...]:
    owners = draw(st.lists(st.sampled_from(["L0", "L1", "L2"]), min_size=5, max_size=5))
    currency = {"L0": "EUR", "L1": "EUR", "L2": draw(st.sampled_from(["EUR", "JPY"]))}
    subs = []
    for library in sorted(set(owners)):
        sites = frozenset(s for s, o in zip(SITES, owners, strict=False) if o == library)
        amount = draw(st.integers(0, 10_000_000))
        subs.append(Subscription(library, sites, period.name, amount, currency[library]))
    return tuple(subs)


@st.composite
def plays(draw: st.DrawFn, period: Period, received_max: int) -> list[CountedPlay]:
    n = draw(st.integers(0, 40))
    out = []
    for i in range(n):
        played = draw(st.integers(period.start_ms - 86_400_000, period.end_ms - 1))
        out.append(
            CountedPlay(
                event_id=f"e{draw(st.integers(0, 10**9)):010d}-{i}",
                site=draw(st.sampled_from(SITES)),
                track_id=draw(st.sampled_from(TRACK_IDS)),
                started_by=draw(st.sampled_from(["visitor", "visitor", "autoplay", "schedule"])),
                end_reason=draw(st.sampled_from(["finished", "skipped", "error", "interrupted"])),
                listened_ms=draw(st.integers(0, 120_000)),
                played_ms=played,
                received_ms=draw(st.integers(played, max(played, received_max))),
            )
        )
    return out


rules = st.builds(
    PayoutRules,
    counted_stream_ms=st.integers(0, 60_000),
    counted_started_by=st.sets(st.sampled_from(["visitor", "autoplay", "schedule"])).map(frozenset),
    count_error_ended=st.booleans(),
    split=st.sampled_from(["plays", "listened"]),
)


def check_sums(statement: Statement, subs: tuple[Subscription, ...]) -> None:
    for line in statement.lines:
        assert line.amount_minor >= 0 and line.pro_rata_minor >= 0
    for sub in subs:
        total = next(t for t in statement.libraries if t.library == sub.library)
        paid = sum(line.amount_minor for line in statement.lines if line.library == sub.library)
        assert paid + total.unallocated_minor == sub.amount_minor
        assert total.unallocated_minor in (0, sub.amount_minor)
    for pool in statement.pools:
        amount = sum(s.amount_minor for s in subs if s.currency == pool.currency)
        pro_rata = sum(ln.pro_rata_minor for ln in statement.lines if ln.currency == pool.currency)
        assert pool.amount_minor == amount
        assert pro_rata + pool.unallocated_minor == amount


@settings(max_examples=150, deadline=None)
@given(tracks(), subscriptions(NOV), plays(NOV, NOV.end_ms), rules, st.randoms())
def test_payouts_are_non_negative_exact_and_count_each_play_once(
    catalogue: tuple[Track, ...],
    subs: tuple[Subscription, ...],
    given_plays: list[CountedPlay],
    period_rules: PayoutRules,
    rnd: random.Random,
) -> None:
    inputs = PayoutInputs(NOV, period_rules, subs, HOLDERS, catalogue)
    statement = compute_statement(inputs, given_plays, cutoff_ms=None)
    check_sums(statement, subs)

    repeated = given_plays + rnd.sample(given_plays, k=len(given_plays) // 2)
    rnd.shuffle(repeated)
    again = compute_statement(inputs, repeated, cutoff_ms=None)
    assert again.canonical_bytes() == statement.canonical_bytes()
    assert again.given.duplicates == len(repeated) - len(given_plays)

    site_library = {site: sub.library for sub in subs for site in sub.sites}
    expected = Counter(
        (site_library[p.site], p.track_id)
        for p in given_plays
        if NOV.contains(p.played_ms) and period_rules.counts(p) and p.site in site_library
    )
    shown = {(ln.library, ln.track_id): ln.counted_plays for ln in statement.lines}
    assert shown == dict(expected)
    assert statement.plays.counted == sum(expected.values()) + sum(
        n for _, n in statement.unsubscribed_sites
    )


@settings(max_examples=100, deadline=None)
@given(tracks(), subscriptions(NOV), plays(NOV, NOV.end_ms + 86_400_000), st.data())
def test_a_closed_statement_never_changes_and_late_plays_are_next_period_adjustments(
    catalogue: tuple[Track, ...],
    subs: tuple[Subscription, ...],
    given_plays: list[CountedPlay],
    data: st.DataObject,
) -> None:
    cutoff = NOV.end_ms + 3_600_000
    inputs = PayoutInputs(NOV, PayoutRules(), subs, HOLDERS, catalogue)
    closed = compute_statement(inputs, given_plays, cutoff_ms=cutoff, previous_cutoff_ms=None)
    frozen = closed.canonical_bytes()

    late = data.draw(plays(NOV, NOV.end_ms + 86_400_000))
    late = [
        CountedPlay(f"late-{p.event_id}", p.site, p.track_id, p.started_by, p.end_reason,
                    p.listened_ms, p.played_ms, max(p.received_ms, cutoff + 1))
        for p in late
    ]  # fmt: skip
    recomputed = compute_statement(inputs, given_plays + late, cutoff_ms=cutoff)
    assert recomputed.canonical_bytes() == frozen

    dec_subs = tuple(
        Subscription(s.library, s.sites, DEC.name, s.amount_minor, s.currency) for s in subs
    )
    december = compute_statement(
        PayoutInputs(DEC, PayoutRules(), dec_subs, HOLDERS, catalogue),
        given_plays + late,
        cutoff_ms=DEC.end_ms,
        previous_cutoff_ms=cutoff,
    )
    arrived_late = [p for p in given_plays + late if cutoff < p.received_ms <= DEC.end_ms]
    assert late == [p for p in arrived_late if p.event_id.startswith("late-")]
    assert december.plays.adjustments == len(arrived_late)
    assert december.plays.regular == 0
    assert all(line.kind == "adjustment" for line in december.lines)
    check_sums(december, dec_subs)


@given(
    st.integers(0, 10**12),
    st.dictionaries(
        st.tuples(st.text(max_size=3), st.text(max_size=3)), st.integers(0, 10**9), min_size=1
    ).filter(lambda w: sum(w.values()) > 0),
)
def test_largest_remainder_is_exact_and_within_one_cent_of_the_share(
    amount: int, weights: dict[tuple[str, str], int]
) -> None:
    parts = largest_remainder(amount, weights)
    total = sum(weights.values())
    assert sum(parts.values()) == amount
    for key, weight in weights.items():
        assert amount * weight // total <= parts[key] <= amount * weight // total + 1
