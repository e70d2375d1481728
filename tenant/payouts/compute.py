"""Plays and subscriptions of one period into a statement: library-centric, with pro-rata beside.

Which plays a statement takes (its window), for a period P closed at `cutoff_ms` after the
previous period was closed at `previous_cutoff_ms`:

- regular: played in P and received at or before `cutoff_ms`;
- adjustment: played before P starts and received after `previous_cutoff_ms` (so after the
  period it was played in had closed), at or before `cutoff_ms`.

Closing periods in order with increasing cutoffs, every play lands in exactly one statement,
and a closed statement never changes: late plays are the next one's adjustments, judged by the
next period's rules. The first closed period (no previous cutoff) takes no adjustments. A
preview is the same computation with `cutoff_ms=None` (everything received so far).

Money: each library's amount is split, by `largest_remainder`, over (rights holder, track,
kind) in proportion to the track's counted plays (or listened ms, per the rules) at that
library's sites times the holder's share. A track with no known rights holder keeps its part
on an explicit unattributed line (holder id ""), held until its holder is known; a library
whose kiosks had no counted play keeps its whole amount as `unallocated_minor`. Pro-rata pools
every amount of one currency and splits it over all counted plays in that currency.

Size: a little over 400 lines on purpose: the window, the tally and the split are one
computation whose rounding rules read best together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from tenant.payouts.allocate import largest_remainder
from tenant.payouts.model import (
    END_REASONS,
    FULL_SHARE_BP,
    STARTED_BY,
    CountedPlay,
    PayoutInputError,
    PayoutRules,
    Period,
    RightsHolder,
    Subscription,
    Track,
)
from tenant.payouts.statement import (
    UNATTRIBUTED,
    InputCounts,
    LibraryTotal,
    Line,
    LineKind,
    PlayCounts,
    Pool,
    Statement,
    TrackInfo,
)

REGULAR: LineKind = "regular"
ADJUSTMENT: LineKind = "adjustment"


@dataclass(frozen=True, slots=True)
class PayoutInputs:
    """Everything but the plays: what a store reads for a period before computing it."""

    period: Period
    rules: PayoutRules
    subscriptions: tuple[Subscription, ...]
    holders: tuple[RightsHolder, ...]
    tracks: tuple[Track, ...]


def compute_statement(
    inputs: PayoutInputs,
    plays: Iterable[CountedPlay],
    *,
    cutoff_ms: int | None,
    previous_cutoff_ms: int | None = None,
    presorted: bool = False,
) -> Statement:
    """The statement of `inputs.period` from `plays` (any order, unless `presorted`: then they
    must come in ascending event id order, as a store streams them, and are never held in
    memory at once). Raises PayoutInputError, naming the item, on any bad input."""
    site_library, tracks = _check_inputs(inputs)
    _check_cutoffs(inputs, cutoff_ms, previous_cutoff_ms)
    ordered = plays if presorted else sorted(plays, key=_event_id)
    tally = _tally(inputs, ordered, site_library, cutoff_ms, previous_cutoff_ms)
    return _split(inputs, tracks, tally, cutoff_ms, previous_cutoff_ms)


class PlayGroup(NamedTuple):
    """The counted plays of a statement's window at one site, of one track, of one kind: what
    a database computes with GROUP BY instead of handing over every play (a named tuple: a
    month has hundreds of thousands, built straight from the database's rows)."""

    site: str
    track_id: str
    kind: LineKind
    plays: int
    listened_ms: int


@dataclass(frozen=True, slots=True)
class PlaySummary:
    """A statement's window summed up by a store (tenant/store/payouts.py): the groups of its
    counted plays, how many plays it holds of each kind, the sha256 of its plays (the same as
    `_tally`'s, computed by the store over the same canonical text) and the first play in
    event id order that is not valid, if any. A store's plays have unique event ids (the
    primary key), so there are no duplicates to drop."""

    groups: tuple[PlayGroup, ...]
    regular: int
    adjustments: int
    plays_sha256: str
    first_bad: CountedPlay | None = None


def compute_from_summary(
    inputs: PayoutInputs,
    summary: PlaySummary,
    *,
    cutoff_ms: int | None,
    previous_cutoff_ms: int | None = None,
) -> Statement:
    """The statement `compute_statement` gives for the plays `summary` sums up (same bytes):
    the store's way for months of millions of plays, which never travel to Python one by one."""
    site_library, tracks = _check_inputs(inputs)
    _check_cutoffs(inputs, cutoff_ms, previous_cutoff_ms)
    if summary.first_bad is not None:
        raise PayoutInputError(f"play {summary.first_bad.event_id}: {summary.first_bad.problem()}")
    counted: dict[tuple[str, str, LineKind], list[int]] = {}
    unsubscribed: dict[str, int] = {}
    n_counted = 0
    for site, track_id, kind, n, listened in summary.groups:
        n_counted += n
        library = site_library.get(site)
        if library is None:
            unsubscribed[site] = unsubscribed.get(site, 0) + n
            continue
        entry = counted.setdefault((library, track_id, kind), [0, 0])
        entry[0] += n
        entry[1] += listened
    selected = summary.regular + summary.adjustments
    counts = PlayCounts(
        selected, summary.regular, summary.adjustments, n_counted, selected - n_counted
    )
    tally = _Tally(counted, unsubscribed, summary.plays_sha256, counts, InputCounts(selected, 0, 0))
    return _split(inputs, tracks, tally, cutoff_ms, previous_cutoff_ms)


def _check_cutoffs(
    inputs: PayoutInputs, cutoff_ms: int | None, previous_cutoff_ms: int | None
) -> None:
    if cutoff_ms is not None and previous_cutoff_ms is not None and cutoff_ms <= previous_cutoff_ms:
        raise PayoutInputError(
            f"period {inputs.period.name}: cutoff {cutoff_ms} is not after the previous "
            f"period's cutoff {previous_cutoff_ms}"
        )


def _event_id(play: CountedPlay) -> str:
    return play.event_id


def _check_inputs(inputs: PayoutInputs) -> tuple[dict[str, str], dict[str, Track]]:
    period = inputs.period.name
    holder_ids = {holder.id for holder in inputs.holders}
    if len(holder_ids) != len(inputs.holders):
        raise PayoutInputError("rights holders: an id is used twice")
    tracks: dict[str, Track] = {}
    for track in inputs.tracks:
        if track.id in tracks:
            raise PayoutInputError(f"track {track.id}: listed twice")
        for share in track.shares:
            if share.holder_id not in holder_ids:
                raise PayoutInputError(
                    f"track {track.id}: share of {share.holder_id}: no such rights holder"
                )
        tracks[track.id] = track
    site_library: dict[str, str] = {}
    libraries: set[str] = set()
    for sub in inputs.subscriptions:
        if sub.period != period:
            raise PayoutInputError(
                f"subscription {sub.library}: is for period {sub.period}, not {period}"
            )
        if sub.library in libraries:
            raise PayoutInputError(f"subscription {sub.library}: two subscriptions for {period}")
        libraries.add(sub.library)
        for site in sub.sites:
            if site in site_library:
                raise PayoutInputError(
                    f"subscription {sub.library}: site {site} already belongs to "
                    f"{site_library[site]} in {period}"
                )
            site_library[site] = sub.library
    return site_library, tracks


@dataclass
class _Tally:
    # (library, track, kind) -> [counted plays, listened ms]
    counted: dict[tuple[str, str, LineKind], list[int]]
    unsubscribed: dict[str, int]
    digest: str
    counts: PlayCounts
    given: InputCounts


def _tally(
    inputs: PayoutInputs,
    plays: Iterable[CountedPlay],
    site_library: dict[str, str],
    cutoff_ms: int | None,
    previous_cutoff_ms: int | None,
) -> _Tally:
    """One pass: dedupe by event id, select the window, hash it, count by the rules.

    The hash is the sha256 of the UTF-8 of each selected play, in event id order, as
    `len:event_id len:site len:track_id started_by:end_reason:listened:played:received;`
    (without the spaces): length-prefixed, so unambiguous whatever characters the ids hold.
    """
    rules = inputs.rules
    start, end = inputs.period.start_ms, inputs.period.end_ms
    cutoff = cutoff_ms if cutoff_ms is not None else float("inf")
    previous = previous_cutoff_ms
    threshold = rules.counted_stream_ms
    started_by = rules.counted_started_by
    count_errors = rules.count_error_ended
    hasher = hashlib.sha256()
    counted: dict[tuple[str, str, LineKind], list[int]] = {}
    unsubscribed: dict[str, int] = {}
    given = duplicates = outside = regular = adjustments = n_counted = 0
    last_id: str | None = None
    last: CountedPlay | None = None
    pending: list[str] = []  # canonical play texts not hashed yet (hashed in chunks)
    for play in plays:
        given += 1
        event_id = play.event_id
        if last_id is not None and event_id <= last_id:
            if event_id != last_id:
                raise PayoutInputError(
                    f"plays: event {event_id} comes after {last_id}: not in event id order "
                    "(pass presorted=False)"
                )
            if play != last:
                raise PayoutInputError(
                    f"plays: event {event_id}: two different plays with the same event id"
                )
            duplicates += 1
            continue
        last_id, last = event_id, play
        played, received = play.played_ms, play.received_ms
        if received > cutoff:
            outside += 1
            continue
        if start <= played < end:
            kind = REGULAR
            regular += 1
        elif played < start and previous is not None and received > previous:
            kind = ADJUSTMENT
            adjustments += 1
        else:
            outside += 1
            continue
        listened, start_kind, end_reason = play.listened_ms, play.started_by, play.end_reason
        if start_kind not in STARTED_BY or end_reason not in END_REASONS or listened < 0:
            raise PayoutInputError(f"play {event_id}: {play.problem()}")
        e, s, t = event_id, play.site, play.track_id
        pending.append(
            f"{len(e)}:{e}{len(s)}:{s}{len(t)}:{t}{start_kind}:{end_reason}:"
            f"{listened}:{played}:{received};"
        )
        if len(pending) >= 4096:
            hasher.update("".join(pending).encode())
            pending.clear()
        if not (
            listened >= threshold
            and start_kind in started_by
            and (count_errors or end_reason != "error")
        ):
            continue
        n_counted += 1
        library = site_library.get(play.site)
        if library is None:
            unsubscribed[play.site] = unsubscribed.get(play.site, 0) + 1
            continue
        key = (library, t, kind)
        entry = counted.get(key)
        if entry is None:
            counted[key] = [1, listened]
        else:
            entry[0] += 1
            entry[1] += listened
    hasher.update("".join(pending).encode())
    selected = regular + adjustments
    counts = PlayCounts(selected, regular, adjustments, n_counted, selected - n_counted)
    return _Tally(
        counted, unsubscribed, hasher.hexdigest(), counts, InputCounts(given, duplicates, outside)
    )


def _split(
    inputs: PayoutInputs,
    tracks: dict[str, Track],
    tally: _Tally,
    cutoff_ms: int | None,
    previous_cutoff_ms: int | None,
) -> Statement:
    by_listened = inputs.rules.split == "listened"
    shares_of = _shares(tracks, {track_id for _, track_id, _ in tally.counted})
    per_library: dict[str, list[tuple[str, LineKind, int, int]]] = {}
    for (library, track_id, kind), (n, ms) in tally.counted.items():
        per_library.setdefault(library, []).append((track_id, kind, n, ms))
    currency_of = {sub.library: sub.currency for sub in inputs.subscriptions}

    # Library-centric: each library's amount over its own plays.
    amounts: dict[tuple[str, str, str, LineKind], int] = {}
    totals: list[LibraryTotal] = []
    for sub in sorted(inputs.subscriptions, key=lambda s: s.library):
        rows = per_library.get(sub.library, [])
        weights = {
            (holder, track_id, kind): (ms if by_listened else n) * bp
            for track_id, kind, n, ms in rows
            for holder, bp in shares_of[track_id]
        }
        n_plays = sum(row[2] for row in rows)
        listened = sum(row[3] for row in rows)
        if sum(weights.values()) == 0:
            totals.append(
                LibraryTotal(sub.library, sub.currency, sub.amount_minor, n_plays, listened, 0,
                             sub.amount_minor)
            )  # fmt: skip
            for holder, track_id, kind in weights:
                amounts[(sub.library, holder, track_id, kind)] = 0
            continue
        parts = largest_remainder(sub.amount_minor, weights)
        for (holder, track_id, kind), part in parts.items():
            amounts[(sub.library, holder, track_id, kind)] = part
        held = sum(part for (holder, _, _), part in parts.items() if holder == UNATTRIBUTED)
        totals.append(
            LibraryTotal(sub.library, sub.currency, sub.amount_minor, n_plays, listened, held, 0)
        )

    # Pro-rata: every amount of a currency pooled, split by all counted plays in it.
    pro_rata: dict[tuple[str, str, str, LineKind], int] = {}
    pools: list[Pool] = []
    for currency in sorted(set(currency_of.values())):
        pool = sum(s.amount_minor for s in inputs.subscriptions if s.currency == currency)
        pool_weights = {
            (library, holder, track_id, kind): n * bp
            for library, rows in per_library.items()
            if currency_of[library] == currency
            for track_id, kind, n, _ in rows
            for holder, bp in shares_of[track_id]
        }
        n_plays = sum(
            row[2] for lib, rows in per_library.items() if currency_of[lib] == currency
            for row in rows
        )  # fmt: skip
        if n_plays == 0:
            pools.append(Pool(currency, pool, 0, pool))
            continue
        pro_rata.update(largest_remainder(pool, pool_weights))
        pools.append(Pool(currency, pool, n_plays, 0))

    figures = tally.counted
    lines: list[Line] = []
    add = lines.append
    for key in sorted(amounts):
        library, holder, track_id, kind = key
        n, ms = figures[(library, track_id, kind)]
        add(Line(library, holder, track_id, kind, currency_of[library], n, ms, amounts[key],
                 pro_rata.get(key, 0)))  # fmt: skip
    named_holders = {line.holder_id for line in lines}
    named_tracks = sorted({line.track_id for line in lines})
    unattributed = tuple(
        sorted({line.track_id for line in lines if line.holder_id == UNATTRIBUTED})
    )
    return Statement(
        period=inputs.period,
        rules=inputs.rules,
        previous_cutoff_ms=previous_cutoff_ms,
        cutoff_ms=cutoff_ms,
        plays_sha256=tally.digest,
        plays=tally.counts,
        libraries=tuple(totals),
        pools=tuple(pools),
        lines=tuple(lines),
        holders=tuple(sorted((h.id, h.name) for h in inputs.holders if h.id in named_holders)),
        tracks=tuple(_track_info(tracks.get(track_id), track_id) for track_id in named_tracks),
        unattributed_tracks=unattributed,
        unsubscribed_sites=tuple(sorted(tally.unsubscribed.items())),
        given=tally.given,
    )


def _shares(tracks: dict[str, Track], ids: set[str]) -> dict[str, list[tuple[str, int]]]:
    """(holder, basis points) per track; a track with no known holder has one unattributed."""
    out: dict[str, list[tuple[str, int]]] = {}
    for track_id in ids:
        track = tracks.get(track_id)
        if track is None or not track.shares:
            out[track_id] = [(UNATTRIBUTED, FULL_SHARE_BP)]
        else:
            out[track_id] = [(share.holder_id, share.basis_points) for share in track.shares]
    return out


def _track_info(track: Track | None, track_id: str) -> TrackInfo:
    if track is None:
        return TrackInfo(track_id, "", "", "")
    return TrackInfo(track.id, track.isrc, track.artist, track.title)
