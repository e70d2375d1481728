"""The web console under load: the kiosk board with 2,000 kiosks and the report page over
1,000,000 plays (tenant/web), time to first byte and full load, on SQLite and PostgreSQL.

A tenant in a temporary folder gets `--kiosks` claimed kiosks (20 per site, each with a
heartbeat, a reported state and a status, as the ingester stores them), 500 tracks and
`--plays` plays spread over the last 30 days (bulk loaded: loading is not measured). Its
database is a SQLite file in that folder, or a database on a throwaway PostgreSQL server
(tenant/store/postgres.py, fsync on as in production; VACUUM ANALYZE after loading, as
autovacuum does in production). The service runs in this process with uvicorn, as `jukebox
tenant serve` does; each page is asked `--runs` times with the administrator's bearer token
(the console accepts it as it accepts a session; the rendering is the same). "First byte" is
until the status line and headers arrived (http.client's getresponse), "full load" until the
body and the page's CSS and JS were read. Medians and the slowest run, in ms (time.monotonic); the
load average (/proc/loadavg, 1 min) before and after, since the machine may be shared.

    .venv/bin/python bench/console.py [--kiosks 2000] [--plays 1000000] [--runs 5]
                                      [--database sqlite|postgresql|both]

Prints figures; asserts nothing. Aim (issue 12): board under 300 ms, report under 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn
from sqlalchemy import insert, text

from tenant.broker.process import free_port
from tenant.service import create_app
from tenant.setup import init_tenant
from tenant.store import TenantStore, default_database_url
from tenant.store.postgres import PostgresServer
from tenant.store.schema import device_status, devices, tracks

SLUG = "bench"
DAY_MS = 86_400_000
PLAY_COLUMNS = (
    "tenant", "event_id", "device_id", "site", "seq", "firmware_version", "boot_id",
    "playlist_id", "playlist_revision", "track_id", "started_by", "started_wall_ms",
    "clock_synced", "started_uptime_ms", "listened_ms", "end_reason", "received_ms",
    "played_ms", "time_estimated",
)  # fmt: skip


def load(url: str, kiosks: int, play_count: int, now_ms: int) -> None:
    store = TenantStore(url)
    rng = random.Random(12)
    track_ids = [f"trk-{i:016x}" for i in range(500)]
    with store.engine.begin() as conn:
        conn.execute(insert(tracks), [
            {"tenant": SLUG, "id": t, "sha256": f"{i:064x}", "size": 1, "title": f"Title {i}",
             "artist": f"Artist {i % 80}", "isrc": f"FRZ03{i:07d}", "duration_ms": 200_000,
             "created_ms": now_ms} for i, t in enumerate(track_ids)
        ])  # fmt: skip
        conn.execute(insert(devices), [
            {"tenant": SLUG, "device_id": f"jk-{i:020d}", "public_key": "k",
             "firmware_version": "1.0.0", "status": "active", "site": f"site-{i // 20:03d}",
             "name": f"Kiosk {i}", "poll_interval_ms": 5000, "enrolled_ms": now_ms,
             "claimed_ms": now_ms} for i in range(kiosks)
        ])  # fmt: skip
        beat = {"v": 1, "firmware_version": "1.0.0", "volume": 40, "outbox": 0,
                "content": {"playlists": 2, "tracks": 30, "sync": "complete"},
                "playing": {"playlist_id": "p", "track_id": track_ids[0], "title": "Title 0",
                            "artist": "Artist 0", "position_ms": 1000}}  # fmt: skip
        conn.execute(insert(device_status), [
            {"tenant": SLUG, "device_id": f"jk-{i:020d}", "online": i % 10 != 0,
             "since_ms": now_ms - 3_600_000, "heartbeat": json.dumps(beat),
             "heartbeat_ms": now_ms - 5000, "reported_version": 3, "reported_status": "applied",
             "reported_ms": now_ms - 60_000} for i in range(kiosks)
        ])  # fmt: skip

    def rows() -> Iterator[tuple[object, ...]]:
        for n in range(play_count):
            played = now_ms - rng.randrange(30 * DAY_MS)
            device = n % kiosks
            yield (
                SLUG, f"ev-{n:012d}", f"jk-{device:020d}", f"site-{device // 20:03d}", n,
                "1.0.0", "b", "p", "r", track_ids[int(rng.paretovariate(1.2)) % 500], "visitor",
                played, True, 0, rng.randrange(200_000), "finished", played, played, False,
            )  # fmt: skip

    # Raw DB-API bulk loading (executemany on SQLite, COPY on PostgreSQL), as bench/payouts.py.
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if store.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY plays ({', '.join(PLAY_COLUMNS)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in PLAY_COLUMNS)
            sql = f"INSERT INTO plays ({', '.join(PLAY_COLUMNS)}) VALUES ({marks})"
            cursor.executemany(sql, rows())  # type: ignore[arg-type]
        raw.commit()
    finally:
        raw.close()
    if store.engine.dialect.name == "postgresql":
        # statistics and the visibility map (index-only scans), as autovacuum keeps them
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    store.close()


def fetch(port: int, path: str, token: str) -> tuple[float, float, int]:
    """(ms to the first byte, ms to the whole page and its CSS and JS, status)."""
    began = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "text/html"})
    answer = conn.getresponse()
    first = time.monotonic()
    answer.read()
    for asset in ("/console-static/console.css", "/console-static/console.js"):
        conn.request("GET", asset)
        conn.getresponse().read()
    conn.close()
    return (first - began) * 1000, (time.monotonic() - began) * 1000, answer.status


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A SQLite file in the tenant's folder, or a database on a throwaway PostgreSQL server."""
    if kind == "sqlite":
        yield default_database_url(folder)
        return
    with PostgresServer(durable=True) as server:
        yield server.create_database()


def measure(kind: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder, database(kind, Path(folder)) as url:
        data = Path(folder)
        token = init_tenant(data, SLUG, "Bench network", database_url=url)
        now_ms = int(time.time() * 1000)
        began = time.monotonic()
        load(url, args.kiosks, args.plays, now_ms)
        print(f"{kind}: loaded {args.kiosks} kiosks and {args.plays} plays in "
              f"{time.monotonic() - began:.1f} s (not measured); load average "
              f"{load_average()}")  # fmt: skip
        port = free_port()
        app = create_app(data, url)
        config = uvicorn.Config(app, port=port, log_config=None, access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"/t/{SLUG}/console/"
        pages = [
            ("board page", base + "kiosks"),
            ("board rows (live)", base + "kiosks/board"),
            ("report by track", base + "reports?by=track"),
            ("report by day", base + "reports?by=day"),
            ("report CSV", base + "reports.csv?by=track"),
        ]
        print(f"{'page':<20} {'first byte ms':>22} {'full load ms':>22}")
        for label, path in pages:
            fetch(port, path, token)  # warm: templates compiled, database pages cached
            runs = [fetch(port, path, token) for _ in range(args.runs)]
            if any(r[2] != 200 for r in runs):
                raise SystemExit(f"{label}: HTTP {runs[0][2]}")
            ttfb, full = [r[0] for r in runs], [r[1] for r in runs]
            print(f"{label:<20} {statistics.median(ttfb):>9.1f} (max {max(ttfb):>7.1f}) "
                  f"{statistics.median(full):>9.1f} (max {max(full):>7.1f})")  # fmt: skip
        print(f"{kind}: load average {load_average()} at the end")
        server.should_exit = True
        thread.join(10)
        app.state.context.store.close()  # before the PostgreSQL server stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=2000)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    logging.basicConfig(level=logging.WARNING)
    for kind in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        measure(kind, args)


if __name__ == "__main__":
    main()
