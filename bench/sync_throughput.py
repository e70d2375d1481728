"""How fast the content sync fills the cache, beside curl, and how cheap a no-change check is.

A local tenant (`jukebox tenant serve`, its own process) holds a 200-track playlist of random
bytes (the tenant stores bytes by hash; audio would only slow the set-up); a claimed device
syncs it into an empty cache (streamed, hashed, fsynced, renamed into the cache) and curl
fetches the same files with the same Authorization header into plain files. Then a device
with 500 unchanged tracks times its periodic pass (a conditional GET answered 304), beside
curl sending the same conditional GET. Prints figures, asserts nothing.

    .venv/bin/python bench/sync_throughput.py [--tracks 200] [--mb 1.5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from contract.media import MediaCache
from device.events import Event
from device.identity.keys import DeviceKey
from device.sync.syncer import Syncer
from device.tenant_api.client import TenantClient
from device.tenant_api.session import TenantSession
from tenant.admin_client import AdminClient, Credentials
from tenant.broker.process import free_port
from tenant.setup import init_tenant

SLUG = "bench"


def serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    jukebox = Path(sys.executable).with_name("jukebox")
    process = subprocess.Popen(
        [str(jukebox), "tenant", "serve", "--data", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
            return process
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("the tenant service did not start") from None
            time.sleep(0.1)


def make_tracks(admin: AdminClient, folder: Path, count: int, size: int, tag: str) -> list[str]:
    """`count` distinct random files of about `size` bytes, uploaded and registered."""
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(size + 4096)
    ids = []
    for i in range(count):
        path = folder / f"{tag}-{i:04d}.bin"
        length = size + (i * 997) % 4096
        path.write_bytes(f"{tag}-{i:08d}".encode() + block[:length])
        sha, _ = admin.upload_media(path)
        track, _ = admin.create_track(
            {"sha256": sha, "title": f"{tag} {i}", "artist": "Bench", "duration_ms": 180_000}
        )
        ids.append(str(track["id"]))
        path.unlink()
    return ids


def claim(admin: AdminClient, base_url: str, state: Path) -> TenantSession:
    key = DeviceKey.load_or_create(state)
    client = TenantClient(base_url)
    answer = client.enroll(key.public_bytes, "bench")
    if answer.claim_code:
        admin.claim(answer.claim_code, "bench-site")
    session = TenantSession(client, key)
    session.ensure_token()
    return session


def curl_files(session: TenantSession, shas: Sequence[str], out: Path) -> float:
    """Seconds for one curl process to fetch every file (one connection, like the sync)."""
    grant = session.ensure_token()
    out.mkdir(parents=True, exist_ok=True)
    config = out.parent / "curl.conf"
    lines = [f'header = "Authorization: Bearer {grant.access_token}"']
    for sha in shas:
        lines += [f'url = "{session.base_url}/v1/media/{sha}"', f'output = "{out / sha}"']
    config.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-K", str(config)], check=True)
    return time.perf_counter() - started


def curl_conditional(session: TenantSession, etag: str, runs: int) -> list[float]:
    grant = session.ensure_token()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: Bearer {grant.access_token}",
                "-H",
                f"If-None-Match: {etag}",
                f"{session.base_url}/v1/device/playlists",
            ],
            check=True,
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--mb", type=float, default=1.5, help="average MB per track")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--unchanged", type=int, default=500)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the comparison")

    with tempfile.TemporaryDirectory(prefix="sync-bench-") as tmp:
        root = Path(tmp)
        data = root / "tenant"
        token = init_tenant(data, SLUG, "Bench network")
        port = free_port()
        service = serve(data, port)
        try:
            base_url = f"http://127.0.0.1:{port}/t/{SLUG}"
            admin = AdminClient(Credentials(f"http://127.0.0.1:{port}", SLUG, token))
            size = int(args.mb * 1e6)
            print(f"preparing {args.tracks} tracks of ~{args.mb} MB …", flush=True)
            big = make_tracks(admin, root / "files", args.tracks, size, "big")
            kiosk = claim(admin, base_url, root / "device")
            admin.put_playlist("bench-big", "Bench", big)
            admin.assign("bench-big", devices=[kiosk.key.device_id])

            sync_s, sync_cpu_s, curl_s, total = [], [], [], 0
            for run in range(args.runs):
                state = root / f"sync-{run}"
                events: list[Event] = []
                syncer = Syncer(
                    kiosk, MediaCache(state / "cache"), state, events.append, 1 << 40, 300
                )
                started, cpu = time.perf_counter(), time.process_time()
                result = syncer.sync_once()
                sync_s.append(time.perf_counter() - started)
                sync_cpu_s.append(time.process_time() - cpu)
                total = result.bytes_downloaded
                if result.outcome != "activated":
                    raise SystemExit(f"sync did not complete: {result}")
                document = syncer.active_document
                assert document is not None
                shas = list(document.media())
                shutil.rmtree(state)
                curl_s.append(curl_files(kiosk, shas, root / f"curl-{run}" / "files"))
                shutil.rmtree(root / f"curl-{run}")

            mb = total / 1e6
            sync_rate = mb / statistics.median(sync_s)
            curl_rate = mb / statistics.median(curl_s)
            print(f"throughput, {args.tracks} files, {mb:.0f} MB, median of {args.runs} runs")
            print(f"  sync (hash, fsync, into the cache)  {sync_rate:8.1f} MB/s")
            print(f"  curl (same files, plain files)      {curl_rate:8.1f} MB/s")
            print(f"  sync / curl                          {sync_rate / curl_rate:8.2f}")
            cpu_rate = mb / statistics.median(sync_cpu_s)
            print(f"  sync CPU (all its threads)          {cpu_rate:8.1f} MB per CPU-second")

            small = make_tracks(admin, root / "small", args.unchanged, 2000, "small")
            other = claim(admin, base_url, root / "device-2")
            admin.put_playlist("bench-small", "Unchanged", small)
            admin.assign("bench-small", devices=[other.key.device_id])
            state = root / "sync-small"
            syncer = Syncer(other, MediaCache(state / "cache"), state, lambda e: None, 1 << 40, 300)
            if syncer.sync_once().outcome != "activated":
                raise SystemExit("the unchanged set did not sync")
            passes = []
            for _ in range(21):
                started = time.perf_counter()
                outcome = syncer.sync_once().outcome
                passes.append((time.perf_counter() - started) * 1000)
                assert outcome == "unchanged", outcome
            boot = []
            for _ in range(5):
                fresh = Syncer(
                    other, MediaCache(state / "cache"), state, lambda e: None, 1 << 40, 300
                )
                started = time.perf_counter()
                fresh.sync_once()
                boot.append((time.perf_counter() - started) * 1000)
            etag = syncer.etag or ""
            plain = []
            for _ in range(21):
                started = time.perf_counter()
                with other.get("/v1/device/playlists", headers={"If-None-Match": etag}) as r:
                    assert r.status_code == 304, r.status_code
                plain.append((time.perf_counter() - started) * 1000)
            curl_ms = [t * 1000 for t in curl_conditional(other, etag, 21)]
            print(f"no-change pass, {args.unchanged} unchanged tracks (304), median ms")
            print(f"  sync_once                           {statistics.median(passes):8.1f}")
            print(f"  first pass after a restart (stats)  {statistics.median(boot):8.1f}")
            print(f"  the same GET alone, TenantSession   {statistics.median(plain):8.1f}")
            print(f"  the same GET with curl (a process)  {statistics.median(curl_ms):8.1f}")
        finally:
            service.terminate()
            service.wait(10)


if __name__ == "__main__":
    main()
