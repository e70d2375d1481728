"""The health gate: a slot on trial is committed only when the kiosk proves healthy.

Run once per boot as root (`jukebox update health`, jukebox-update-health.service, after
jukebox.service). A boot is *on trial* when the booted slot is not the one committed last
(``health.json``'s ``committed``). Then, within `limit_s`, the daemon must have reached READY
(jukebox.service active: it is Type=notify), the tenant (enrolled and answering) and the MQTT
broker (connected), which it says in ``$RUNTIME_DIRECTORY/health.json``. If so: `rauc status
mark-good`, the slot is committed. If not: `mark-bad` and a reboot, and the boot script takes
the old slot, where this gate reports the rollback and why.

A boot that is not on trial (the committed slot, or the first boot of a new card) is marked
good once READY whatever the network does: a library without network must not make its kiosk
reject its only good slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from device.update import status
from device.update.rauc import InstallFailed, Updater

log = logging.getLogger(__name__)

T = TypeVar("T")
LIMIT_S = 600.0  # READY, tenant and MQTT within ten minutes of the gate's start
POLL_S = 5.0


@dataclass(frozen=True)
class Signals:
    """What the gate sees at one moment."""

    ready: bool
    tenant: bool
    mqtt: bool
    failed: bool = False  # jukebox.service failed and systemd will not restart it

    def missing(self) -> list[str]:
        return [
            name
            for name, ok in (("READY", self.ready), ("tenant", self.tenant), ("MQTT", self.mqtt))
            if not ok
        ]


def verdict(signals: Signals, *, on_trial: bool, elapsed_s: float, limit_s: float) -> str:
    """``good``, ``bad`` or ``wait``: the gate's decision at one moment (pure). A slot on
    trial whose daemon failed for good (a configuration error: systemd does not restart it)
    is bad at once: waiting out the limit would only keep the library silent longer."""
    needed = signals.missing() if on_trial else ([] if signals.ready else ["READY"])
    if not needed:
        return "good"
    if on_trial and signals.failed and not signals.ready:
        return "bad"
    if elapsed_s >= limit_s:
        return "bad" if on_trial else "wait"  # the committed slot is never rejected
    return "wait"


def run_gate(
    state_dir: Path,
    updater: Updater,
    signals: Callable[[], Signals],
    *,
    reboot: Callable[[], None],
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
    limit_s: float = LIMIT_S,
    poll_s: float = POLL_S,
) -> dict[str, Any]:
    """Wait for a verdict, act on it, write and return the health record."""
    base = status.folder(state_dir)
    previous = status.read(base / status.HEALTH) or {}
    install = status.read(base / status.INSTALL) or {}
    started = monotonic()

    def patiently(call: Callable[[], T], what: str) -> T:
        """RAUC's service may still be starting, or busy with an install (it answers one
        request at a time): ask again, within the gate's limit."""
        while True:
            try:
                return call()
            except InstallFailed as exc:
                if monotonic() - started >= limit_s:
                    raise
                log.warning("%s: %s; asking again", what, exc)
                sleep(poll_s)

    slots = patiently(updater.slots, "slots unknown yet")
    booted = slots.booted
    committed = previous.get("committed")
    version = next((s.version for s in slots.slots if s.name == booted), None)
    # On trial: not the committed slot; or, before any commit (an update installed before the
    # card's first gate ran), the slot holding the version just installed.
    on_trial = (committed is not None and booted != committed) or (
        committed is None
        and install.get("phase") == status.INSTALLED
        and version is not None
        and version == install.get("target")
    )
    seen = signals()
    while (decision := verdict(seen, on_trial=on_trial, elapsed_s=monotonic() - started,
                               limit_s=limit_s)) == "wait":  # fmt: skip
        if not on_trial and monotonic() - started >= limit_s:
            break  # not on trial and never READY: systemd restarts the daemon; decide nothing
        sleep(poll_s)
        seen = signals()
    record: dict[str, Any] = {"seq": status.next_seq(state_dir), **slots.as_json()}
    seen_seq = install.get("seq")  # the install this verdict judged (status.judged_seq)
    record["install_seq"] = seen_seq if isinstance(seen_seq, int) else 0
    target = install.get("target") if isinstance(install.get("target"), str) else version
    if target:
        record["target"] = target
    if decision == "good":
        patiently(lambda: updater.mark(True), "mark-good not done yet")
        try:  # as they are now: read before the mark, the slot on trial was "booted bad"
            record.update(updater.slots().as_json())
        except InstallFailed as exc:
            log.warning("slots not read again after mark-good: %s", exc)
        record["committed"] = booted
        if on_trial:
            record.update(phase=status.COMMITTED, result=f"slot {booted} ({version}) committed")
            log.info("slot %s committed: READY, tenant and MQTT up", booted)
        elif previous.get("phase") == status.REBOOTING:
            record.update(phase=status.ROLLED_BACK, result=str(previous.get("result", ""))[:300])
            log.error("rollback reported: running %s on slot %s; %s", version, booted,
                      record["result"])  # fmt: skip
        elif _never_came_up(install, previous, version):
            why = (
                f"rolled back: slot with {install.get('target')} never reached the health gate "
                "(a hang caught by the watchdog, or boots that died early)"
            )
            log.error("rollback reported: running %s on slot %s; %s", version, booted, why)
            record.update(phase=status.ROLLED_BACK, result=why)
        else:
            record.update({k: previous[k] for k in ("phase", "result") if k in previous})
    elif decision == "bad":
        if seen.failed and not seen.ready:
            why = f"slot {booted} ({version}) not healthy: jukebox.service failed, "
        else:
            why = f"slot {booted} ({version}) not healthy within {limit_s:.0f} s: "
        why += "no " + ", no ".join(seen.missing())
        log.error("%s; back to slot %s", why, committed)
        record.update(committed=committed, phase=status.REBOOTING, result=f"rolled back: {why}")
        try:
            updater.mark(False)
        except InstallFailed as exc:
            log.error("mark-bad failed (the boot count still falls back): %s", exc)
        status.write(base / status.HEALTH, record)
        reboot()
        return record
    else:
        record["committed"] = committed
        record.update({k: previous[k] for k in ("phase", "result") if k in previous})
    if record.get("committed") is None and decision == "good":
        record["committed"] = booted
    status.write(base / status.HEALTH, record)
    return record


def _never_came_up(install: dict[str, Any], previous: dict[str, Any], version: str | None) -> bool:
    """An install newer than the last verdict, yet the committed slot booted: the new slot's
    one try was spent (RAUC made it the next boot's) without reaching this gate."""
    seq_install = install.get("seq", 0)
    return (
        install.get("phase") == status.INSTALLED
        and isinstance(seq_install, int)
        and seq_install > status.judged_seq(previous)
        and install.get("target") != version
    )
