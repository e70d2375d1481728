"""Logging set-up: journald-friendly under systemd, readable timestamps in a terminal.

A bounded ring buffer of recent lines (`RecentLogs`, installed by `setup_logging`) answers the
tenant's remote `diagnostics` command without reading the journal; secrets are scrubbed from
every line as it is stored, so none can leave the device that way.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import sys
import threading
import time

PRIORITIES = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class JournalFormatter(logging.Formatter):
    """`<N>` syslog priority prefixes, which journald turns into the entry's priority."""

    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


RECENT_CAPACITY = 500  # lines kept in memory for remote diagnostics
MAX_LINE_CHARS = 300
REDACTED = "[redacted]"
_SECRET_WORDS = (
    r"(?:access_?token|refresh_?token|id_?token|token|password|passwd|pass|psk|secret|"
    r"client_secret|api_?key|authorization|cookie|enrollment_token|assertion|credentials?)"
)
_SECRETS = (
    # key=value, key: value, "key": "value" (JSON and reprs), case-insensitive
    re.compile(
        rf"""(?i)(["']?\b\w*{_SECRET_WORDS}["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,;&}}\]]+)"""
    ),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),  # HTTP authorisation values
    re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"\bjk(?:adm|at)_[A-Za-z0-9_-]+"),  # the tenant's admin and access tokens
    re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+(?=@)"),  # passwords inside URLs
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
)


def scrub(text: str) -> str:
    """`text` without anything that looks like a token, password, key or credential."""
    for pattern in _SECRETS:
        text = pattern.sub(_redact, text)
    return text


def _redact(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.re.groups else ""
    if prefix.lower() in ("bearer", "basic"):
        return f"{prefix} {REDACTED}"
    return f"{prefix}{REDACTED}"


class RecentLogs(logging.Handler):
    """The last `capacity` log lines, scrubbed and cut to `MAX_LINE_CHARS`, in memory only."""

    def __init__(self, capacity: int = RECENT_CAPACITY, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self._guard = threading.Lock()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            line = scrub(f"{stamp}Z {self.format(record)}").encode("utf-8", "replace").decode()
            if len(line) > MAX_LINE_CHARS:
                line = line[: MAX_LINE_CHARS - 1] + "…"
            with self._guard:
                self._lines.append(line)
        except Exception:
            self.handleError(record)

    def lines(self, count: int) -> list[str]:
        """The newest `count` lines, oldest first."""
        with self._guard:
            recent = list(self._lines)
        return recent[-count:] if count > 0 else []


RECENT = RecentLogs()


def recent_lines(count: int) -> list[str]:
    """What the daemon logged lately (what `setup_logging` kept), for remote diagnostics."""
    return RECENT.lines(count)


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler, RECENT]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("PIL", "luma"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
