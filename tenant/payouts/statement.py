"""A computed statement: immutable, with canonical bytes that can be hashed and signed.

The canonical form is JSON (UTF-8, sorted keys, no spaces) of `Statement.as_dict()`; lines are
sorted, so the same statement always gives the same bytes, and a closed statement's bytes are
what the tenant signs with its Ed25519 key and what a label checks with the tenant's public key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tenant.payouts.model import PayoutRules, Period

LineKind = Literal["regular", "adjustment"]
UNATTRIBUTED = ""  # holder id of the money of tracks with no known rights holder
FORMAT = "jukebox-payout-statement/1"


class Line(NamedTuple):
    """What one library's money paid one rights holder for one track in this statement.

    `kind` is "adjustment" for plays of an earlier, already closed period that arrived after it
    closed. `counted_plays` and `listened_ms` are the track's whole figures at that library (a
    track with two holders shows them on both lines; the money is split by share). A named
    tuple, not a dataclass: a month has hundreds of thousands of lines, and tuples build fast.
    """

    library: str
    holder_id: str  # UNATTRIBUTED ("") when the track has no known rights holder
    track_id: str
    kind: LineKind
    currency: str
    counted_plays: int
    listened_ms: int
    amount_minor: int  # library-centric
    pro_rata_minor: int  # the same plays under the pooled pro-rata method, for comparison


@dataclass(frozen=True, slots=True)
class LibraryTotal:
    """One library's subscription and where it went; `unallocated_minor` is money of a library
    whose kiosks had no counted play (held, not spread over other libraries' music)."""

    library: str
    currency: str
    amount_minor: int
    counted_plays: int
    listened_ms: int
    unattributed_minor: int
    unallocated_minor: int


@dataclass(frozen=True, slots=True)
class Pool:
    """The pro-rata pool of one currency: every subscription in it, split by all counted plays."""

    currency: str
    amount_minor: int
    counted_plays: int
    unallocated_minor: int


@dataclass(frozen=True, slots=True)
class TrackInfo:
    id: str
    isrc: str
    artist: str
    title: str


@dataclass(frozen=True, slots=True)
class InputCounts:
    """What the computation was given, beside the statement (not part of its bytes: a repeated
    delivery or a later play outside the window does not change a statement). Duplicates (same
    event id, same content) were counted once; `outside` were not in the statement's window."""

    given: int
    duplicates: int
    outside: int


@dataclass(frozen=True, slots=True)
class PlayCounts:
    """The plays of the statement's window (each one hashed), and how many the rules counted."""

    selected: int
    regular: int
    adjustments: int
    counted: int
    not_counted: int


@dataclass(frozen=True, slots=True)
class Statement:
    period: Period
    rules: PayoutRules
    previous_cutoff_ms: int | None  # plays received after this (and played earlier) = adjustments
    cutoff_ms: int | None  # plays received after this are left for the next period
    plays_sha256: str
    plays: PlayCounts
    libraries: tuple[LibraryTotal, ...]
    pools: tuple[Pool, ...]
    lines: tuple[Line, ...]
    holders: tuple[tuple[str, str], ...]  # (id, name) of the holders named in lines
    tracks: tuple[TrackInfo, ...]  # the tracks named in lines
    unattributed_tracks: tuple[str, ...]  # counted tracks with no known rights holder
    unsubscribed_sites: tuple[tuple[str, int], ...]  # (site, counted plays): no library pays
    given: InputCounts = field(default=InputCounts(0, 0, 0), compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "period": {
                "name": self.period.name,
                "start_ms": self.period.start_ms,
                "end_ms": self.period.end_ms,
            },
            "rules": self.rules.as_dict(),
            "previous_cutoff_ms": self.previous_cutoff_ms,
            "cutoff_ms": self.cutoff_ms,
            "plays_sha256": self.plays_sha256,
            "plays": _fields(self.plays),
            "libraries": [_fields(item) for item in self.libraries],
            "pools": [_fields(item) for item in self.pools],
            "line_columns": list(Line._fields),
            "lines": [list(line) for line in self.lines],
            "holders": [list(pair) for pair in self.holders],
            "tracks": [[t.id, t.isrc, t.artist, t.title] for t in self.tracks],
            "unattributed_tracks": list(self.unattributed_tracks),
            "unsubscribed_sites": [list(pair) for pair in self.unsubscribed_sites],
        }

    def canonical_bytes(self) -> bytes:
        return json.dumps(
            self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def holder_name(self, holder_id: str) -> str:
        if holder_id == UNATTRIBUTED:
            return "(no known rights holder: held)"
        return dict(self.holders).get(holder_id, holder_id)

    def track_index(self) -> dict[str, TrackInfo]:
        """Track id -> its ISRC, artist and title (a track not listed has them empty)."""
        return {info.id: info for info in self.tracks}


def _fields(value: object) -> dict[str, object]:
    return {name: getattr(value, name) for name in type(value).__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """A closed statement as it is kept: its canonical bytes and their Ed25519 signature."""

    body: bytes
    signature: bytes


def sign_statement(statement: Statement, key: Ed25519PrivateKey) -> SignedStatement:
    body = statement.canonical_bytes()
    return SignedStatement(body, key.sign(body))


def verify_statement(signed: SignedStatement, key: Ed25519PublicKey) -> dict[str, object]:
    """The statement's content if the signature holds; PayoutSignatureError otherwise."""
    try:
        key.verify(signed.signature, signed.body)
    except InvalidSignature:
        raise PayoutSignatureError(
            "statement: signature: does not match the statement's bytes and this key"
        ) from None
    content: dict[str, object] = json.loads(signed.body)
    return content


class PayoutSignatureError(ValueError):
    """A signed statement whose signature does not hold."""


def statement_from_bytes(body: bytes) -> Statement:
    """The statement whose canonical bytes are `body` (a closed statement, read back to write
    its CSV and PDF): `statement_from_bytes(s.canonical_bytes()).canonical_bytes()` is the
    same bytes. Raises ValueError when `body` is not a statement of this format."""
    data: dict[str, Any] = json.loads(body)
    if data.get("format") != FORMAT:
        raise ValueError(f"statement: format: {data.get('format')!r}, expected {FORMAT}")
    period = data["period"]
    rules = data["rules"]
    return Statement(
        period=Period(period["name"], period["start_ms"], period["end_ms"]),
        rules=PayoutRules(
            counted_stream_ms=rules["counted_stream_ms"],
            counted_started_by=frozenset(rules["counted_started_by"]),
            count_error_ended=rules["count_error_ended"],
            split=rules["split"],
        ),
        previous_cutoff_ms=data["previous_cutoff_ms"],
        cutoff_ms=data["cutoff_ms"],
        plays_sha256=data["plays_sha256"],
        plays=PlayCounts(**data["plays"]),
        libraries=tuple(LibraryTotal(**item) for item in data["libraries"]),
        pools=tuple(Pool(**item) for item in data["pools"]),
        lines=tuple(Line(*item) for item in data["lines"]),
        holders=tuple((str(i), str(n)) for i, n in data["holders"]),
        tracks=tuple(TrackInfo(*item) for item in data["tracks"]),
        unattributed_tracks=tuple(data["unattributed_tracks"]),
        unsubscribed_sites=tuple((str(s), int(n)) for s, n in data["unsubscribed_sites"]),
    )
