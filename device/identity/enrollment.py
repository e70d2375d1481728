"""The kiosk's standing with its tenant, kept up on its own thread: claim, active, revoked.

The flow is RFC 8628's device authorization grant with Mender's pending/accept: the kiosk
enrolls its public key and shows the claim code it gets; an admin claims it for a site; the
kiosk polls /v1/token, the first time at once, then at the tenant's `interval` (+5 s on
`slow_down`) counted from the start of one poll to the start of the next, and on the claim
receives its credentials and stores them. The tenant holds a poll open (long polling, up to the
`Prefer: wait` the client sends) and answers it the moment the code is claimed; a hold longer
than the interval is followed by the next poll at once, so a poll is always waiting at the
tenant and a claim is answered within a round trip, with no more requests than one per
interval. Stopping does not wait for a held poll's answer (it runs on a thread of its own).
A code that expires is replaced by a new one. A revoked kiosk
says so and keeps enrolling slowly, so an admin can claim it again with a new code, without a
reinstall and under the same device id.

Nothing here blocks the kiosk: the core only ever sees EnrollmentChanged events on its sink,
and keeps playing its cache whatever the tenant says or however long it is unreachable.
(Past 400 lines on purpose: one state machine, its steps and callbacks read best together.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.events import EnrollmentChanged, EnrollmentState, EventSink
from device.identity.credentials import Credentials, load_credentials
from device.identity.keys import DeviceKey
from device.platform.backoff import Backoff
from device.tenant_api.client import TenantClient, TokenGrant
from device.tenant_api.errors import (
    ClaimExpired,
    DeviceRevoked,
    NotClaimed,
    SlowDown,
    TenantError,
    TenantRefused,
    TenantUnreachable,
)
from device.tenant_api.session import TenantSession

__all__ = ["Enrollment"]

log = logging.getLogger(__name__)
NUDGE_CHECK_S = 0.25

# A step does one exchange with the tenant and says what to do next, and after how long.
_Step = Callable[[], "tuple[_Step, float]"]


@dataclass
class _Claim:
    code: str
    interval: float  # seconds between polls; grows on slow_down


class Enrollment:
    """Run `run(stop)` on a thread of its own; read `status`, or wait with `wait_until_active`.

    `sleep(seconds)`, when given, replaces the stop-interruptible wait between steps (tests
    record the delays and fast-forward). `monotonic` times token renewal.
    """

    def __init__(
        self,
        state_dir: Path,
        client: TenantClient,
        key: DeviceKey,
        sink: EventSink,
        firmware_version: str,
        *,
        enrollment_token: str | None = None,
        check_interval_s: float = 60.0,
        revoked_poll_s: float = 5.0,
        slow_down_step_s: float = 5.0,
        backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.client = client
        self.key = key
        self.firmware_version = firmware_version
        self.enrollment_token = enrollment_token
        self.check_interval_s = check_interval_s
        self.revoked_poll_s = revoked_poll_s
        self.slow_down_step_s = slow_down_step_s
        self.backoff = backoff or Backoff(base_s=2.0, cap_s=300.0)
        self._sink = sink
        self._monotonic = monotonic
        self._sleep = sleep
        self.session = TenantSession(
            client,
            key,
            monotonic=monotonic,
            on_grant=self._granted,
            on_revoked=self._revoked,
        )
        self._changed = threading.Condition()
        self._status: EnrollmentChanged | None = None  # the last event posted
        self._standing: EnrollmentChanged | None = None  # what to show when the tenant answers
        self._credentials: Credentials | None = None
        self._claim: _Claim | None = None
        self._revoked_mode = False
        self._stop = threading.Event()
        self._nudge = threading.Event()  # another thread learnt something: act now

    # ------------------------------------------------------------------ observing

    @property
    def device_id(self) -> str:
        return self.key.device_id

    @property
    def status(self) -> EnrollmentChanged:
        """The last EnrollmentChanged posted to the core ("enrolling" before the first)."""
        with self._changed:
            return self._status or EnrollmentChanged("enrolling")

    @property
    def credentials(self) -> Credentials | None:
        """What the last token grant said (or the stored file, until one arrives)."""
        with self._changed:
            return self._credentials

    def wait_until_active(self, timeout: float | None = None) -> bool:
        """Block until the device is claimed and its tenant reachable; False on timeout."""
        return self.wait_for("active", timeout)

    def wait_for(self, state: EnrollmentState, timeout: float | None = None) -> bool:
        """Block until the last posted state is `state`; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._status is not None and self._status.state == state, timeout
            )

    # ------------------------------------------------------------------ the thread

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run on a daemon thread of its own (named "enrollment") until `stop` is set."""
        thread = threading.Thread(target=self.run, args=(stop,), name="enrollment", daemon=True)
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        """Keep the kiosk enrolled until `stop` is set; never raises."""
        self._stop = stop
        log.info("device %s, tenant %s", self.key.device_id, self.client.base_url)
        step: _Step = self._boot
        while not stop.is_set():
            try:
                step, delay = step()
            except TenantUnreachable as exc:
                self._unreachable(exc)
                delay = self.backoff.next_delay()
                log.info("tenant unreachable (%s): retrying in %.1f s", exc, delay)
            except TenantRefused as exc:
                # A request the tenant will not take as it is (wrong URL, unknown tenant,
                # key refused): shown to the technician, retried slowly, never given up.
                self._unreachable(exc)
                delay = self.backoff.next_delay()
                log.error("tenant refused enrollment (%s): retrying in %.1f s", exc, delay)
                step = self._enroll
            except Exception:
                delay = self.backoff.next_delay()
                log.exception("enrollment step failed unexpectedly: retrying in %.1f s", delay)
            else:
                self.backoff.reset()
                self._post_standing()
            self._pause(delay)
        log.info("enrollment stopped")

    def _pause(self, seconds: float) -> None:
        """Wait `seconds`, cut short by stop or by a nudge (a revocation seen by the sync)."""
        if seconds <= 0 or self._stop.is_set():
            return
        if self._sleep is not None:
            self._sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and not self._nudge.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._stop.wait(min(remaining, NUDGE_CHECK_S))
        self._nudge.clear()

    # ------------------------------------------------------------------ steps

    def _boot(self) -> tuple[_Step, float]:
        stored = load_credentials(self.state_dir)
        if stored is not None and stored.tenant_url != self.client.base_url:
            log.warning(
                "stored credentials are for %s, the configured tenant is %s: enrolling there",
                stored.tenant_url,
                self.client.base_url,
            )
            stored = None
        elif stored is not None and stored.device_id != self.key.device_id:
            log.warning("stored credentials are for device %s: enrolling again", stored.device_id)
            stored = None
        if stored is None:
            self._set_standing(EnrollmentChanged("enrolling"))
            return self._enroll, 0.0
        with self._changed:
            self._credentials = stored
        log.info(
            "credentials found (tenant %s, site %s): checking them", stored.tenant_id, stored.site
        )
        return self._verify, 0.0

    def _verify(self) -> tuple[_Step, float]:
        """Stored credentials: prove they still hold by getting a token."""
        try:
            self.session.renew()
        except DeviceRevoked:
            return self._revoked_step()
        except (NotClaimed, ClaimExpired, TenantRefused) as exc:
            return self._void_credentials(exc)
        return self._active, self.check_interval_s

    def _enroll(self) -> tuple[_Step, float]:
        answer = self.client.enroll(
            self.key.public_bytes, self.firmware_version, self.enrollment_token
        )
        if answer.device_id != self.key.device_id:
            log.error(
                "tenant answered for device %s, ours is %s", answer.device_id, self.key.device_id
            )
        if answer.status == "active":
            log.info("tenant %r says this device is already claimed", answer.tenant_name)
            return self._verify, 0.0
        assert answer.claim_code and answer.expires_in and answer.interval  # client checks
        claim = _Claim(answer.claim_code, answer.interval)
        self._claim = claim
        state: EnrollmentState = "revoked" if self._revoked_mode else "pending"
        detail = (
            "revoked by the tenant; an admin can claim it again with the code"
            if self._revoked_mode
            else "waiting for an admin to claim this kiosk"
        )
        if answer.token_refused:  # the card's token did not claim it: say why, keep the code
            detail = f"enrollment token refused ({answer.token_refused}): claim with the code"
            log.warning("enrollment token refused by the tenant: %s", answer.token_refused)
        self._set_standing(EnrollmentChanged(state, answer.tenant_name, claim.code, detail))
        log.info(
            "claim code %s for tenant %r (valid %g s, polling every %g s)",
            claim.code,
            answer.tenant_name,
            answer.expires_in,
            claim.interval,
        )
        # The first poll goes at once: a tenant that long-polls holds it open (up to the
        # interval) and answers it the moment the code is claimed; the interval separates polls.
        return self._poll, 0.0

    def _poll(self) -> tuple[_Step, float]:
        claim = self._claim
        if claim is None:  # granted meanwhile on another thread: confirm through enroll
            return self._enroll, 0.0
        started = self._monotonic()
        try:
            if not self._renew_unless_stopped():
                return self._poll, 0.0  # stopping: the run loop ends
        except SlowDown:
            claim.interval += self.slow_down_step_s
            log.info("tenant asked to slow down: polling every %g s", claim.interval)
            return self._poll, self._poll_delay(claim, started)
        except NotClaimed:
            return self._poll, self._poll_delay(claim, started)
        except ClaimExpired:
            log.info("claim code %s expired: asking for a new one", claim.code)
            return self._enroll, 0.0
        except DeviceRevoked:
            return self._revoked_step()
        except TenantRefused as exc:
            if exc.error != "invalid_client":
                raise
            log.warning("tenant does not know this enrollment (%s): enrolling again", exc)
            return self._enroll, claim.interval
        return self._active, self.check_interval_s

    def _active(self) -> tuple[_Step, float]:
        """Keep a token fresh, which is also how a revocation is noticed when nothing syncs."""
        try:
            self.session.ensure_token()
        except DeviceRevoked:
            return self._revoked_step()
        except (NotClaimed, ClaimExpired, TenantRefused) as exc:
            return self._void_credentials(exc)
        return self._active, self.check_interval_s

    def _void_credentials(self, error: TenantError) -> tuple[_Step, float]:
        """The tenant no longer honours our credentials (its database was reset, say)."""
        log.warning("the tenant no longer accepts this device (%s): enrolling again", error)
        with self._changed:
            self._credentials = None
            self._standing = EnrollmentChanged("enrolling")
        return self._enroll, 0.0

    def _revoked_step(self) -> tuple[_Step, float]:
        """Ask for a new claim code soon, so the screen can show how to re-claim the kiosk."""
        self._revoked_mode = True
        self._claim = None
        return self._enroll, self.revoked_poll_s

    def _poll_delay(self, claim: _Claim, started: float) -> float:
        """The interval runs from the start of the poll (RFC 8628 counts between requests):
        after a poll held longer than the interval, the next one goes at once. An older tenant
        (no `Preference-Applied: wait`) counts from its answer: so do we, for it."""
        if not self.client.polls_timed_from_start:
            return claim.interval
        return max(0.0, claim.interval - (self._monotonic() - started))

    def _renew_unless_stopped(self) -> bool:
        """`session.renew()` on a thread of its own, so that stopping need not wait for a held
        poll's answer (the tenant may hold it 20 s): False when stopped first. The abandoned
        poll ends with its answer or the client's read timeout; a grant it brings is stored
        like any other (on_grant)."""
        done = threading.Event()
        failure: list[BaseException] = []

        def poll() -> None:
            try:
                self.session.renew()
            except BaseException as exc:  # handed to the enrollment thread, or dropped on stop
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=poll, name="token-poll", daemon=True).start()
        while not done.wait(NUDGE_CHECK_S):
            if self._stop.is_set():
                log.debug("stopping during a token poll: not waiting for its answer")
                return False
        if failure:
            raise failure[0]
        return True

    # ------------------------------------------------------------------ callbacks and posting

    def _granted(self, grant: TokenGrant) -> None:
        """A token was granted (on this thread or another one's renewal): we are active."""
        credentials = Credentials(
            tenant_url=self.client.base_url,
            device_id=grant.device_id,
            tenant_id=grant.tenant_id,
            tenant_name=grant.tenant_name,
            site=grant.site,
            device_name=grant.device_name,
            mqtt=grant.mqtt,
            signing_key=grant.signing_key,
        )
        with self._changed:
            if credentials != self._credentials:
                path = credentials.save(self.state_dir)
                log.info(
                    "active in tenant %s, site %r as %r; credentials stored in %s",
                    grant.tenant_id,
                    grant.site,
                    grant.device_name,
                    path,
                )
                self._credentials = credentials
            self._revoked_mode = False
            self._claim = None
            detail = f"{grant.site} / {grant.device_name}" if grant.device_name else grant.site
            self._standing = EnrollmentChanged(
                "active",
                grant.tenant_name,
                None,
                detail,
                tenant_id=grant.tenant_id,
                site=grant.site,
            )
            self._post_locked(self._standing)

    def _revoked(self, error: DeviceRevoked) -> None:
        """The session saw access_denied (maybe on the sync's thread): say so at once."""
        self._nudge.set()
        with self._changed:
            self._revoked_mode = True
            self._standing = EnrollmentChanged(
                "revoked",
                self._tenant_name_locked(),
                None,
                error.description or "revoked by the tenant",
            )
            self._post_locked(self._standing)

    def _unreachable(self, error: TenantError) -> None:
        with self._changed:
            if self._status is not None and self._status.state == "unreachable":
                return  # once per outage, not once per retry
            standing, stored = self._standing, self._credentials
            code = standing.claim_code if standing else None
            # Known credentials keep stamping plays (tenant_id, site) through an outage.
            claimed = stored is not None and not self._revoked_mode and code is None
            self._post_locked(
                EnrollmentChanged(
                    "unreachable",
                    self._tenant_name_locked(),
                    code,
                    _reason(error),
                    tenant_id=stored.tenant_id if stored and claimed else "",
                    site=stored.site if stored and claimed else "",
                )
            )

    def _set_standing(self, event: EnrollmentChanged) -> None:
        with self._changed:
            self._standing = event

    def _post_standing(self) -> None:
        """Post the standing (after an outage, say) unless the core already has it."""
        with self._changed:
            if self._standing is not None:
                self._post_locked(self._standing)

    def _post_locked(self, event: EnrollmentChanged) -> None:
        if event == self._status:
            return
        self._status = event
        self._changed.notify_all()
        log.info("enrollment: %s%s", event.state, f" ({event.detail})" if event.detail else "")
        self._sink(event)

    def _tenant_name_locked(self) -> str:
        for known in (self._standing, self._credentials, self._status):
            if known is not None and known.tenant_name:
                return known.tenant_name
        return ""


def _reason(error: TenantError) -> str:
    """A short reason for the technician screen (the log line has the whole message)."""
    if error.status is None:
        return error.description or str(error)
    return " ".join(part for part in (str(error.status), error.error, error.description) if part)
