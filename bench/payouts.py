"""Computing a month's payout statement in memory (tenant/payouts), beside a bare pass.

A synthetic month: `--plays` plays at `--kiosks` kiosks (5 per site) of `--libraries`
libraries, over 20,000 tracks (a few played far more than the others; 10 % with two rights
holders, 2 % with none), 80 % started by a visitor, about 40 % counted, event ids in no order.
Each library's kiosks play its own curated `--per-library` tracks (500 by default, drawn from
the 20,000 so that libraries share some; 0 = any track anywhere, the worst case for the number
of statement lines, one per library, track and holder). Two ways in:

- `memory`: every play built first (a list of CountedPlay), then computed; the statement
  sorts them by event id. The baseline is one loop over the same list, summing listened time.
- `stream`: plays made one at a time, already in event id order, as a store would stream them
  (`ORDER BY event_id`), so they are never held at once (`presorted=True`); the baseline is
  the same generator consumed by a bare loop.

- `store`: the month closed through the real store (`--database sqlite`, a file in a temporary
  folder, or `postgresql`, a throwaway server of tenant/store/postgres.py): the plays are
  loaded first in a child process (so their loading does not count in this process's peak),
  then `tenant.payouts.ledger.close` has the database sum them up (GROUP BY) and stream the
  plays hash's text in event id order, computes, signs and keeps the statement, as
  `jukebox admin payouts close` does. The baseline is one `count(*)` over the plays.

Figures: seconds (time.monotonic) and the process's peak resident memory (getrusage; a
high-water mark, so the memory run builds the plays first and reports the peak after each
step). One mode per run, since the peak never goes down. SQLite runs in this process, so its
page cache and sorter are in that peak. PostgreSQL's work is in the server's processes: the
store mode samples them every 50 ms while the month closes and reports the peak of their
private memory (RssAnon summed over the server's processes) plus the largest shared memory one
of them touched (RssShmem: shared buffers, counted once), beside this process's own peak.

`--keep DIR` keeps the loaded store in DIR (SQLite file, or PostgreSQL's data folder) and
reuses it when the same month is asked for again: only the closing is measured twice (the
statement closed before is deleted first).

    .venv/bin/python bench/payouts.py [--plays 1000000] [--kiosks 5000] [--libraries 200]
                                      [--per-library 500] [--mode memory|stream|store]
                                      [--database sqlite|postgresql] [--keep DIR]

Prints figures; asserts nothing. Aim (issue 14): a month of 10,000,000 plays under 60 s and
500 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tenant.payouts import (
    CountedPlay,
    PayoutInputs,
    PayoutRules,
    Period,
    RightsHolder,
    Share,
    Subscription,
    Track,
    compute_statement,
)

TRACKS = 20_000
HOLDERS = 2_000
MONTH = Period.month(2026, 11)
SPAN_MS = MONTH.end_ms - MONTH.start_ms
MASK = (1 << 64) - 1


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """This process's CPU seconds (user + system): on a machine shared with other work, what
    the closing itself costs, whatever the others take."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    """The 1-minute load average: the machine's business while a figure was taken."""
    return Path("/proc/loadavg").read_text().split()[0]


def step(label: str, began: float) -> None:
    print(f"  {label:<22} {time.monotonic() - began:6.2f} s, peak RSS {peak_mb():5.0f} MB")


def catalogue(libraries: int, sites: int) -> PayoutInputs:
    rnd = random.Random(1)
    holders = tuple(RightsHolder(f"h{i:04d}", f"Holder {i}") for i in range(HOLDERS))
    tracks = []
    for i in range(TRACKS):
        roll = rnd.random()
        first, second = rnd.sample(holders, 2)
        if roll < 0.02:
            shares: tuple[Share, ...] = ()
        elif roll < 0.12:
            shares = (Share(first.id, 7_000), Share(second.id, 3_000))
        else:
            shares = (Share(first.id, 10_000),)
        tracks.append(Track(f"t{i:05d}", f"FRX20{i:07d}", f"Artist {i}", f"Title {i}", shares))
    subs = tuple(
        Subscription(
            f"lib{lib:03d}",
            frozenset(f"site{s:04d}" for s in range(sites) if s % libraries == lib),
            MONTH.name,
            rnd.randrange(10_000, 500_000),
            "EUR",
        )
        for lib in range(libraries)
    )
    return PayoutInputs(MONTH, PayoutRules(), subs, holders, tuple(tracks))


def plays(
    count: int, sites: int, libraries: int, per_library: int, ordered: bool
) -> Iterator[CountedPlay]:
    """Plays made from a cheap integer hash of their number (reproducible, no random calls)."""
    site_names = [f"site{s:04d}" for s in range(sites)]
    track_ids = [f"t{i:05d}" for i in range(TRACKS)]
    pick = per_library or TRACKS
    # the tracks of site s's library: an offset into the catalogue, so libraries overlap
    offsets = [((s % libraries) * 7_919 * pick // 500) % TRACKS if per_library else 0
               for s in range(sites)]  # fmt: skip
    started = ("visitor", "visitor", "visitor", "visitor", "autoplay")
    ends = ("finished", "finished", "skipped", "stopped", "error", "interrupted", "finished")
    for i in range(count):
        h = ((i + 1) * 0x9E3779B97F4A7C15) & MASK
        event_id = f"{i:016x}-e" if ordered else f"{h:016x}-{i:08x}"
        played = MONTH.start_ms + h % SPAN_MS
        site = (h >> 8) % sites
        rank = (h >> 20) % pick
        track = (offsets[site] + (rank * rank) // pick) % TRACKS  # a few played far more
        yield CountedPlay(
            event_id,
            site_names[site],
            track_ids[track],
            started[(h >> 40) % 5],
            ends[(h >> 44) % 7],
            (h >> 48) % 240_000,
            played,
            played + (h >> 30) % 3_600_000,
        )


SLUG = "bench"
LOAD_BATCH = 50_000


def load(url: str, inputs: PayoutInputs, args: argparse.Namespace, sites: int) -> None:
    """Fill the store: holders, shares, subscriptions with their sites, and the plays (run in
    a child process; bulk inserts, since loading is not what is measured)."""
    from sqlalchemy import insert, text

    from tenant.store import TenantStore
    from tenant.store.schema import (
        payout_holders,
        payout_library_sites,
        payout_shares,
        payout_subscriptions,
    )
    from tenant.store.schema import plays as plays_table

    store = TenantStore(url)
    began = time.monotonic()
    with store.engine.begin() as conn:
        conn.execute(insert(payout_holders), [
            {"tenant": SLUG, "holder_id": h.id, "name": h.name, "contact": "",
             "payment_details": "", "created_ms": 0, "updated_ms": 0} for h in inputs.holders
        ])  # fmt: skip
        conn.execute(insert(payout_shares), [
            {"tenant": SLUG, "track_id": t.id, "holder_id": share.holder_id,
             "basis_points": share.basis_points, "source": "manual", "updated_ms": 0}
            for t in inputs.tracks for share in t.shares
        ])  # fmt: skip
        conn.execute(insert(payout_subscriptions), [
            {"tenant": SLUG, "library": sub.library, "period": sub.period,
             "amount_minor": sub.amount_minor, "currency": sub.currency, "updated_ms": 0}
            for sub in inputs.subscriptions
        ])  # fmt: skip
        conn.execute(insert(payout_library_sites), [
            {"tenant": SLUG, "period": sub.period, "site": site, "library": sub.library}
            for sub in inputs.subscriptions for site in sub.sites
        ])  # fmt: skip
    columns = (
        "tenant", "event_id", "device_id", "site", "seq", "firmware_version", "boot_id",
        "playlist_id", "playlist_revision", "track_id", "started_by", "started_wall_ms",
        "clock_synced", "started_uptime_ms", "listened_ms", "end_reason", "received_ms",
        "played_ms", "time_estimated",
    )  # fmt: skip
    kiosks = [f"jk-{n:020d}" for n in range(args.kiosks)]

    def rows() -> Iterator[tuple[object, ...]]:
        made = plays(args.plays, sites, args.libraries, args.per_library, ordered=False)
        for n, p in enumerate(made):
            yield (
                SLUG, p.event_id, kiosks[n % args.kiosks], p.site, n, "1", "b", "p", "r",
                p.track_id, p.started_by, p.played_ms, True, 0, p.listened_ms, p.end_reason,
                p.received_ms, p.played_ms, False,
            )  # fmt: skip

    # Raw DB-API bulk loading (executemany on SQLite, COPY on PostgreSQL): loading is not what
    # is measured, and through SQLAlchemy 10 M rows take the better part of an hour.
    # The plays' secondary indexes are built after the rows (one sort each, not 10 M random
    # inserts); the primary key stays.
    with store.engine.begin() as conn:
        for index in plays_table.indexes:
            index.drop(conn)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if store.engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")  # a throwaway file
            cursor.execute("PRAGMA cache_size=-2000000")  # the primary key's random inserts
        if store.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY plays ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO plays ({', '.join(columns)}) VALUES ({marks})"
            cursor.executemany(sql, rows())  # type: ignore[arg-type]
        raw.commit()
    finally:
        raw.close()
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("SET maintenance_work_mem = '512MB'"))
        else:
            conn.execute(text("PRAGMA cache_size=-2000000"))
        for index in plays_table.indexes:
            index.create(conn)
    # Statistics, and on PostgreSQL the visibility map that lets the payout index be read
    # alone (index-only scan), as autovacuum keeps them in production (it vacuums tables that
    # only get inserts too, since PostgreSQL 13).
    vacuum = (
        "VACUUM (ANALYZE) plays" if store.engine.dialect.name == "postgresql" else "ANALYZE plays"
    )
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(vacuum))
    store.close()
    print(f"  load the store:        {time.monotonic() - began:6.2f} s (child process)")


def close_in_store(inputs: PayoutInputs, args: argparse.Namespace, sites: int) -> None:
    from sqlalchemy import create_engine, text

    from tenant.payouts import ledger
    from tenant.store import TenantStore
    from tenant.store.migrate import upgrade

    keep = None if args.keep is None else Path(args.keep).resolve()
    folder_context: AbstractContextManager[str] = (
        nullcontext(str(keep)) if keep is not None else tempfile.TemporaryDirectory()
    )
    with folder_context as folder, _server(args, keep) as server:
        data_dir = Path(folder)
        data_dir.mkdir(parents=True, exist_ok=True)
        marker = data_dir / f"loaded-{args.database}.txt"
        wanted = f"{args.plays} {args.kiosks} {args.libraries} {args.per_library}\n"
        if server is None:
            url = f"sqlite:///{data_dir / 'tenant.sqlite3'}"
        else:
            url = f"{server.url.rsplit('/', 1)[0]}/bench"
            if not (marker.exists() and marker.read_text() == wanted):
                _create_bench_database(server.url)
        if marker.exists() and marker.read_text() == wanted:
            engine = create_engine(url)
            migrated = upgrade(engine)  # a store kept from before a new revision
            engine.dispose()
            print(f"  load the store:        kept in {data_dir} ({migrated.after})")
            store = TenantStore(url)
            with store.engine.begin() as conn:  # the statement the previous run closed
                conn.execute(text(f"DELETE FROM payout_statements WHERE tenant = '{SLUG}'"))
            store.close()
        else:
            marker.unlink(missing_ok=True)
            TenantStore(url).close()  # the schema, at head
            child = multiprocessing.get_context("fork").Process(
                target=load, args=(url, inputs, args, sites)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"loading the store failed ({child.exitcode})")
            if keep is not None:
                marker.write_text(wanted)
        store = TenantStore(url)
        print(f"  open the store:        peak RSS {peak_mb():5.0f} MB")
        key = ledger.statement_key(data_dir, SLUG)
        began = time.monotonic()
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*), sum(listened_ms) FROM plays")).one()
        step(f"baseline ({rows[0]:,} rows):", began)
        sampler = None if server is None else _ServerMemory(server.pid)
        cpu_began = cpu_s()
        began = time.monotonic()
        closed, statement = ledger.close(
            store, key, SLUG, MONTH.name, "bench", MONTH.end_ms + 2 * ledger.CLOSE_GRACE_MS
            + 3_600_000,
        )  # fmt: skip
        took = time.monotonic() - began
        size = f"{len(closed.body) / 1e6:.0f} MB statement, {len(statement.lines):,} lines"
        cpu = cpu_s() - cpu_began
        print(f"  close the month:       {took:6.2f} s, peak RSS {peak_mb():5.0f} MB ({size})")
        print(f"  CPU of this process:   {cpu:6.2f} s (load {load_average()})")
        if sampler is not None:
            private, shared, server_cpu = sampler.stop()
            print(
                f"  PostgreSQL server:     peak {(private + shared) / 1024:5.0f} MB while closing"
                f" ({private / 1024:.0f} MB private, {shared / 1024:.0f} MB shared buffers),"
                f" CPU {server_cpu:.2f} s"
            )
        counts = statement.plays
        print(f"  counted {counts.counted:,} of {counts.selected:,} plays "
              f"({len(statement.plays_sha256) // 2 * 8}-bit hash over the window, "
              f"{statement.plays_sha256[:12]}…)")  # fmt: skip
        store.close()


class _Server:
    """A PostgreSQL server for the store mode: a throwaway one, or one whose data folder is
    kept in `--keep DIR/pg` (the same server binaries; stopped, never removed)."""

    def __init__(self, keep: Path | None) -> None:
        from tenant.store.postgres import PostgresServer

        self.server = PostgresServer()
        if keep is not None:
            import shutil

            shutil.rmtree(self.server.folder)
            self.server.folder = keep / "pg"
            self.server.folder.mkdir(parents=True, exist_ok=True)
            os.chmod(keep, 0o755)
            if self.server._as:  # root: the server runs as postgres, which owns its folder
                os.chown(self.server.folder, self.server._as["user"], self.server._as["group"])
            self.server.data_dir = self.server.folder / "data"
            self.server.log_file = self.server.folder / "postgres.log"
        self.keep = keep

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int:
        process = self.server._process
        assert process is not None
        return process.pid

    def __enter__(self) -> _Server:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.keep is None:
            self.server.stop()
            return
        process = self.server._process
        if process is not None:
            process.send_signal(2)  # fast shutdown; the folder stays
            process.wait(timeout=60)


def _server(args: argparse.Namespace, keep: Path | None) -> AbstractContextManager[_Server | None]:
    return _Server(keep) if args.database == "postgresql" else nullcontext(None)


def _create_bench_database(server_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS bench WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE bench"))
    engine.dispose()


class _ServerMemory:
    """Samples the PostgreSQL server's processes (the postmaster `pid` and its children) every
    50 ms until stop(): the peak of their summed private memory (RssAnon) and the largest
    shared memory one of them touched (RssShmem), in kB."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.private = 0
        self.shared = 0
        self._cpu_began = self._cpu_ticks()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.pid, *(int(c) for c in children)]

    def _cpu_ticks(self) -> int:
        """utime + stime of the server's processes, and of those that ended (the postmaster's
        cutime + cstime: parallel workers)."""
        ticks = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            if pid == self.pid:
                ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
        return ticks

    def _sample(self) -> None:
        private = shared = 0
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # a worker that just ended
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            private += int(fields.get("RssAnon", "0 kB").split()[0])
            shared = max(shared, int(fields.get("RssShmem", "0 kB").split()[0]))
        self.private = max(self.private, private)
        self.shared = max(self.shared, shared)

    def _run(self) -> None:
        while not self._done.wait(0.05):
            self._sample()

    def stop(self) -> tuple[int, int, float]:
        """Peak private kB, peak shared kB, CPU seconds since the start."""
        self._done.set()
        self._thread.join()
        cpu = (self._cpu_ticks() - self._cpu_began) / os.sysconf("SC_CLK_TCK")
        return self.private, self.shared, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--kiosks", type=int, default=5_000)
    parser.add_argument("--libraries", type=int, default=200)
    parser.add_argument("--per-library", type=int, default=500)
    parser.add_argument("--mode", choices=["memory", "stream", "store"], default="memory")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--keep", metavar="DIR", help="store mode: keep the loaded store here")
    args = parser.parse_args()
    sites = max(args.kiosks // 5, args.libraries)
    inputs = catalogue(args.libraries, sites)
    print(
        f"{args.plays:,} plays, {args.kiosks:,} kiosks at {sites:,} sites, "
        f"{args.libraries} libraries, {TRACKS:,} tracks ({args.per_library or 'all'} per library), "
        f"{HOLDERS:,} rights holders ({args.mode}"
        + (f", {args.database})" if args.mode == "store" else ")")
    )
    print(f"  start:                 peak RSS {peak_mb():8.0f} MB")
    if args.mode == "store":
        close_in_store(inputs, args, sites)
        return
    if args.mode == "memory":
        began = time.monotonic()
        held = list(plays(args.plays, sites, args.libraries, args.per_library, ordered=False))
        step("build the plays:", began)
        began = time.monotonic()
        listened = 0
        for play in held:
            listened += play.listened_ms
        step("baseline (one pass):", began)
        began = time.monotonic()
        statement = compute_statement(inputs, held, cutoff_ms=None)
    else:
        began = time.monotonic()
        listened = 0
        for play in plays(args.plays, sites, args.libraries, args.per_library, ordered=True):
            listened += play.listened_ms
        step("baseline (make+pass):", began)
        began = time.monotonic()
        statement = compute_statement(
            inputs,
            plays(args.plays, sites, args.libraries, args.per_library, ordered=True),
            cutoff_ms=None,
            presorted=True,
        )
    computed = time.monotonic() - began
    print(f"  compute the statement: {computed:6.2f} s, peak RSS {peak_mb():5.0f} MB")
    began = time.monotonic()
    body = statement.canonical_bytes()
    print(
        f"  canonical bytes:       {time.monotonic() - began:6.1f} s, peak RSS {peak_mb():5.0f} MB"
        f" ({len(body) / 1e6:.0f} MB, {len(statement.lines):,} lines)"
    )
    counts = statement.plays
    print(
        f"  counted {counts.counted:,} of {counts.selected:,} plays, "
        f"{len(statement.unattributed_tracks):,} unattributed tracks"
    )


if __name__ == "__main__":
    main()
