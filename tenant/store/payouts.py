"""Payouts in the store: rights holders, track shares, subscriptions, rules per period, closed
statements, and the plays of a period summed up by the database (tenant/payouts/ledger.py).

Every write is one transaction that checks what it needs first (the period is not closed, the
holders exist, a site is in one library per period) and raises PayoutInputError, naming the
item, before anything is written. Closed statements are only ever inserted. (Over 500 lines
on purpose: the queries of six tables that are only ever used together, and a period's
summary, whose three queries share one raw connection and one snapshot.)
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from functools import reduce
from sys import intern
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from tenant.payouts.compute import ADJUSTMENT, REGULAR, PlayGroup, PlaySummary
from tenant.payouts.model import (
    END_REASONS,
    STARTED_BY,
    CountedPlay,
    PayoutInputError,
    PayoutRules,
    Period,
    RightsHolder,
    Share,
    Subscription,
    Track,
)
from tenant.payouts.periods import check_next_period
from tenant.store.database import Database
from tenant.store.schema import (
    payout_holders,
    payout_library_sites,
    payout_rules,
    payout_shares,
    payout_statements,
    payout_subscriptions,
    plays,
    tenants,
    tracks,
)
from tenant.store.upsert import upsert

NO_INFO = ("", "", "")  # ISRC, artist, title of a track the catalogue does not know
STREAM_ROWS = 20_000  # plays fetched at a time while streaming a period
SORT_MEMORY_MB = 64  # for the sort of a period's summary (its GROUP BY; the hash reads an index)
SQLITE_CACHE = -2000  # SQLite's default page cache (2 MB), restored after a summary


@dataclass(frozen=True)
class ClosedPeriod:
    """A closed statement as stored: its exact signed bytes and who closed it when."""

    period: Period
    cutoff_ms: int
    plays_sha256: str
    body: bytes
    signature: bytes
    closed_by: str
    closed_ms: int


@dataclass(frozen=True)
class StoredShare:
    track_id: str
    holder_id: str
    basis_points: int
    source: str  # tag, manual


class PayoutQueries(Database):
    # ------------------------------------------------------------------ rights holders

    def payout_holders(self, slug: str) -> list[RightsHolder]:
        query = (
            select(payout_holders)
            .where(payout_holders.c.tenant == slug)
            .order_by(payout_holders.c.holder_id)
        )
        with self._read() as conn:
            return [_holder(row) for row in conn.execute(query)]

    def payout_holder(self, slug: str, holder_id: str) -> RightsHolder | None:
        with self._read() as conn:
            return _get_holder(conn, slug, holder_id)

    def insert_payout_holder(self, slug: str, holder: RightsHolder, now_ms: int) -> bool:
        """False when the id is taken in this tenant."""
        try:
            with self._write() as conn:
                conn.execute(
                    insert(payout_holders).values(
                        tenant=slug, holder_id=holder.id, name=holder.name,
                        contact=holder.contact, payment_details=holder.payment_details,
                        created_ms=now_ms, updated_ms=now_ms,
                    )
                )  # fmt: skip
        except IntegrityError:
            return False
        return True

    def update_payout_holder(
        self, slug: str, holder: RightsHolder, now_ms: int
    ) -> RightsHolder | None:
        """Replace a holder's name, contact and payment details; the previous holder, or None
        when there is no such holder."""
        with self._write() as conn:
            before = _get_holder(conn, slug, holder.id)
            if before is None:
                return None
            conn.execute(
                update(payout_holders)
                .where(payout_holders.c.tenant == slug, payout_holders.c.holder_id == holder.id)
                .values(
                    name=holder.name, contact=holder.contact,
                    payment_details=holder.payment_details, updated_ms=now_ms,
                )
            )  # fmt: skip
        return before

    # ------------------------------------------------------------------ track shares

    def payout_shares(self, slug: str, track_id: str | None = None) -> list[StoredShare]:
        query = select(payout_shares).where(payout_shares.c.tenant == slug)
        if track_id is not None:
            query = query.where(payout_shares.c.track_id == track_id)
        query = query.order_by(payout_shares.c.track_id, payout_shares.c.holder_id)
        with self._read() as conn:
            return [
                StoredShare(row.track_id, row.holder_id, row.basis_points, row.source)
                for row in conn.execute(query)
            ]

    def set_payout_shares(
        self, slug: str, track: Track, source: str, now_ms: int, *, only_if_none: bool = False
    ) -> list[StoredShare] | None:
        """Replace a track's shares (a `Track` checked them: 100 %, no holder twice); the
        previous ones. With `only_if_none`, a track that has shares keeps them (None)."""
        with self._write() as conn:
            known = set(
                conn.execute(
                    select(payout_holders.c.holder_id).where(
                        payout_holders.c.tenant == slug,
                        payout_holders.c.holder_id.in_([s.holder_id for s in track.shares]),
                    )
                ).scalars()
            )
            for share in track.shares:
                if share.holder_id not in known:
                    raise PayoutInputError(
                        f"track {track.id}: share of {share.holder_id}: no such rights holder "
                        "(add it with `jukebox admin holders add`)"
                    )
            where = and_(payout_shares.c.tenant == slug, payout_shares.c.track_id == track.id)
            before = [
                StoredShare(row.track_id, row.holder_id, row.basis_points, row.source)
                for row in conn.execute(select(payout_shares).where(where))
            ]
            if only_if_none and before:
                return None
            conn.execute(delete(payout_shares).where(where))
            if track.shares:
                conn.execute(
                    insert(payout_shares),
                    [
                        {"tenant": slug, "track_id": track.id, "holder_id": s.holder_id,
                         "basis_points": s.basis_points, "source": source, "updated_ms": now_ms}
                        for s in track.shares
                    ],
                )  # fmt: skip
        return before

    # ------------------------------------------------------------------ subscriptions

    def payout_subscriptions(self, slug: str, period: str) -> list[Subscription]:
        with self._read() as conn:
            return _subscriptions(conn, slug, period)

    def library_sites(self, slug: str, library: str, period: str) -> frozenset[str] | None:
        """The library's sites in `period`, else in the latest earlier period it had any."""
        query = (
            select(payout_library_sites.c.period, payout_library_sites.c.site)
            .where(
                payout_library_sites.c.tenant == slug,
                payout_library_sites.c.library == library,
                payout_library_sites.c.period <= period,
            )
            .order_by(payout_library_sites.c.period.desc())
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        latest = rows[0].period
        return frozenset(row.site for row in rows if row.period == latest)

    def set_payout_subscription(
        self, slug: str, sub: Subscription, now_ms: int
    ) -> Subscription | None:
        """Set a library's amount and sites for a period (the previous subscription, if any).
        Refused when the period is closed or a site belongs to another library in it."""
        with self._write() as conn:
            _check_open(conn, slug, sub.period, f"subscription {sub.library}")
            taken = conn.execute(
                select(payout_library_sites.c.site, payout_library_sites.c.library).where(
                    payout_library_sites.c.tenant == slug,
                    payout_library_sites.c.period == sub.period,
                    payout_library_sites.c.site.in_(sorted(sub.sites)),
                    payout_library_sites.c.library != sub.library,
                )
            ).first()
            if taken is not None:
                raise PayoutInputError(
                    f"subscription {sub.library} ({sub.period}): sites: {taken.site} already "
                    f"belongs to library {taken.library} in {sub.period}"
                )
            previous = {s.library: s for s in _subscriptions(conn, slug, sub.period)}
            conn.execute(
                delete(payout_library_sites).where(
                    payout_library_sites.c.tenant == slug,
                    payout_library_sites.c.period == sub.period,
                    payout_library_sites.c.library == sub.library,
                )
            )
            conn.execute(
                insert(payout_library_sites),
                [
                    {"tenant": slug, "period": sub.period, "site": site, "library": sub.library}
                    for site in sorted(sub.sites)
                ],
            )
            values = {"amount_minor": sub.amount_minor, "currency": sub.currency,
                      "updated_ms": now_ms}  # fmt: skip
            upsert(
                conn, payout_subscriptions,
                {"tenant": slug, "library": sub.library, "period": sub.period, **values}, values,
            )  # fmt: skip
        return previous.get(sub.library)

    # ------------------------------------------------------------------ rules

    def payout_rules(self, slug: str, period: str) -> PayoutRules | None:
        """The rules set for `period`, or None (the defaults apply)."""
        with self._read() as conn:
            return _rules(conn, slug, period)

    def set_payout_rules(self, slug: str, period: str, rules: PayoutRules, now_ms: int) -> None:
        with self._write() as conn:
            _check_open(conn, slug, period, "rules")
            values = {
                "counted_stream_ms": rules.counted_stream_ms,
                "counted_started_by": ",".join(sorted(rules.counted_started_by)),
                "count_error_ended": rules.count_error_ended,
                "split": rules.split,
                "updated_ms": now_ms,
            }
            upsert(conn, payout_rules, {"tenant": slug, "period": period, **values}, values)

    # ------------------------------------------------------------------ the engine's inputs

    def payout_tracks(self, slug: str) -> list[Track]:
        """Every track with its ISRC, artist, title and shares (tracks known only by their
        shares too, e.g. a kiosk's local track given a rights holder)."""
        with self._read() as conn:
            info = {
                row.id: (row.isrc or "", row.artist, row.title)
                for row in conn.execute(
                    select(tracks.c.id, tracks.c.isrc, tracks.c.artist, tracks.c.title).where(
                        tracks.c.tenant == slug
                    )
                )
            }
            shares: dict[str, list[Share]] = {}
            for row in conn.execute(
                select(payout_shares.c.track_id, payout_shares.c.holder_id,
                       payout_shares.c.basis_points).where(payout_shares.c.tenant == slug)
            ):  # fmt: skip
                shares.setdefault(row.track_id, []).append(Share(row.holder_id, row.basis_points))
        return [
            Track(
                track_id, *info.get(track_id, ("", "", "")), shares=tuple(shares.get(track_id, ()))
            )
            for track_id in sorted(set(info) | set(shares))
        ]

    def payout_play_summary(
        self, slug: str, period: Period, rules: PayoutRules, cutoff_ms: int | None,
        previous_cutoff_ms: int | None,
    ) -> PlaySummary:  # fmt: skip
        """The statement window's plays (compute.py's window) summed up by the database:
        GROUP BY site, track, kind and counted-or-not, then their hash, streamed as the
        canonical text the database writes for each play (compute.py), in event id order.
        Both passes read one snapshot (a read transaction), on the raw DB-API connection:
        10 M plays must not become 10 M Python objects."""
        window = and_(plays.c.tenant == slug, _window(period, cutoff_ms, previous_cutoff_ms))
        counted = and_(
            plays.c.listened_ms >= rules.counted_stream_ms,
            plays.c.started_by.in_(sorted(rules.counted_started_by)),
            true() if rules.count_error_ended else plays.c.end_reason != "error",
        )
        bad = or_(
            plays.c.started_by.not_in(sorted(STARTED_BY)),
            plays.c.end_reason.not_in(sorted(END_REASONS)),
            plays.c.listened_ms < 0,
        )
        with self._read() as conn:
            postgresql = conn.dialect.name == "postgresql"
            event_id = plays.c.event_id.collate("C") if postgresql else plays.c.event_id  # min()
            kind = case((plays.c.played_ms >= period.start_ms, "regular"), else_="adjustment")
            groups_query = (
                select(plays.c.site, plays.c.track_id, kind, func.count(),
                       func.sum(plays.c.listened_ms))
                .where(window, counted)
                .group_by(plays.c.site, plays.c.track_id, kind)
            )  # fmt: skip
            # every play of the window, by kind, and the first bad one: one scan, no sort
            totals_query = select(
                func.sum(case((plays.c.played_ms >= period.start_ms, 1), else_=0)),
                func.count(),
                func.min(case((bad, event_id), else_=None)),
            ).where(window)
            # the index's order: byte-wise on PostgreSQL (its pattern ops), BINARY on SQLite
            text_query = (
                select(_canonical_text(postgresql))
                .where(window)
                .order_by(text("plays.event_id USING ~<~") if postgresql else plays.c.event_id)
            )
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cursor = raw.cursor()
            # One snapshot for all three queries; room for the GROUP BY's sort.
            if postgresql:  # psycopg has begun a transaction: this is its first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(f"SET LOCAL work_mem = '{SORT_MEMORY_MB}MB'")
                # the hash's named cursor is read to its end: plan for all rows, not the first
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
            else:
                cursor.execute("BEGIN")  # WAL: a read transaction sees one snapshot
                cursor.execute(f"PRAGMA cache_size = -{SORT_MEMORY_MB * 1024}")
            try:
                cursor.execute(_scan(_literal(totals_query, conn), postgresql))
                regular, selected, first_bad_id = cursor.fetchone() or (0, 0, None)
                regular, selected = int(regular or 0), int(selected or 0)
                cursor.execute(_scan(_literal(groups_query, conn), postgresql))
                # Streamed from the cursor, not fetched as a list first, and each site and
                # track id kept once (interned): a month has hundreds of thousands of groups.
                streamed: list[PlayGroup] = []
                while chunk := cursor.fetchmany(STREAM_ROWS):
                    streamed += [
                        PlayGroup(intern(s), intern(t), ADJUSTMENT if k == ADJUSTMENT else REGULAR,
                                  int(n), int(ms))
                        for s, t, k, n, ms in chunk
                    ]  # fmt: skip
                groups = tuple(streamed)
                texts = raw.cursor("payout_plays") if postgresql else raw.cursor()
                texts.execute(_scan(_literal(text_query, conn), postgresql))
                hasher = hashlib.sha256()
                while chunk := texts.fetchmany(STREAM_ROWS):
                    hasher.update("".join([row[0] for row in chunk]).encode())
                texts.close()
                first_bad = None
                if first_bad_id is not None:
                    cursor.execute(
                        _literal(
                            select(*_PLAY_COLUMNS).where(
                                plays.c.tenant == slug, plays.c.event_id == first_bad_id
                            ),
                            conn,
                        )
                    )
                    first_bad = CountedPlay(*tuple(cursor.fetchone() or ()))
            finally:
                raw.rollback()
                if not postgresql:
                    cursor.execute(f"PRAGMA cache_size = {SQLITE_CACHE}")
                cursor.close()
        return PlaySummary(groups, regular, selected - regular, hasher.hexdigest(), first_bad)

    # ------------------------------------------------------------------ closed statements

    def closed_payout_periods(self, slug: str) -> list[ClosedPeriod]:
        """Every closed statement, oldest period first."""
        with self._read() as conn:
            return _closed(conn, slug)

    def closed_payout_period(self, slug: str, period: str) -> ClosedPeriod | None:
        query = select(payout_statements).where(
            payout_statements.c.tenant == slug, payout_statements.c.period == period
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _closed_row(row)

    def insert_closed_payout(self, slug: str, closed: ClosedPeriod, previous: str | None) -> None:
        """Keep a closed statement, if the periods closed are still what it was computed after
        (`previous`: the last closed period's name then) and it overlaps none of them."""
        try:
            with self._write() as conn:
                _insert_closed(conn, slug, closed, previous)
        except IntegrityError:  # closed by someone else at the same moment
            raise PayoutInputError(
                f"period {closed.period.name}: was closed meanwhile: show it"
            ) from None


_PLAY_COLUMNS = (
    plays.c.event_id, plays.c.site, plays.c.track_id, plays.c.started_by, plays.c.end_reason,
    plays.c.listened_ms, plays.c.played_ms, plays.c.received_ms,
)  # fmt: skip


def _window(period: Period, cutoff_ms: int | None, previous_cutoff_ms: int | None) -> Any:
    """A statement's window (compute.py): played in the period, or earlier and received after
    the previous period's cutoff; received by the cutoff."""
    window = and_(plays.c.played_ms >= period.start_ms, plays.c.played_ms < period.end_ms)
    if previous_cutoff_ms is not None:
        late = and_(plays.c.played_ms < period.start_ms, plays.c.received_ms > previous_cutoff_ms)
        window = or_(window, late)
    if cutoff_ms is not None:
        window = and_(window, plays.c.received_ms <= cutoff_ms)
    return window


def _canonical_text(postgresql: bool) -> Any:
    """A play's canonical text for the plays hash, written by the database (compute._tally's
    format): `len:event_id len:site len:track_id started_by:end_reason:listened:played:received;`
    without the spaces. length() counts characters on both databases, as Python's len().
    SQLite writes it with one printf() (%d of a 64-bit integer is its decimal text, as the
    cast): less than half the time of 20 concatenations, for 10 M plays."""
    c = plays.c
    if not postgresql:
        return func.printf(
            literal("%d:%s%d:%s%d:%s%s:%s:%d:%d:%d;"),
            func.length(c.event_id), c.event_id, func.length(c.site), c.site,
            func.length(c.track_id), c.track_id, c.started_by, c.end_reason, c.listened_ms,
            c.played_ms, c.received_ms,
        )  # fmt: skip
    parts: list[Any] = []
    for column in (c.event_id, c.site, c.track_id):
        parts += [cast(func.length(column), Text), literal(":"), column]
    parts += [
        c.started_by, literal(":"), c.end_reason, literal(":"), cast(c.listened_ms, Text),
        literal(":"), cast(c.played_ms, Text), literal(":"), cast(c.received_ms, Text),
        literal(";"),
    ]  # fmt: skip
    return reduce(operator.add, parts)


def _scan(sql: str, postgresql: bool) -> str:
    """SQLite reads the tenant's plays from the payout index alone (covering: every column a
    summary reads), in event id order: the hash's text needs no sort, and the other two
    queries read an index narrower than the table. The window's late plays (played any time
    before the period) reach the tenant's whole history anyway, so a played_ms range would not
    read less, and its lookups cost several µs a play. PostgreSQL's planner, which has
    statistics, chooses for itself (the same index, read in the same order)."""
    return sql if postgresql else sql.replace("FROM plays", "FROM plays INDEXED BY plays_payout", 1)


def _literal(query: Any, conn: Connection) -> str:
    """The query's SQL with its values inlined (ints and checked slugs and ids), for a raw
    DB-API cursor whatever its parameter style."""
    return str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _insert_closed(conn: Connection, slug: str, closed: ClosedPeriod, previous: str | None) -> None:
    # One close at a time per tenant: the tenant's row is locked on PostgreSQL (SQLite
    # serialises writers anyway), so two periods closed at once cannot both pass the check.
    conn.execute(select(tenants.c.slug).where(tenants.c.slug == slug).with_for_update())
    done = _closed(conn, slug)
    last = done[-1].period.name if done else None
    if last != previous:
        raise PayoutInputError(
            f"period {closed.period.name}: period {last} was closed meanwhile: "
            "preview and close again"
        )
    check_next_period([d.period for d in done], closed.period)
    conn.execute(
        insert(payout_statements).values(
            tenant=slug, period=closed.period.name, start_ms=closed.period.start_ms,
            end_ms=closed.period.end_ms, cutoff_ms=closed.cutoff_ms,
            plays_sha256=closed.plays_sha256, body=closed.body,
            signature=closed.signature, closed_by=closed.closed_by,
            closed_ms=closed.closed_ms,
        )
    )  # fmt: skip


def _holder(row: Row[Any]) -> RightsHolder:
    return RightsHolder(row.holder_id, row.name, row.contact, row.payment_details)


def _get_holder(conn: Connection, slug: str, holder_id: str) -> RightsHolder | None:
    row = conn.execute(
        select(payout_holders).where(
            payout_holders.c.tenant == slug, payout_holders.c.holder_id == holder_id
        )
    ).first()
    return None if row is None else _holder(row)


def _subscriptions(conn: Connection, slug: str, period: str) -> list[Subscription]:
    sites: dict[str, set[str]] = {}
    for row in conn.execute(
        select(payout_library_sites.c.library, payout_library_sites.c.site).where(
            payout_library_sites.c.tenant == slug, payout_library_sites.c.period == period
        )
    ):
        sites.setdefault(row.library, set()).add(row.site)
    query = (
        select(payout_subscriptions)
        .where(payout_subscriptions.c.tenant == slug, payout_subscriptions.c.period == period)
        .order_by(payout_subscriptions.c.library)
    )
    return [
        Subscription(row.library, frozenset(sites.get(row.library, ())), period,
                     row.amount_minor, row.currency)
        for row in conn.execute(query)
    ]  # fmt: skip


def _rules(conn: Connection, slug: str, period: str) -> PayoutRules | None:
    row = conn.execute(
        select(payout_rules).where(payout_rules.c.tenant == slug, payout_rules.c.period == period)
    ).first()
    if row is None:
        return None
    return PayoutRules(
        counted_stream_ms=row.counted_stream_ms,
        counted_started_by=frozenset(s for s in row.counted_started_by.split(",") if s),
        count_error_ended=bool(row.count_error_ended),
        split=row.split,
    )


def _closed(conn: Connection, slug: str) -> list[ClosedPeriod]:
    query = (
        select(payout_statements)
        .where(payout_statements.c.tenant == slug)
        .order_by(payout_statements.c.start_ms)
    )
    return [_closed_row(row) for row in conn.execute(query)]


def _closed_row(r: Row[Any]) -> ClosedPeriod:
    return ClosedPeriod(
        period=Period(r.period, r.start_ms, r.end_ms),
        cutoff_ms=r.cutoff_ms,
        plays_sha256=r.plays_sha256,
        body=bytes(r.body),
        signature=bytes(r.signature),
        closed_by=r.closed_by,
        closed_ms=r.closed_ms,
    )


def _check_open(conn: Connection, slug: str, period: str, what: str) -> None:
    closed = conn.execute(
        select(payout_statements.c.closed_ms).where(
            payout_statements.c.tenant == slug, payout_statements.c.period == period
        )
    ).first()
    if closed is not None:
        raise PayoutInputError(f"{what} ({period}): period {period} is closed: it never changes")
