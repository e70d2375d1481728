"""The gpiod pin factory on a real kernel's GPIO chip, inside image-build/boot-test's guest.

`image-build/boot-test --gpio-check` puts this file on the boot partition of its scratch disk
and runs it once the guest is up (systemd.run= on the kernel command line), as root with the
image's own virtualenv. The checks run in a child that drops to the kiosk's user, so the udev
rule and the `gpio` group are what let it in. QEMU's virt machine has one GPIO chip, a PL061
with 8 lines; line 3 is its power button, which QEMU pulses (high, 100 ms, low) when asked
through QMP. The root parent lends that line: it unbinds the kernel's gpio-keys driver, and
binds it again once the child is done (systemd-logind then finds the button again). The
child prints PRESS_PROMPT and boot-test presses the button: the edges go from the kernel
through the factory's edge thread to gpiozero's callbacks.

Every line it prints starts with "gpio-check:"; the last one is PASS or FAIL.
"""

from __future__ import annotations

import os
import pwd
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

USER = "jukebox"
GPIO_KEYS = "/sys/bus/platform/drivers/gpio-keys"
POWER_BUTTON_LINE = 3
PRESS_PROMPT = "press the power button"  # image-build/qemuboot.py answers through QMP
results: list[bool] = []


def say(text: str) -> None:
    sys.stdout.write(f"gpio-check: {text}\n")  # journald forwards it to the serial console
    sys.stdout.flush()


def check(what: str, test: Callable[[], Any]) -> None:
    """Run one check: it passes when `test` returns a true value without raising."""
    try:
        outcome = test()
    except Exception as exc:  # each check reports its own failure and the rest still run
        say(f"FAIL - {what}: {type(exc).__name__}: {exc}")
        results.append(False)
        return
    say(f"{'ok' if outcome else 'FAIL'} - {what}")
    results.append(bool(outcome))


def refused(make: Callable[[], Any], *fragments: str) -> bool:
    """`make` raises, and its message holds every fragment."""
    try:
        device = make()
    except Exception as exc:
        say(f"     refused: {exc}")
        return all(f in str(exc) for f in fragments)
    device.close()
    return False


def drop_to(user: str) -> None:
    entry = pwd.getpwnam(user)
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def main() -> int:
    """As root: lend the power button's line to a child running the checks as the kiosk."""
    if os.geteuid() != 0:
        return run_all()
    lent = lend_power_button()
    child = os.fork()
    if child == 0:
        code = 1
        try:
            drop_to(USER)
            code = run_all()
        except BaseException:
            for line in traceback.format_exc().splitlines():
                say(line)
            say("FAIL (the check itself broke)")
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(child, 0)
    for device in lent:
        write(f"{GPIO_KEYS}/bind", device)
    return os.waitstatus_to_exitcode(status)


def lend_power_button() -> list[str]:
    """Unbind gpio-keys from its devices (the power button), so its line is free."""
    devices = [d for d in os.listdir(GPIO_KEYS) if os.path.islink(f"{GPIO_KEYS}/{d}")]
    devices = [d for d in devices if os.path.isdir(f"{GPIO_KEYS}/{d}/input")]
    for device in devices:
        write(f"{GPIO_KEYS}/unbind", device)
    return devices


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def run_all() -> int:
    say(f"running as {pwd.getpwuid(os.getuid()).pw_name}, groups {sorted(os.getgroups())}")
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        run_checks()
    for warning in caught:
        say(f"     warning: {warning.category.__name__}: {warning.message}")
    check("no gpiozero warnings", lambda: not caught)
    passed = sum(results)
    verdict = "PASS" if all(results) else "FAIL"
    say(f"{verdict} ({passed} of {len(results)} checks)")
    return 0 if all(results) else 1


def run_checks() -> None:
    from gpiod.line import Direction, Edge
    from gpiozero import Button, OutputDevice

    from device.buttons.gpiod_pins import GpiodFactory

    factory = GpiodFactory("auto")
    say(f"chip {factory.describe()}, {factory.num_lines} lines")
    check("the chip opens as the kiosk's user", lambda: factory.num_lines > 0)

    button = Button(5, pull_up=True, bounce_time=0.02, pin_factory=factory)
    info = factory.chip.get_line_info(5)
    say(f"     line 5: {info}")
    check("a button's line is requested by jukebox", lambda: info.used and info.consumer == USER)
    check("... as an input watching both edges", lambda: info.direction == Direction.INPUT
          and info.edge_detection == Edge.BOTH)  # fmt: skip
    check("... debounced by the kernel for 20 ms",
          lambda: info.debounce_period == timedelta(milliseconds=20))  # fmt: skip
    check("... and its level is read", lambda: button.is_pressed in (True, False))

    output = OutputDevice(6, pin_factory=factory)
    output.on()
    on = factory.chip.get_line_info(6).direction == Direction.OUTPUT and output.pin.state == 1
    output.off()
    check("an output line is driven high then low", lambda: on and output.pin.state == 0)

    def button_on(pin: int) -> Callable[[], Any]:
        return lambda: Button(pin, pin_factory=factory)

    holder = factory.chip.request_lines({7: None}, consumer="gpio-check")
    check("a line another program holds is refused with its name",
          lambda: refused(button_on(7), "GPIO7", "in use by 'gpio-check'"))  # fmt: skip
    holder.release()
    check("a line beyond the chip is refused with its size",
          lambda: refused(button_on(17), "GPIO17", "8 lines"))  # fmt: skip

    button.close()
    output.close()
    check("closed buttons release their lines",
          lambda: not factory.chip.get_line_info(5).used
          and not factory.chip.get_line_info(6).used)  # fmt: skip
    again = Button(5, pin_factory=factory)
    check("a released line can be requested again", lambda: factory.chip.get_line_info(5).used)
    again.close()
    check_edges(factory)
    factory.close()


def check_edges(factory: Any) -> None:
    """The power button's pulse, as a gpiozero Button sees it (pulled up: high = released)."""
    from gpiozero import Button

    if factory.chip.get_line_info(POWER_BUTTON_LINE).used:
        check("the power button's line is free for the edge check", lambda: False)
        return
    seen: list[tuple[str, float]] = []
    done = threading.Event()

    def record(what: str) -> Callable[[], None]:
        def callback() -> None:
            seen.append((what, time.monotonic()))
            if len(seen) >= 2:
                done.set()

        return callback

    button = Button(POWER_BUTTON_LINE, pull_up=True, bounce_time=0.02, pin_factory=factory)
    button.when_released = record("released")  # the line goes high
    button.when_pressed = record("pressed")  # and low again
    say(PRESS_PROMPT)
    done.wait(60)
    button.close()
    say(f"     edges: {[(what, round(at, 3)) for what, at in seen]}")
    check("the button's edges reach gpiozero's callbacks, in order",
          lambda: [what for what, _ in seen[:2]] == ["released", "pressed"])  # fmt: skip
    check("... about 100 ms apart, on the monotonic clock",
          lambda: 0.05 < seen[1][1] - seen[0][1] < 1.0)  # fmt: skip


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        for line in traceback.format_exc().splitlines():
            say(line)
        say("FAIL (the check itself broke)")
        sys.exit(1)
