"""Mailbox: messages in order on the owner's thread, deadlines, wake-up, stop, and a loop that
outlives a failing handler."""

from __future__ import annotations

import threading
import time

import pytest

from device.platform.mailbox import Mailbox

WAIT_S = 10.0  # how long a test waits for the mailbox's thread before it fails
NEVER_S = 3600.0  # a wait the test would notice: the loop must not rely on it


class Owner:
    """Records what its mailbox did, in order, and on which thread."""

    def __init__(self) -> None:
        self.log: list[object] = []
        self.threads: set[str] = set()
        self.ticks = 0
        self.ticked = threading.Event()
        self.seen = threading.Event()

    def handle(self, message: object) -> None:
        self.threads.add(threading.current_thread().name)
        self.log.append(message)
        self.seen.set()

    def tick(self) -> None:
        self.ticks += 1
        self.log.append("tick")
        self.ticked.set()


def messages(owner: Owner) -> list[object]:
    return [entry for entry in owner.log if entry != "tick"]


def test_messages_are_handled_in_the_order_posted_on_the_mailbox_thread() -> None:
    owner = Owner()
    box: Mailbox[int] = Mailbox("owner", owner.handle, max_wait_s=NEVER_S)
    box.start()
    for n in range(200):
        box.post(n)
    box.post(-1)
    assert wait_until(lambda: -1 in owner.log)
    box.stop()
    assert owner.log == [*range(200), -1]
    assert owner.threads == {"owner"}


def test_draining_handles_every_waiting_message_before_one_tick() -> None:
    owner = Owner()
    box: Mailbox[str] = Mailbox("drain", owner.handle, tick=owner.tick, max_wait_s=NEVER_S)
    for message in ("a", "b", "c"):
        box.post(message)  # waiting before the thread starts
    box.start()
    assert owner.ticked.wait(WAIT_S)
    box.stop()
    assert owner.log[:4] == ["a", "b", "c", "tick"]


def test_without_draining_every_message_is_followed_by_a_tick_as_in_the_core() -> None:
    owner = Owner()
    box: Mailbox[str] = Mailbox(
        "core", owner.handle, tick=owner.tick, max_wait_s=NEVER_S, drain=False
    )
    for message in ("a", "b", "c"):
        box.post(message)
    box.start()
    assert wait_until(lambda: owner.ticks >= 3)
    box.stop()
    assert owner.log[:6] == ["a", "tick", "b", "tick", "c", "tick"]


def test_the_owners_next_deadline_ends_the_wait_without_any_message() -> None:
    owner = Owner()
    deadlines = [time.monotonic() + 0.05]

    def next_deadline() -> float | None:
        return deadlines[0] if owner.ticks == 0 else None

    box: Mailbox[str] = Mailbox(
        "deadline", owner.handle, tick=owner.tick, next_deadline=next_deadline, max_wait_s=NEVER_S
    )
    box.start()
    assert owner.ticked.wait(WAIT_S)  # with the deadline ignored, this would take an hour
    box.stop()
    assert messages(owner) == []


def test_a_deadline_in_the_past_ticks_at_once_and_the_max_wait_bounds_a_far_one() -> None:
    owner = Owner()
    box: Mailbox[str] = Mailbox(
        "bounded", owner.handle, tick=owner.tick, next_deadline=lambda: 1e12, max_wait_s=0.01
    )
    box.start()
    assert wait_until(lambda: owner.ticks >= 3)  # a far deadline: woken by max_wait_s
    box.stop()
    past: Owner = Owner()
    box = Mailbox(
        "past", past.handle, tick=past.tick, next_deadline=lambda: 0.0, max_wait_s=NEVER_S
    )
    box.start()
    assert past.ticked.wait(WAIT_S)
    box.stop()


def test_wake_runs_the_tick_now() -> None:
    owner = Owner()
    box: Mailbox[str] = Mailbox("wake", owner.handle, tick=owner.tick, max_wait_s=NEVER_S)
    box.start()
    assert not owner.ticked.is_set()
    box.wake()
    assert owner.ticked.wait(WAIT_S)
    box.stop()
    assert messages(owner) == []  # a wake-up is not a message


def test_stop_ends_the_thread_and_keeps_what_was_not_handled_for_the_next_start() -> None:
    owner = Owner()
    box: Mailbox[str] = Mailbox("restart", owner.handle, max_wait_s=NEVER_S)
    box.start()
    box.post("first")
    assert owner.seen.wait(WAIT_S)
    box.stop()
    assert not box.running
    assert "restart" not in [t.name for t in threading.enumerate()]
    box.post("while stopped")
    assert owner.log == ["first"]
    box.start()
    assert wait_until(lambda: owner.log == ["first", "while stopped"])
    box.stop()


def test_the_owner_stops_its_own_loop_from_a_handler_and_run_returns() -> None:
    owner = Owner()
    box: Mailbox[str]

    def handle(message: str) -> None:
        owner.handle(message)
        if message == "quit":
            box.stop()

    box = Mailbox("main", handle, tick=owner.tick, max_wait_s=NEVER_S, drain=False)
    for message in ("play", "quit", "never"):
        box.post(message)
    box.run()  # on this thread, as the core runs on the main thread
    assert messages(owner) == ["play", "quit"]
    assert owner.log[-1] == "tick"  # the round that stopped still ran its deadlines


def test_a_failing_handler_or_tick_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = Owner()
    failures = {"tick": 1}

    def handle(message: str) -> None:
        if message == "bad":
            raise ValueError("a bug in the handler")
        owner.handle(message)

    def tick() -> None:
        if failures["tick"]:
            failures["tick"] -= 1
            raise RuntimeError("a bug in the tick")
        owner.tick()

    box: Mailbox[str] = Mailbox("sturdy", handle, tick=tick, max_wait_s=NEVER_S, drain=False)
    box.start()
    for message in ("bad", "good"):
        box.post(message)
    assert wait_until(lambda: "good" in owner.log and owner.ticks >= 1)
    box.stop()
    assert messages(owner) == ["good"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("handling 'bad' failed" in e for e in errors)
    assert any("tick failed" in e for e in errors)


def test_a_minimum_wait_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="min_wait_s"):
        Mailbox("odd", lambda _m: None, max_wait_s=1.0, min_wait_s=2.0)


def wait_until(condition: object, timeout_s: float = WAIT_S) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())
