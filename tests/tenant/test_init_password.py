"""`jukebox tenant init` gives the first network administrator a password three ways: printed
once (generated), from the environment (automation), or asked for (`--ask-password`: twice on
a terminal, one line from a pipe). Each is then tried for real: a login over HTTP."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tenant.broker.process import free_port
from tenant.cli import ENV_DATABASE_URL
from tenant.process import start_serve, stop_serve

TERMINAL_WAIT_S = 60  # for init's prompts and its end, on a loaded machine
PROMPTS = (b"password of admin: ", b"password of admin, again: ")  # getpass flushes typeahead
ASKED = "a password typed twice"
PIPED = "a password from a pipe"


def _args(data: Path, database_url: str, slug: str) -> list[str]:
    return ["tenant", "init", "--data", str(data), "--database-url", database_url,
            "--slug", slug, "--name", slug]  # fmt: skip


def _init(
    data: Path, database_url: str, slug: str, *extra: str, stdin: str = ""
) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "jukebox", *_args(data, database_url, slug), *extra],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _init_on_a_terminal(
    data: Path, database_url: str, slug: str, answers: list[str]
) -> tuple[int, str]:
    """Run init with a pseudo-terminal as its controlling terminal, as a technician would:
    each answer is typed once its prompt is shown. The child never outlives the call."""
    args = _args(data, database_url, slug)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and /dev/tty
        os.execv(sys.executable, [sys.executable, "-m", "jukebox", *args, "--ask-password"])
    seen = b""
    status: int | None = None
    deadline = time.monotonic() + TERMINAL_WAIT_S

    def read() -> bytes:
        """What the child wrote next; b"" once it has closed the terminal."""
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise AssertionError(f"no answer from init in {TERMINAL_WAIT_S} s: {seen!r}")
        try:
            return os.read(fd, 1024)
        except OSError:  # EIO: the child closed the terminal
            return b""

    try:
        shown = 0  # where the next prompt is looked for
        for prompt, answer in zip(PROMPTS, answers, strict=True):
            while (found := seen.find(prompt, shown)) < 0:  # typed earlier, it would be lost
                chunk = read()
                assert chunk, seen
                seen += chunk
            shown = found + len(prompt)
            os.write(fd, answer.encode() + b"\n")
        while chunk := read():
            seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # the test failed before init ended: it must not wait for input
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def _logs_in(url: str, slug: str, password: str) -> bool:
    answer = requests.post(
        f"{url}/t/{slug}/v1/login",
        json={"username": "admin", "password": password},
        timeout=60,
    )
    return answer.status_code == 201


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def serve(
    data: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    """Starts `jukebox tenant serve` on the data and database init used; its URL."""
    monkeypatch.setenv(ENV_DATABASE_URL, database_url)
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []

    def start() -> str:
        started.append(start_serve(data, port, data.parent / "serve.log"))
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        stop_serve(process)


@pytest.mark.timeout(300)  # three inits and a service, each a new interpreter
def test_each_way_of_giving_the_first_password_logs_in(
    data: Path, database_url: str, serve: Callable[[], str]
) -> None:
    generated = _init(data, database_url, "gen")
    piped = _init(data, database_url, "piped", "--ask-password", stdin=PIPED + "\n")
    asked = _init_on_a_terminal(data, database_url, "asked", [ASKED, ASKED])

    assert generated[0] == 0 and piped[0] == 0 and asked[0] == 0, (generated, piped, asked)
    shown = re.findall(r"password \(shown once\): (\S+)", generated[1])
    assert len(shown) == 1
    assert "shown once" not in piped[1] and PIPED not in piped[1]
    assert "shown once" not in asked[1] and ASKED not in asked[1]  # the terminal does not echo
    url = serve()
    assert _logs_in(url, "gen", shown[0])
    assert _logs_in(url, "piped", PIPED)
    assert _logs_in(url, "asked", ASKED)
    assert not _logs_in(url, "asked", PIPED)


@pytest.mark.timeout(300)
def test_an_asked_password_that_is_mistyped_or_short_makes_no_tenant(
    data: Path, database_url: str
) -> None:
    mistyped = _init_on_a_terminal(data, database_url, "typo", [ASKED, ASKED + "!"])
    empty = _init(data, database_url, "empty", "--ask-password", stdin="")
    short = _init(data, database_url, "short", "--ask-password", stdin="short\n")

    assert mistyped[0] == 1 and "the two passwords differ" in mistyped[1]
    assert empty[0] == 1 and "no password on standard input" in empty[1]
    assert short[0] == 1 and "at least 12 characters" in short[1]
    assert not list(data.glob("admin-*.json"))  # no credentials written for any of them
