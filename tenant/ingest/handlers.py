"""What the ingester does with the messages it receives, without MQTT: store them, and say what
to answer.

`handle_group` writes a whole group of messages in one transaction and returns the
acknowledgements to publish only once it is committed, so an ack can never announce a play
the database does not hold. Malformed messages are logged with their topic and the problem and
answered with nothing; they do not hold back the rest of their group.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError

from contract.protocol import (
    COMMAND_RESULT,
    HEARTBEAT,
    PLAYS,
    REPORTED,
    STATUS,
    DeviceTopics,
    PayloadError,
    TopicAddress,
    decode,
    encode,
    parse_topic,
)
from tenant.firmware_watch import UpdateWatch
from tenant.ingest.batch import CheckedBatch, check_batch
from tenant.store import StoredPlays, TenantStore
from tenant.store.firmware import UpdateReport
from tenant.store.reports import (
    DeviceReport,
    HeartbeatReport,
    PlaysReport,
    ResultReport,
    StateReport,
    StatusReport,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes


@dataclass
class IngestCounters:
    """Running totals since start, for logs, tests and benchmarks."""

    batches: int = 0
    plays_stored: int = 0  # stored or found already there, and acknowledged
    plays_rejected: int = 0
    malformed: int = 0
    updates: int = 0  # status, heartbeat, reported state, command results
    failures: int = 0  # the database refused a write (nothing was acknowledged)
    groups: int = 0  # transactions committed
    largest_group: int = 0  # messages in the largest of them


class DatabaseUnavailable(RuntimeError):
    """The database cannot take writes now (locked, disk full, unreachable): nothing of the
    group was stored or answered; try the same messages again later."""


@dataclass(frozen=True)
class _Batch:
    """A play batch waiting for its commit, with what its ack needs."""

    address: TopicAddress
    checked: CheckedBatch


class IngestHandler:
    def __init__(self, store: TenantStore, now_ms: Callable[[], int]) -> None:
        self.store = store
        self.now_ms = now_ms
        self.counters = IngestCounters()
        self.firmware = UpdateWatch(store)  # `update` reports; the rollout pause rule
        self._updates: list[UpdateReport] = []  # those of the group being handled

    def handle(self, topic: str, payload: bytes) -> list[Outgoing]:
        """One message on its own: a group of one."""
        return self.handle_group([(topic, payload)])

    def handle_group(self, messages: Sequence[tuple[str, bytes]]) -> list[Outgoing]:
        """Store what the messages (topic, payload) report in one transaction; the acks of
        their play batches once it is committed. DatabaseUnavailable when it could not be."""
        reports: list[DeviceReport] = []
        batches: list[_Batch | None] = []  # beside `reports`: the batch of a PlaysReport
        self._updates = []
        for topic, payload in messages:
            address = parse_topic(topic)
            if address is None:
                log.warning("ignored a message on %r: not a protocol topic", topic)
                continue
            try:
                report, batch = self._report(address, payload)
            except PayloadError as exc:
                self.counters.malformed += 1
                log.warning("malformed message on %s: %s", topic, exc)
                continue
            except Exception:  # a defect: the rest of the group goes on
                self.counters.failures += 1
                log.exception("could not read the message on %s", topic)
                continue
            if report is not None:
                reports.append(report)
                batches.append(batch)
        if not reports:
            return []
        outcomes = self._store(reports)
        self.firmware.note(self._updates, self.now_ms())  # once committed; never raises
        answers: list[Outgoing] = []
        for batch, outcome in zip(batches, outcomes, strict=True):
            if outcome is None:
                continue  # the database refused it (logged)
            if batch is None:
                self.counters.updates += 1
            else:
                assert isinstance(outcome, StoredPlays)
                answers.append(self._ack(batch, outcome))
        self.counters.groups += 1
        self.counters.largest_group = max(self.counters.largest_group, len(messages))
        return answers

    def _store(self, reports: list[DeviceReport]) -> list[StoredPlays | bool | None]:
        """Per report: its StoredPlays (plays), True (an update) or None (refused). One
        transaction for all; if the database refuses it, one per report so that a report it
        refuses does not hold back the others."""
        try:
            return self._outcomes(reports, self.store.record_reports(reports, self.now_ms()))
        except OperationalError as exc:
            raise DatabaseUnavailable(str(exc.orig or exc)) from exc
        except Exception:
            if len(reports) == 1:
                self.counters.failures += 1
                log.exception("could not store the report of %s", _device(reports[0]))
                return [None]
            log.exception("could not store a group of %d reports; one at a time", len(reports))
        return [outcome for report in reports for outcome in self._store([report])]

    @staticmethod
    def _outcomes(
        reports: list[DeviceReport], stored: list[StoredPlays]
    ) -> list[StoredPlays | bool | None]:
        outcomes = iter(stored)
        return [next(outcomes) if isinstance(r, PlaysReport) else True for r in reports]

    def _report(
        self, address: TopicAddress, payload: bytes
    ) -> tuple[DeviceReport | None, _Batch | None]:
        slug, device_id = address.tenant, address.device_id
        if address.leaf == PLAYS:
            checked = check_batch(address, payload)
            for problem in checked.unnamed:
                log.warning(
                    "%s: batch %s: dropped a play without event id: %s",
                    device_id,
                    checked.batch_id,
                    problem,
                )
            return PlaysReport(slug, device_id, checked.plays), _Batch(address, checked)
        if not payload:
            return None, None  # a retained message being cleared
        if address.leaf == STATUS:
            status = decode("status", payload)
            report: DeviceReport = StatusReport(
                slug, device_id, status["online"], status.get("reason"), status.get("boot_id")
            )
        elif address.leaf == HEARTBEAT:
            heartbeat = decode("heartbeat", payload)
            self._note_update(slug, device_id, heartbeat.get("update"))
            report = HeartbeatReport(slug, device_id, _json(heartbeat))
        elif address.leaf == REPORTED:
            reported = decode("reported-state", payload)
            self._note_update(slug, device_id, reported.get("update"))
            missing = reported.get("missing")
            report = StateReport(
                slug,
                device_id,
                reported["version"],
                reported["status"],
                reported.get("problem"),
                None if missing is None else _json(missing),
            )
        elif address.leaf == COMMAND_RESULT:
            result = decode("command-result", payload)
            if result["request_id"] is None:
                log.warning(
                    "%s/%s could not read a command: %s",
                    slug,
                    device_id,
                    result.get("error", "(no error given)"),
                )
                return None, None
            body = result.get("result")
            report = ResultReport(
                slug,
                device_id,
                result["request_id"],
                result.get("command"),
                result["ok"],
                result.get("error"),
                None if body is None else _json(body),
            )
        else:
            return None, None  # a tenant -> device topic: not ours to store
        return report, None

    def _note_update(self, slug: str, device_id: str, update: Any) -> None:
        if isinstance(update, dict) and update:
            self._updates.append(UpdateReport(slug, device_id, update, self.now_ms()))

    def _ack(self, batch: _Batch, outcome: StoredPlays) -> Outgoing:
        address, checked = batch.address, batch.checked
        rejected = checked.rejected + [
            {"event_id": e, "problem": "this event id is already stored for another device"}
            for e in outcome.foreign
        ]
        ack: dict[str, Any] = {"v": 1, "batch_id": checked.batch_id, "event_ids": outcome.stored}
        if rejected:
            ack["rejected"] = rejected
            log.warning(
                "%s/%s: batch %s: %d play(s) rejected, first: %s",
                address.tenant,
                address.device_id,
                checked.batch_id,
                len(rejected),
                rejected[0],
            )
        self.counters.batches += 1
        self.counters.plays_stored += len(outcome.stored)
        self.counters.plays_rejected += len(rejected)
        log.debug(
            "%s/%s: batch %s: %d play(s) stored",
            address.tenant,
            address.device_id,
            checked.batch_id,
            len(outcome.stored),
        )
        topics = DeviceTopics(address.tenant, address.device_id)
        return Outgoing(topics.ack, encode("play-ack", ack))


def _device(report: DeviceReport) -> str:
    return f"{report.tenant}/{report.device_id}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
