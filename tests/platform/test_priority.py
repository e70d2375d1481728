"""Background threads really run at a lower CPU and I/O priority (device/platform/priority.py)."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from contract.protocol import DeviceTopics
from device.journal.outbox import PlayJournal
from device.mqtt.publisher import PlayPublisher
from device.platform.priority import (
    BACKGROUND_NICE,
    IOPRIO_CLASS_BEST_EFFORT,
    IOPRIO_LOWEST_LEVEL,
    lower_this_thread,
    make_process_idle,
    thread_io_priority,
    thread_nice,
)


def test_the_calling_thread_alone_gets_the_background_nice_and_io_priority() -> None:
    before = thread_nice(threading.get_native_id())
    lowered = threading.Event()
    release = threading.Event()
    seen: dict[str, object] = {}

    def background() -> None:
        seen["tid"] = threading.get_native_id()
        seen["ok"] = lower_this_thread()
        lowered.set()
        release.wait(10)

    thread = threading.Thread(target=background)
    thread.start()
    try:
        assert lowered.wait(10)
        tid = seen["tid"]
        assert isinstance(tid, int)
        assert seen["ok"] is True
        assert thread_nice(tid) == max(before, BACKGROUND_NICE)
        assert thread_io_priority(tid) == (IOPRIO_CLASS_BEST_EFFORT, IOPRIO_LOWEST_LEVEL)
        assert thread_nice(threading.get_native_id()) == before  # the caller is untouched
    finally:
        release.set()
        thread.join()


def test_threads_started_by_a_lowered_thread_inherit_its_priority() -> None:
    seen: dict[str, int] = {}

    def child() -> None:
        seen["nice"] = thread_nice(threading.get_native_id())

    def parent() -> None:
        lower_this_thread()
        worker = threading.Thread(target=child)
        worker.start()
        worker.join()

    thread = threading.Thread(target=parent)
    thread.start()
    thread.join()
    assert seen["nice"] >= BACKGROUND_NICE


def test_a_thread_already_gentler_is_not_raised_back() -> None:
    seen: dict[str, int] = {}

    def gentle() -> None:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, 15)
        lower_this_thread()
        seen["nice"] = thread_nice(tid)

    thread = threading.Thread(target=gentle)
    thread.start()
    thread.join()
    assert seen["nice"] == 15


def test_the_play_publisher_thread_runs_as_background_work(journal: PlayJournal) -> None:
    ours = thread_nice(threading.get_native_id())
    publisher = PlayPublisher(journal, DeviceTopics("t", "jk-test"), lambda _outgoing: None)
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while not publisher._lowered:  # its first tick
            assert time.monotonic() < deadline, "the publisher never ticked"
            time.sleep(0.01)
        (thread,) = [t for t in threading.enumerate() if t.name == "mqtt-plays"]
        assert thread.native_id is not None
        assert thread_nice(thread.native_id) == max(ours, BACKGROUND_NICE)
        assert thread_nice(threading.get_native_id()) == ours
    finally:
        publisher.close()


def test_a_child_process_is_made_idle_class_by_its_parent() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert make_process_idle(child.pid) is True
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
        assert thread_nice(child.pid) == 19
        assert thread_io_priority(child.pid) == (IOPRIO_CLASS_BEST_EFFORT, IOPRIO_LOWEST_LEVEL)
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the parent is untouched
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_gone_is_reported_not_raised() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert make_process_idle(child.pid) is False
