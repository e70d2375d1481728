"""A throwaway PostgreSQL server in a temporary folder, on a free port: for tests and benchmarks.

    with PostgresServer() as server:
        url = server.create_database()             # an empty database, its SQLAlchemy URL
        copy = server.create_database(template=make_url(url).database)
        server.drop_database(copy)

It runs Debian's server binaries (package `postgresql`, /usr/lib/postgresql/VERSION/bin), with
trust authentication on 127.0.0.1 and its Unix socket in its own folder. As root it runs as the
`postgres` account (the server refuses root), which then owns the folder. Production servers
are set up by their operators (docs/tenant-production.md).
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import create_engine, make_url, text

__all__ = ["PostgresError", "PostgresServer", "postgres_bin_dir"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
SUPERUSER = "jukebox"
BIN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresError(RuntimeError):
    """The server binaries are missing, or the server did not start; says which."""


def postgres_bin_dir() -> Path:
    """The newest installed server's bin folder (Debian's layout), or PATH's."""
    found = sorted(glob.glob(BIN_GLOB), key=lambda p: int(p.split("/")[-2].split(".")[0]))
    for folder in reversed(found):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb is None:
        raise PostgresError(
            f"no PostgreSQL server binaries ({BIN_GLOB}/initdb or initdb on PATH): install "
            "Debian's `postgresql` package (scripts/lib/setup.sh, which scripts/test runs, does)"
        )
    return Path(initdb).parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """initdb in a temporary folder, then `postgres` on a free port until stop().

    `durable=False` (tests) turns off fsync: nothing of a throwaway server must survive a power
    cut, and the tests run faster. Benchmarks keep it on to measure what production pays.
    """

    def __init__(self, *, durable: bool = False, port: int = 0) -> None:
        self.bin_dir = postgres_bin_dir()
        self.durable = durable
        self.port = port or _free_port()
        self.host = "127.0.0.1"
        self.folder = Path(tempfile.mkdtemp(prefix="jukebox-pg-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:  # the server refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.data_dir = self.folder / "data"
        self.log_file = self.folder / "postgres.log"

    @property
    def url(self) -> str:
        """The maintenance database `postgres`, as the superuser."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/postgres"

    def start(self) -> PostgresServer:
        if not self.data_dir.exists():
            self._run([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                       "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])  # fmt: skip
        options = [
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
            "-c", "max_connections=300", "-c", "shared_buffers=64MB",
        ]  # fmt: skip
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off"]  # fmt: skip
        with self.log_file.open("ab") as log_out:
            self._process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 *options],
                stdout=log_out, stderr=subprocess.STDOUT, **self._as,
            )  # fmt: skip
        self._wait_ready()
        log.info("PostgreSQL on %s:%d in %s", self.host, self.port, self.folder)
        return self

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, **self._as)
        if result.returncode != 0:
            raise PostgresError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise PostgresError(f"postgres exited at start: {self._log_tail()}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresError(f"postgres did not answer in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), then the folder is removed."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(2)
                try:
                    self._process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ databases

    def create_database(self, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); its SQLAlchemy URL."""
        return create_database(self.url, template)

    def drop_database(self, url: str) -> None:
        drop_database(self.url, url)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def create_database(server_url: str, template: str | None = None) -> str:
    """A new database on the server of `server_url` (a copy of `template`); its URL."""
    name = f"jukebox_{secrets.token_hex(6)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(text(f"CREATE DATABASE {name}{suffix}"))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drops the database of `url`, disconnecting its clients."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            name = make_url(url).database
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        engine.dispose()
