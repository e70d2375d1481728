"""A statement computed from the store's summary (GROUP BY in the database, the plays hash over
the text the database writes for each play: tenant/store/payouts.py) has the same bytes as the
in-memory engine's over every play, on SQLite and PostgreSQL, for any plays, rules, cutoffs
and subscriptions (hypothesis), bad plays included."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from tenant.payouts import (
    CountedPlay,
    PayoutInputError,
    PayoutInputs,
    PayoutRules,
    Subscription,
    Track,
    compute_statement,
)
from tenant.payouts.compute import compute_from_summary
from tenant.store import TenantStore
from tenant.store.schema import plays as plays_table
from tests.payouts.test_properties import DEC, HOLDERS, NOV, plays, rules, subscriptions, tracks

_slugs = itertools.count()


def keep(store: TenantStore, slug: str, play_list: list[CountedPlay]) -> None:
    rows = [
        {"tenant": slug, "event_id": p.event_id, "device_id": "jk-a", "site": p.site,
         "seq": n, "firmware_version": "1", "boot_id": "b", "playlist_id": "p",
         "playlist_revision": "r", "track_id": p.track_id, "started_by": p.started_by,
         "started_wall_ms": p.played_ms, "clock_synced": True, "started_uptime_ms": 0,
         "listened_ms": p.listened_ms, "end_reason": p.end_reason,
         "received_ms": p.received_ms, "played_ms": p.played_ms}
        for n, p in enumerate(play_list)
    ]  # fmt: skip
    if rows:
        with store.engine.begin() as conn:
            conn.execute(insert(plays_table), rows)


def both(
    store: TenantStore, inputs: PayoutInputs, play_list: list[CountedPlay],
    cutoff: int | None, previous: int | None,
) -> tuple[bytes, bytes]:  # fmt: skip
    slug = f"sum-{next(_slugs)}"
    keep(store, slug, play_list)
    keep(store, f"other-{slug}", play_list[:3])  # another tenant's plays never count
    engine = compute_statement(inputs, play_list, cutoff_ms=cutoff, previous_cutoff_ms=previous)
    summary = store.payout_play_summary(slug, inputs.period, inputs.rules, cutoff, previous)
    stored = compute_from_summary(inputs, summary, cutoff_ms=cutoff, previous_cutoff_ms=previous)
    assert stored.plays == engine.plays
    return stored.canonical_bytes(), engine.canonical_bytes()


FIXTURE = [HealthCheck.function_scoped_fixture]  # one store, a new tenant per example


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE)
@given(
    tracks(), subscriptions(DEC), plays(DEC, DEC.end_ms + 86_400_000), rules,
    st.integers(DEC.start_ms - 86_400_000, DEC.start_ms), st.integers(0, 2 * 86_400_000),
    st.booleans(),
)  # fmt: skip
def test_the_summary_gives_the_engines_statement_byte_for_byte(
    store: TenantStore, track_list: tuple[Track, ...], subs: tuple[Subscription, ...],
    play_list: list[CountedPlay], period_rules: PayoutRules, previous: int, after_end: int,
    preview: bool,
) -> None:  # fmt: skip
    inputs = PayoutInputs(DEC, period_rules, subs, HOLDERS, track_list)
    cutoff = None if preview else DEC.end_ms + after_end

    stored, engine = both(store, inputs, play_list, cutoff, previous)

    assert stored == engine


def test_the_first_bad_play_is_named_as_the_engine_names_it(store: TenantStore) -> None:
    good = CountedPlay("e1", "s0", "t0", "visitor", "finished", 60_000, NOV.start_ms, NOV.start_ms)
    bad = [
        CountedPlay("e3", "s0", "t0", "robot", "finished", 60_000, NOV.start_ms, NOV.start_ms),
        CountedPlay("e2", "s1", "t1", "visitor", "melted", 60_000, NOV.start_ms, NOV.start_ms),
    ]
    inputs = PayoutInputs(NOV, PayoutRules(), (), HOLDERS, ())
    with pytest.raises(PayoutInputError) as engine:
        compute_statement(inputs, [good, *bad], cutoff_ms=None)
    keep(store, "bad", [good, *bad])
    summary = store.payout_play_summary("bad", NOV, PayoutRules(), None, None)

    with pytest.raises(PayoutInputError) as stored:
        compute_from_summary(inputs, summary, cutoff_ms=None)

    assert str(stored.value) == str(engine.value)
    assert "play e2: end_reason: 'melted'" in str(stored.value)


def test_the_hash_takes_event_ids_in_pythons_order_whatever_their_characters(
    store: TenantStore,
) -> None:
    """The store reads plays in its payout index's order (byte-wise on PostgreSQL, BINARY on
    SQLite), never sorted by a language's collation: upper case before lower, accents and
    characters beyond the BMP by code point, `-` not ignored; ids and sites of many-byte
    characters are length-prefixed by characters, as Python's len()."""
    ids = ["b-2", "B-1", "a", "Z", "é", "f", "e\u0301", "😀", "\uffff", "a-", "a0", "-a", "ß"]
    assert sorted(ids) != sorted(ids, key=str.casefold)  # an order a collation would change
    play_list = [
        CountedPlay(event_id, "sité-😀", "t0", "visitor", "finished", 60_000, NOV.start_ms + n,
                    NOV.start_ms + n)
        for n, event_id in enumerate(ids)
    ]  # fmt: skip
    inputs = PayoutInputs(NOV, PayoutRules(), (), HOLDERS, ())

    stored, engine = both(store, inputs, play_list, None, None)

    assert stored == engine
