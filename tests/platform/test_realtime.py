"""The press path runs in the real-time class, and nothing else does (device/platform/priority.py).

The kernel's own answers are read back (sched_getscheduler, sched_getparam), for threads of
this process, for the real daemon's threads, and for an unprivileged process with and without
the RLIMIT_RTPRIO that jukebox.service grants.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device.platform.priority import (
    BACKGROUND_NICE,
    REALTIME_PRIORITY,
    is_realtime,
    lower_this_thread,
    make_realtime,
    task_ids,
    thread_nice,
)
from device.sim.process import KioskProcess

ROOT = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sets real-time classes: run as root")


def on_a_thread(body: Callable[[dict[str, object]], None]) -> dict[str, object]:
    seen: dict[str, object] = {}
    thread = threading.Thread(target=body, args=(seen,))
    thread.start()
    thread.join(10)
    return seen


def policy_of(tid: int) -> tuple[int, int]:
    """(scheduling class without the reset-on-fork flag, real-time priority)"""
    policy = os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK
    return policy, os.sched_getparam(tid).sched_priority


def child_policy() -> int:
    """The class of a process started now by the calling thread."""
    code = "import os; print(os.sched_getscheduler(0))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


@needs_root
def test_the_core_is_real_time_and_what_it_starts_later_is_not() -> None:
    def core(seen: dict[str, object]) -> None:
        tid = threading.get_native_id()
        seen["ok"] = make_realtime([tid], "the core thread", inherited=False)
        seen["core"] = policy_of(tid)
        seen["reset on fork"] = bool(os.sched_getscheduler(tid) & os.SCHED_RESET_ON_FORK)
        seen["its thread"] = on_a_thread(lambda s: s.update(p=policy_of(threading.get_native_id())))
        seen["its process"] = child_policy()

    seen = on_a_thread(core)
    assert seen["ok"] is True
    assert seen["core"] == (os.SCHED_RR, REALTIME_PRIORITY)
    assert seen["reset on fork"] is True
    assert seen["its thread"] == {"p": (os.SCHED_OTHER, 0)}
    assert seen["its process"] == os.SCHED_OTHER
    assert policy_of(threading.get_native_id()) == (os.SCHED_OTHER, 0)  # the caller untouched


@needs_root
def test_threads_that_mpv_starts_later_inherit_the_class() -> None:
    def mpv_core(seen: dict[str, object]) -> None:
        make_realtime([threading.get_native_id()], "mpv's threads", inherited=True)
        seen["demuxer"] = on_a_thread(lambda s: s.update(p=policy_of(threading.get_native_id())))

    assert on_a_thread(mpv_core)["demuxer"] == {"p": (os.SCHED_RR, REALTIME_PRIORITY)}


@needs_root
def test_a_real_time_thread_made_background_work_leaves_the_class() -> None:
    def core(seen: dict[str, object]) -> None:
        tid = threading.get_native_id()
        make_realtime([tid], "the core thread", inherited=False)  # with SCHED_RESET_ON_FORK
        seen["ok"] = lower_this_thread()
        seen["now"] = policy_of(tid)

    assert on_a_thread(core) == {"ok": True, "now": (os.SCHED_OTHER, 0)}


@needs_root
def test_background_work_started_from_the_press_path_leaves_the_real_time_class() -> None:
    def press_path(seen: dict[str, object]) -> None:
        make_realtime([threading.get_native_id()], "mpv's threads", inherited=True)

        def background(s: dict[str, object]) -> None:
            tid = threading.get_native_id()
            s["was real-time"] = is_realtime(tid)
            s["ok"] = lower_this_thread()
            s["now"] = policy_of(tid)
            s["nice"] = thread_nice(tid)

        seen.update(on_a_thread(background))

    seen = on_a_thread(press_path)
    assert seen["was real-time"] is True and seen["ok"] is True
    assert seen["now"] == (os.SCHED_OTHER, 0)
    assert seen["nice"] == BACKGROUND_NICE


def test_a_thread_that_has_ended_is_skipped() -> None:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    assert thread.native_id is not None
    deadline = time.monotonic() + 10
    while thread.native_id in task_ids() and time.monotonic() < deadline:
        time.sleep(0.01)  # join() returns a moment before the kernel's thread is gone
    assert make_realtime([thread.native_id], "a thread that ended", inherited=False) is True


UNPRIVILEGED = """
import logging, sys, threading
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
from device.platform.priority import make_realtime
print(make_realtime([threading.get_native_id()], "the core thread", inherited=False))
"""


def can_raise_rtprio() -> bool:
    """Raising the hard RLIMIT_RTPRIO needs CAP_SYS_RESOURCE, which systemd has and a
    container's root may not."""
    return subprocess.run(["prlimit", "--rtprio=1", "true"], capture_output=True).returncode == 0


@needs_root
@pytest.mark.skipif(not shutil.which("setpriv"), reason="util-linux's setpriv")
@pytest.mark.parametrize(
    "rtprio, granted",
    [
        (0, False),
        pytest.param(1, True, marks=pytest.mark.skipif(
            not can_raise_rtprio(), reason="no CAP_SYS_RESOURCE to raise RLIMIT_RTPRIO here")),
    ],
)  # fmt: skip
def test_an_unprivileged_kiosk_needs_the_units_rtprio_limit(rtprio: int, granted: bool) -> None:
    """jukebox.service runs the daemon as its own user with LimitRTPRIO=1: that alone is what
    lets it in the real-time class; without it the kiosk says so and goes on."""
    command = [
        "prlimit", f"--rtprio={rtprio}",
        "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
        sys.executable, "-c", UNPRIVILEGED,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == str(granted)
    if not granted:
        assert "the core thread not in the real-time class" in done.stdout


@needs_root
def test_the_daemon_runs_its_core_and_mpv_real_time_and_its_other_threads_normal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    (tmp_path / "jukebox.toml").write_text(
        '[device]\nstate_dir = "state"\n[audio]\nbackend = "null"\n[display]\ndriver = "none"\n'
    )
    env = {**os.environ, "NOTIFY_SOCKET": str(path)}
    kiosk = KioskProcess(tmp_path / "jukebox.toml", tmp_path / "control.sock", env=env)
    kiosk.start()
    try:
        assert sock.recv(4096).decode().startswith("READY=1")
        assert kiosk.process is not None
        pid = kiosk.process.pid
        deadline = time.monotonic() + 20
        while not is_realtime(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # the core thread enters the class just after READY
        names = {
            int(tid): (Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip())
            for tid in os.listdir(f"/proc/{pid}/task")
        }
        realtime = {name for tid, name in names.items() if is_realtime(tid)}
        normal = {name for tid, name in names.items() if not is_realtime(tid)}
        assert is_realtime(pid), names  # the main thread runs the core
        assert "mpv/mpv core" in realtime
        assert normal, names  # the simulation's and the content loader's threads, at least
        assert not any(name.startswith("mpv/") for name in normal)
    finally:
        kiosk.close()
        sock.close()


def test_task_ids_are_this_processs_threads() -> None:
    def body(seen: dict[str, object]) -> None:
        seen["tid"] = threading.get_native_id()
        seen["ids"] = task_ids()

    seen = on_a_thread(body)
    ids = seen["ids"]
    assert isinstance(ids, set)
    assert {threading.get_native_id(), seen["tid"]} <= ids
