"""Sends the journal's finished plays to the tenant, and deletes exactly those it acknowledges.

The journal is the outbox (device/journal/outbox.py): nothing is held here that the file does
not hold, so a crash anywhere only causes a resend, which the ingester recognises by event id.

One thread ("mqtt-plays", a device/platform/mailbox.py Mailbox) owns all the state below.
Everything else (the network thread's PUBACKs and acks, a connect, a wake-up) arrives in its
mailbox; after the messages waiting are handled, the journal is looked at once. Batches go
out oldest first (by ``seq``), at most `max_in_flight` at a time; a batch is in flight until
every play in it is acknowledged (or rejected for good). A failed PUBACK is retried with
backoff; a batch without an ack within `ack_timeout_s` is sent again, and so is every
unacknowledged batch on a (re)connect: a restarted broker may have had no ingester subscribed
when it took them. At a clean stop, `flush` gives what just finished (the play the stop ended)
a bounded chance to be delivered rather than waiting in the outbox for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from contract.protocol import DeviceTopics, PayloadError, decode
from contract.protocol.payloads import MAX_PAYLOAD_BYTES
from device.domain import EventId
from device.journal.outbox import JournalError, PlayJournal, WirePlay
from device.mqtt.transport import Outgoing, Published, PublishRef
from device.platform.backoff import Backoff
from device.platform.mailbox import Mailbox
from device.platform.priority import lower_this_thread

__all__ = ["PlayPublisher", "PublisherStats"]

log = logging.getLogger(__name__)

# 250 plays (about 120 KB) per batch and 4 in flight: bench/report_flush.py measured about
# 6,000 reports/s end to end through the real ingester, against 4,600 with 100 per batch.
BATCH_SIZE = 250
MAX_IN_FLIGHT = 4
ACK_TIMEOUT_S = 10.0  # an ingester acks in milliseconds; a resend is stored once anyway
POLL_S = 1.0  # how often the journal is looked at for newly finished plays
ERROR_MAX = 500  # the schema's bound on a play's error text


@dataclass
class _Batch:
    batch_id: str
    plays: dict[EventId, str]  # each play's JSON, still waiting for the ingester, in seq order
    last_seq: int
    sent: PublishRef | None = None  # the publish waiting for its PUBACK
    pubacked: bool = False
    due: float = 0.0  # when to send (again): now, after a backoff, or at the ack timeout
    attempts: int = 0
    payload: bytes | None = None  # encoded once; None again when an ack removes plays


@dataclass(frozen=True)
class _Connected:
    generation: int


@dataclass(frozen=True)
class _Disconnected:
    generation: int


@dataclass(frozen=True)
class _Acked:
    payload: bytes


@dataclass(frozen=True)
class _Flush:
    done: threading.Event  # set once the outbox holds no finished play


_Event = _Connected | _Disconnected | Published | _Acked | _Flush


@dataclass
class PublisherStats:
    """Counters for diagnostics, tests and the benchmark."""

    batches_sent: int = 0
    resends: int = 0
    puback_failures: int = 0
    acked: int = 0
    rejected: int = 0
    connected: bool = False
    in_flight: int = 0


class PlayPublisher:
    def __init__(
        self,
        journal: PlayJournal,
        topics: DeviceTopics,
        send: Callable[[Outgoing], PublishRef | None],
        *,
        batch_size: int = BATCH_SIZE,
        max_in_flight: int = MAX_IN_FLIGHT,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        poll_s: float = POLL_S,
        backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= 500:
            raise ValueError("batch_size must be between 1 and 500 (the schema's bound)")
        self.journal = journal
        self.topics = topics
        self._send = send
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.ack_timeout_s = ack_timeout_s
        self.poll_s = poll_s
        self.backoff = backoff or Backoff(base_s=1.0, cap_s=60.0)
        self._monotonic = monotonic
        self._mailbox: Mailbox[_Event] = Mailbox(
            "mqtt-plays",
            self._handle_safely,
            tick=self._pump_safely,
            next_deadline=self._next_deadline,
            max_wait_s=poll_s,
            min_wait_s=min(0.01, poll_s),
            monotonic=monotonic,
        )
        self._retry_at = 0.0  # after a failure, the journal is left alone until then
        self._batches: dict[str, _Batch] = {}
        self._by_ref: dict[PublishRef, str] = {}
        self._generation: int | None = None  # the connection we are on, None when offline
        self._cursor = 0  # the highest seq put in a batch since the outbox was last in step
        self._flushes: list[threading.Event] = []
        self._lowered = False  # the mailbox thread's priority, set at its first tick
        self.stats = PublisherStats()

    # ------------------------------------------------------------------ any thread

    def connected(self, generation: int) -> None:
        self._mailbox.post(_Connected(generation))

    def disconnected(self, generation: int) -> None:
        self._mailbox.post(_Disconnected(generation))

    def published(self, ref: PublishRef, problem: str | None) -> None:
        self._mailbox.post(Published(ref, problem))

    def acknowledged(self, payload: bytes) -> None:
        self._mailbox.post(_Acked(payload))

    def wake(self) -> None:
        """Look at the journal now rather than at the next poll."""
        self._mailbox.wake()

    def flush(self, timeout_s: float) -> bool:
        """Look at the journal now and wait until every finished play is acknowledged: True,
        or False after `timeout_s` (offline, no ack yet: they stay for the next start)."""
        if not self._mailbox.running:
            return False
        done = threading.Event()
        self._mailbox.post(_Flush(done))
        return done.wait(timeout_s)

    def start(self) -> None:
        """Publish on the "mqtt-plays" thread until `close`."""
        self._mailbox.wake()
        self._mailbox.start()

    def close(self) -> None:
        self._mailbox.stop()

    # ------------------------------------------------------------------ the thread

    def _next_deadline(self) -> float:
        """When the next batch is due, or the next look at the journal after a failure."""
        if self._retry_at > self._monotonic():
            return self._retry_at
        return min((batch.due for batch in self._batches.values()), default=float("inf"))

    def _handle_safely(self, event: _Event) -> None:
        try:
            self._handle(event)
        except Exception as exc:
            self._failed(exc)

    def _pump_safely(self) -> None:
        """Never raises: a failing journal is looked at again after a backoff."""
        if not self._lowered:  # a flush of a day of plays must not delay a visitor's press
            self._lowered = True
            lower_this_thread()
        if self._monotonic() < self._retry_at:
            return
        try:
            self._pump()
        except Exception as exc:
            self._failed(exc)
            return
        if self._flushes and self._generation is not None and not self._batches:
            for done in self._flushes:  # no batch after a look at the journal: all delivered
                done.set()
            self._flushes.clear()

    def _failed(self, exc: Exception) -> None:
        delay = self.backoff.next_delay()
        self._retry_at = self._monotonic() + delay
        if isinstance(exc, JournalError):
            log.error("play outbox: %s; retrying in %.1f s", exc, delay)
        else:
            log.exception("play publisher failed unexpectedly; retrying in %.1f s", delay)

    def _handle(self, event: _Event) -> None:
        if isinstance(event, _Connected):
            self._generation = event.generation
            self.stats.connected = True
            self._by_ref = {r: b for r, b in self._by_ref.items() if r[0] == event.generation}
            # Everything not acknowledged goes again now: what the old connection lost, and
            # what the broker took but may have had no ingester for (a restarted mosquitto
            # does not restore shared subscriptions). The ingester stores a play once.
            for batch in self._batches.values():
                batch.sent, batch.pubacked, batch.due = None, False, 0.0
        elif isinstance(event, _Disconnected):
            if event.generation == self._generation:
                self._generation = None
                self.stats.connected = False
        elif isinstance(event, Published):
            self._on_puback(event.ref, event.problem)
        elif isinstance(event, _Acked):
            self._on_ack(event.payload)
        elif isinstance(event, _Flush):
            self._flushes.append(event.done)

    # ------------------------------------------------------------------ sending

    def _pump(self) -> None:
        if self._generation is None:
            return
        now = self._monotonic()
        for batch in list(self._batches.values()):
            if batch.due <= now:
                if batch.sent is not None or batch.pubacked:
                    log.warning(
                        "no ack for play batch %s (%d plays) in %.0f s: sending it again",
                        batch.batch_id,
                        len(batch.plays),
                        self.ack_timeout_s,
                    )
                self._publish(batch, now)
        while len(self._batches) < self.max_in_flight:
            plays = self.journal.finished_wire_after(
                self._cursor, self.batch_size, error_max=ERROR_MAX
            )
            plays = [p for p in plays if not self._in_flight(p.event_id)]
            if not plays:
                break
            batch = self._new_batch(plays)
            self._cursor = batch.last_seq
            self._batches[batch.batch_id] = batch
            self._publish(batch, now)
            if self._generation is None:
                break
        self.stats.in_flight = len(self._batches)

    def _new_batch(self, plays: list[WirePlay]) -> _Batch:
        """A batch of the oldest `plays` whose payload fits the protocol's size limit."""
        while True:
            batch = _Batch(
                batch_id=uuid.uuid4().hex,
                plays={p.event_id: p.json for p in plays},
                last_seq=plays[-1].seq,
            )
            batch.payload = _encode(batch)
            if len(batch.payload) <= MAX_PAYLOAD_BYTES or len(plays) == 1:
                return batch
            plays = plays[: len(plays) // 2]  # long texts: fewer plays per batch

    def _in_flight(self, event_id: EventId) -> bool:
        return any(event_id in batch.plays for batch in self._batches.values())

    def _publish(self, batch: _Batch, now: float) -> None:
        if batch.payload is None:
            batch.payload = _encode(batch)
        ref = self._send(Outgoing(self.topics.plays, batch.payload))
        if ref is None:  # offline: sent again on the next connect
            batch.sent, batch.pubacked, batch.due = None, False, float("inf")
            self._generation = None
            return
        batch.attempts += 1
        if batch.attempts > 1:
            self.stats.resends += 1
        self.stats.batches_sent += 1
        batch.sent, batch.pubacked = ref, False
        batch.due = now + self.ack_timeout_s
        self._by_ref[ref] = batch.batch_id
        log.debug("play batch %s sent: %d plays", batch.batch_id, len(batch.plays))

    def _on_puback(self, ref: PublishRef, problem: str | None) -> None:
        batch_id = self._by_ref.pop(ref, None)
        batch = self._batches.get(batch_id) if batch_id else None
        if batch is None or batch.sent != ref:
            return  # an older attempt, or a batch already acknowledged
        if problem is None:
            batch.pubacked = True
            self.backoff.reset()
            return
        self.stats.puback_failures += 1
        delay = self.backoff.next_delay()
        log.warning(
            "broker refused play batch %s (%s): sending it again in %.1f s",
            batch.batch_id,
            problem,
            delay,
        )
        batch.sent, batch.pubacked = None, False
        batch.due = self._monotonic() + delay

    # ------------------------------------------------------------------ acks

    def _on_ack(self, payload: bytes) -> None:
        try:
            ack = decode("play-ack", payload)
        except PayloadError as exc:
            log.error("play ack ignored: %s", exc)
            return
        acked = [EventId(e) for e in ack["event_ids"]]
        rejected = ack.get("rejected", [])
        for item in rejected:
            log.error(
                "the tenant rejected play %s for good and it is dropped: %s",
                item["event_id"],
                item["problem"],
            )
        done = acked + [EventId(item["event_id"]) for item in rejected]
        # Acked ids are deleted even when no batch of ours holds them (an ack for a batch a
        # previous run sent): the ingester has committed them, which is all that matters.
        deleted = self.journal.delete_finished(done) if done else 0
        self.stats.acked += len(acked)
        self.stats.rejected += len(rejected)
        owner = self._batches.get(ack["batch_id"])
        for event_id in done:
            if owner is not None and owner.plays.pop(event_id, None) is not None:
                owner.payload = None  # the usual case: one lookup, not one per batch in flight
                continue
            for batch in self._batches.values():
                if batch.plays.pop(event_id, None) is not None:
                    batch.payload = None
        for batch_id in [b.batch_id for b in self._batches.values() if not b.plays]:
            del self._batches[batch_id]
        if not self._batches:
            self._cursor = 0  # in step again: a later look starts from the oldest row
        self.stats.in_flight = len(self._batches)
        log.debug(
            "ack for batch %s: %d stored, %d rejected, %d rows deleted",
            ack["batch_id"],
            len(acked),
            len(rejected),
            deleted,
        )


def _encode(batch: _Batch) -> bytes:
    """The play-batch payload, joined from the plays' JSON as the journal made it.

    Not checked against the schema here (50 ms per 100 plays): the journal's constraints hold
    the values, and a play the ingester finds invalid comes back as rejected. The batch id is
    uuid hex, which JSON takes as it is.
    """
    plays = ",".join(batch.plays.values())
    return f'{{"v":1,"batch_id":"{batch.batch_id}","plays":[{plays}]}}'.encode()
