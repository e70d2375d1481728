"""Background work yields to the kiosk's core and mpv: a lower CPU and I/O priority per thread,
and the press path in the real-time class.

A visitor's press must not wait behind a content download or a day of play reports being
flushed. Linux schedules threads, not processes: `setpriority(PRIO_PROCESS, tid)` with a
thread's native id sets that thread's nice value alone, and `ioprio_set(IOPRIO_WHO_PROCESS,
tid)` its I/O class (honoured by the BFQ and mq-deadline schedulers). Threads the lowered
thread starts inherit both (the sync's download workers). Python has no wrapper for
ioprio_set: it is called through libc's syscall(). Raising a nice value needs no privilege;
nothing here ever lowers one, so a background thread can only be made gentler.

The press path (the core, mpv's threads, the buttons' watcher) goes further: SCHED_RR at the
lowest real-time priority, which the kernel runs before any normal thread the moment it wakes,
where a niced thread still finishes a slice of a few milliseconds first. Each of those threads
mostly sleeps; the kernel keeps 5 % of every second for normal threads whatever a real-time
one does (sched_rt_runtime_us), and the core's watchdog restarts a stuck core. It needs
RLIMIT_RTPRIO (jukebox.service's LimitRTPRIO=1) or root; refused, the kiosk goes on as before.
Measured in bench/button_latency.py (`--foreground`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

REALTIME_PRIORITY = 1  # the lowest SCHED_RR priority: after the kernel's own (IRQ threads: 50)
BACKGROUND_NICE = 10  # CFS weight 110 against the core's 1024: about a tenth of a busy CPU
IOPRIO_CLASS_BEST_EFFORT = 2
IOPRIO_LOWEST_LEVEL = 7  # best effort, lowest level: never starved, unlike the idle class
_IOPRIO_CLASS_SHIFT = 13
_IOPRIO_WHO_PROCESS = 1
# (ioprio_set, ioprio_get) syscall numbers per architecture: arm64 and riscv share the
# generic table; the 32-bit Pi OS is "armv7l".
_SYSCALLS = {
    "x86_64": (251, 252),
    "aarch64": (30, 31),
    "riscv64": (30, 31),
    "armv7l": (314, 315),
    "armv6l": (314, 315),
}


def lower_this_thread(nice: int = BACKGROUND_NICE, io_level: int = IOPRIO_LOWEST_LEVEL) -> bool:
    """Make the calling thread background work; True when both priorities were set.

    Never raises: a kiosk whose kernel refuses goes on at normal priority, and says so once.
    """
    return _lower(threading.get_native_id(), f"thread {threading.current_thread().name}",
                  nice, io_level)  # fmt: skip


def _lower(tid: int, who: str, nice: int, io_level: int) -> bool:
    ok = True
    try:
        if is_realtime(tid):  # started by a thread of the press path: normal first
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.warning("%s keeps its CPU priority: %s", who, exc)
        ok = False
    value = (IOPRIO_CLASS_BEST_EFFORT << _IOPRIO_CLASS_SHIFT) | io_level
    problem = _ioprio("set", tid, value)
    if problem is not None:
        log.warning("%s keeps its I/O priority: %s", who, problem)
        ok = False
    return ok


def make_process_idle(pid: int) -> bool:
    """Put a child process just started in the SCHED_IDLE class (and lowest best-effort I/O),
    from its parent: it runs only on a CPU nothing else wants, and any waking thread of a
    normal class preempts it at once, where a nice value still lets it finish a slice of a
    few milliseconds first. Its main thread (whose id is the pid) is idle from its first
    instruction after exec; the threads it starts inherit the class.

    Only for a process of its own (the download process): a thread of this class holding the
    interpreter lock could keep it from the core while other work fills the CPUs. Set by the
    parent rather than by the process once it runs: the download process imports requests and
    the cache first, and perf sched saw those 0.3 s of CPU spent at the parent thread's
    priority, beside the core and mpv, while a press waited (bench/button_latency.py).

    Never raises; True when both were set.
    """
    ok = _lower(pid, f"process {pid}", 19, IOPRIO_LOWEST_LEVEL)
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:
        log.warning("process %d is not idle-class: %s", pid, exc)
        ok = False
    return ok


def make_realtime(native_ids: Iterable[int], who: str, *, inherited: bool) -> bool:
    """Put threads of the press path in the real-time class (SCHED_RR, REALTIME_PRIORITY).

    `inherited`: the threads they start later are real-time too (mpv's core starts a demuxer
    per file and the audio output's thread); otherwise those start normal (the core thread,
    whose later threads and processes are background work). Never raises; True when every
    thread was set, and one warning when the kernel refused.
    """
    policy = os.SCHED_RR if inherited else os.SCHED_RR | os.SCHED_RESET_ON_FORK
    ours = task_ids()
    for tid in native_ids:
        if tid not in ours:
            continue  # ended, and its number may be another process's thread by now
        try:
            os.sched_setscheduler(tid, policy, os.sched_param(REALTIME_PRIORITY))
        except ProcessLookupError:
            continue  # ended just now
        except OSError as exc:
            log.warning("%s not in the real-time class (%s): a press competes with background "
                        "work as an equal", who, exc)  # fmt: skip
            return False
    return True


def task_ids() -> set[int]:
    """The native ids of this process's threads (what a library's constructor started is the
    difference of two calls)."""
    return {int(name) for name in os.listdir("/proc/self/task")}


def is_realtime(native_id: int) -> bool:
    """Whether a thread is in a real-time class (for the technician and the tests)."""
    policy = os.sched_getscheduler(native_id) & ~os.SCHED_RESET_ON_FORK
    return policy in (os.SCHED_RR, os.SCHED_FIFO)


def thread_nice(native_id: int) -> int:
    """A thread's nice value (for the technician and the tests)."""
    return os.getpriority(os.PRIO_PROCESS, native_id)


def thread_io_priority(native_id: int) -> tuple[int, int]:
    """A thread's (I/O class, level); class 0 means "none": it follows its nice value."""
    number = _syscall_number("get")
    if number is None:
        raise OSError(f"ioprio_get: unknown syscall number on {platform.machine()}")
    value = _libc().syscall(number, _IOPRIO_WHO_PROCESS, native_id)
    if value < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return value >> _IOPRIO_CLASS_SHIFT, value & ((1 << _IOPRIO_CLASS_SHIFT) - 1)


def _ioprio(which: str, tid: int, value: int) -> str | None:
    number = _syscall_number(which)
    if number is None:
        return f"ioprio_{which}: unknown syscall number on {platform.machine()}"
    if _libc().syscall(number, _IOPRIO_WHO_PROCESS, tid, value) != 0:
        errno = ctypes.get_errno()
        return f"ioprio_{which}: {os.strerror(errno)}"
    return None


def _syscall_number(which: str) -> int | None:
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    return numbers[0] if which == "set" else numbers[1]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
