"""Tunable durations and limits of the service; the defaults are those of docs/tenant-api.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TenantSettings:
    """Everything a test or a deployment may want to change; times are in seconds."""

    claim_code_ttl_s: float = 900.0
    poll_interval_s: float = 5.0
    slow_down_step_s: float = 5.0
    # Long polling (tenant/claim_wait.py): a pending device's token poll is held open up to this
    # long and answered as soon as it is claimed; 0 turns it off. A kiosk that says how long it
    # waits (`Prefer: wait=25`, RFC 7240) is held up to that too, and polls again at once after
    # a hold longer than its interval; a client that does not say is held up to 90% of its
    # interval. Keep it below the read timeout of any proxy in front of the service (nginx: 60 s).
    claim_poll_hold_s: float = 20.0
    claim_poll_recheck_s: float = 1.0  # a held poll re-reads its device: claims by other processes
    claim_poll_waiters: int = 16  # polls held at once, each on a worker thread; more: at once
    access_token_ttl_s: float = 600.0
    assertion_max_lifetime_s: float = 300.0
    clock_leeway_s: float = 30.0
    # The tenant base URLs devices may name as audience, besides the one the request came to
    # (useful behind a reverse proxy): e.g. ("https://jukebox.example.org",) for the service.
    public_urls: tuple[str, ...] = ()
    max_json_body: int = 256 * 1024
    max_media_size: int = 2 * 1024**3
    last_contact_resolution_s: float = 10.0
    # A play counts as a stream when listened to for at least this long (the tenant's rule,
    # applied in `jukebox admin plays`; devices report every play with its listened time).
    counted_stream_s: float = 30.0
    # Failed staff logins allowed per account and per client address in a sliding window.
    login_window_s: float = 900.0
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)
