"""`jukebox tenant …` (run the reference tenant service) and `jukebox admin …` (administer one
tenant over HTTP). Heavy imports (FastAPI, uvicorn, requests) happen only when a command runs,
so the kiosk's own commands never load them."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tenant import admin_cli
from tenant.console import err, out
from tenant.staff_cli import ENV_ADMIN_PASSWORD, add_user_commands, ask_password, server_actor

DEFAULT_PORT = 8470
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
ENV_DATABASE_URL = "JUKEBOX_TENANT_DATABASE_URL"
# `serve` and `ingest` exit with EX_CONFIG (sysexits.h) for what only the operator can fix: a
# database to migrate, a missing or broken file or setting. Their units restart them on any
# other failure, such as a database that does not answer yet (exit 1), and never on this one.
EX_CONFIG = 78
# How long a stopping `serve` waits for requests in progress before it closes what is left,
# within the unit's TimeoutStopSec=20. Without it, an idle HTTPS keep-alive connection (a
# kiosk's session) holds the stop for asyncio's 30 s TLS shutdown timeout (tests/tenant/
# test_https.py), and systemd kills the service.
STOP_GRACE_S = 5


class ConfigError(Exception):
    """A setting or file the operator must fix before the service can start; names it."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("tenant", help="run the reference tenant service")
    sub = tenant.add_subparsers(dest="tenant_command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="create a tenant and write its admin credentials")
    init.add_argument("--data", type=Path, required=True, help="the service's data directory")
    init.add_argument("--slug", required=True, help="the tenant's id in URLs, e.g. mediatheques")
    init.add_argument("--name", required=True, help="the name kiosks show")
    init.add_argument("--url", default=DEFAULT_URL, help=f"the service URL (default {DEFAULT_URL})")
    init.add_argument("--mqtt-host", default="127.0.0.1")
    init.add_argument("--mqtt-port", type=int, default=8883)
    init.add_argument("--no-mqtt-tls", dest="mqtt_tls", action="store_false")
    init.add_argument(
        "--database-url", help=f"SQLAlchemy URL (or ${ENV_DATABASE_URL}; default: SQLite in --data)"
    )
    init.add_argument(
        "--admin-user",
        default="admin",
        help="the first network administrator (default admin); its password is printed once, "
        f"or read from ${ENV_ADMIN_PASSWORD}, or asked for (--ask-password)",
    )
    init.add_argument(
        "--ask-password",
        action="store_true",
        help="ask for the first administrator's password: twice on a terminal, without echo; "
        "otherwise one line from standard input",
    )
    init.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the network's IANA time zone of opening hours and schedules, e.g. Europe/Paris "
        "(sites may set their own: jukebox admin site-settings)",
    )
    init.set_defaults(handler=cmd_init)

    serve = sub.add_parser("serve", help="serve the tenant API")
    serve.add_argument("--data", type=Path, required=True, help="the service's data directory")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--certfile", type=Path, help="TLS certificate (PEM); TLS when given")
    serve.add_argument("--keyfile", type=Path, help="TLS private key (PEM)")
    serve.add_argument(
        "--database-url", help=f"SQLAlchemy URL (or ${ENV_DATABASE_URL}; default: SQLite in --data)"
    )
    serve.add_argument(
        "--public-url",
        action="append",
        default=[],
        help="the service URL as devices know it, when behind a proxy (repeatable)",
    )
    serve.set_defaults(handler=cmd_serve)

    ingest = sub.add_parser(
        "ingest", help="store what kiosks publish over MQTT (plays, status); several may run"
    )
    ingest.add_argument(
        "--data", "--data-dir", dest="data", type=Path, required=True,
        help="the service's data directory (its broker.json names the broker)",
    )  # fmt: skip
    ingest.add_argument(
        "--database-url", help=f"SQLAlchemy URL (or ${ENV_DATABASE_URL}; default: SQLite in --data)"
    )
    ingest.add_argument(
        "--client-id",
        help="MQTT client id, stable across restarts and different for each ingester "
        "(default: jk-ingest-HOSTNAME)",
    )
    ingest.set_defaults(handler=cmd_ingest)

    migrate = sub.add_parser(
        "migrate", help="upgrade the database's schema in place (back it up first)"
    )
    migrate.add_argument("--data", type=Path, required=True, help="the service's data directory")
    migrate.add_argument(
        "--database-url", help=f"SQLAlchemy URL (or ${ENV_DATABASE_URL}; default: SQLite in --data)"
    )
    migrate.set_defaults(handler=cmd_migrate)

    backup = sub.add_parser(
        "backup", help="copy the database to a file while the service runs (SQLite: online backup)"
    )
    backup.add_argument("--data", type=Path, required=True, help="the service's data directory")
    backup.add_argument("--database-url", help=f"SQLAlchemy URL (or ${ENV_DATABASE_URL})")
    backup.add_argument("--output", type=Path, required=True, help="the backup file to write")
    backup.set_defaults(handler=cmd_backup)

    restore = sub.add_parser(
        "restore", help="replace the database with a backup (the service and ingesters stopped)"
    )
    restore.add_argument("--data", type=Path, required=True, help="the service's data directory")
    restore.add_argument("--database-url", help=f"SQLAlchemy URL (or ${ENV_DATABASE_URL})")
    restore.add_argument("--input", type=Path, required=True, help="a file made by `backup`")
    restore.set_defaults(handler=cmd_restore)

    broker = sub.add_parser(
        "broker-setup",
        help="write a mosquitto setup (config, accounts, TLS) and tell the service how to reach it",
    )
    broker.add_argument("--data", type=Path, required=True, help="the service's data directory")
    broker.add_argument("--output", type=Path, required=True, help="the broker's folder")
    broker.add_argument("--port", type=int, default=8883, help="the broker's port (default 8883)")
    broker.add_argument("--bind", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    broker.add_argument(
        "--host", default="127.0.0.1", help="how the service reaches the broker (127.0.0.1)"
    )
    broker.add_argument(
        "--tls-host",
        action="append",
        default=[],
        help="make a private CA and a certificate for this name or address (repeatable; "
        "demos and tests: production uses real certificates)",
    )
    broker.add_argument(
        "--user", help="the account mosquitto runs as when started as root (default: mosquitto)"
    )
    broker.set_defaults(handler=cmd_broker_setup)

    add_user_commands(sub)  # jukebox tenant user … (tenant/staff_cli.py)

    openapi = sub.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", type=Path, help="default: docs/tenant-openapi.json")
    openapi.set_defaults(handler=cmd_openapi)

    admin_cli.add_admin_command(commands)


def cmd_init(args: argparse.Namespace) -> int:
    from tenant.accounts import AccountError, check_password
    from tenant.admin_client import Credentials, write_credentials
    from tenant.setup import setup_tenant

    password = os.environ.get(ENV_ADMIN_PASSWORD) or None
    if args.ask_password:
        try:
            password = ask_password(args.admin_user)
        except (ValueError, EOFError, KeyboardInterrupt) as exc:
            err(f"jukebox tenant init: {exc or 'no password given'}")
            return 1
    try:
        if password is not None:
            check_password(password)  # before anything is made
        made = setup_tenant(
            args.data,
            args.slug,
            args.name,
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            mqtt_tls=args.mqtt_tls,
            database_url=args.database_url or os.environ.get(ENV_DATABASE_URL),
            admin_user=args.admin_user,
            admin_password=password,
            actor=server_actor(),
            timezone=args.timezone,
        )
    except (ValueError, OSError, AccountError) as exc:
        err(f"jukebox tenant init: {exc}")
        return 1
    path = write_credentials(
        args.data / f"admin-{args.slug}.json", Credentials(args.url, args.slug, made.token)
    )
    err(f"tenant {args.slug} ({args.name}) is ready in {args.data}")
    if made.password is not None:
        out(f"network administrator {made.username}, password (shown once): {made.password}")
    out(f"admin credentials ({made.username}'s token): {path}")
    out(f"  use them with: jukebox admin --credentials {path} …")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if (args.certfile is None) != (args.keyfile is None):
        err("jukebox tenant serve: give both --certfile and --keyfile")
        return 2
    return run_service("serve", args, lambda: serve(args))


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tenant.service import create_app
    from tenant.settings import TenantSettings

    check_tls_files(args.certfile, args.keyfile)
    settings = TenantSettings(public_urls=tuple(args.public_url))
    app = create_app(
        args.data, args.database_url or os.environ.get(ENV_DATABASE_URL), settings=settings
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=str(args.certfile) if args.certfile else None,
        ssl_keyfile=str(args.keyfile) if args.keyfile else None,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=STOP_GRACE_S,
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # held token polls answer now: uvicorn waits for requests in progress
            app.state.context.claim_waits.close()
            super().handle_exit(sig, frame)

    Server(config).run()
    return 0


def check_tls_files(certfile: Path | None, keyfile: Path | None) -> None:
    """Loads the API's certificate and key as uvicorn will, to name them if they are unusable
    (uvicorn's own error names neither, after the store has opened)."""
    if certfile is None or keyfile is None:
        return
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except OSError as exc:  # ssl.SSLError too
        raise ConfigError(f"TLS certificate {certfile} and key {keyfile}: {exc}") from exc


def cmd_ingest(args: argparse.Namespace) -> int:
    from tenant.ingest.run import default_client_id, run_ingester

    return run_service(
        "ingest",
        args,
        lambda: run_ingester(
            args.data,
            args.database_url or os.environ.get(ENV_DATABASE_URL),
            args.client_id or default_client_id(),
        ),
    )


def run_service(command: str, args: argparse.Namespace, run: Callable[[], int]) -> int:
    """Runs `serve` or `ingest`; when it cannot start, says why in the journal and exits with
    the code its systemd unit acts on (EX_CONFIG above)."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from tenant.broker.settings import BrokerSettingsError
    from tenant.store.migrate import SchemaOutOfDate

    name = f"jukebox tenant {command}"
    try:
        return run()
    except SchemaOutOfDate as exc:
        err(f"{name}: {exc}")
        err(f"  run: {migrate_command(args)}")
        return EX_CONFIG
    except (ConfigError, FileNotFoundError, BrokerSettingsError) as exc:
        err(f"{name}: {exc}")
        return EX_CONFIG
    except ArgumentError as exc:  # an unparsable URL or an unknown kind of database
        err(f"{name}: database URL {shown_database_url(args)}: {exc}")
        return EX_CONFIG
    except OperationalError as exc:  # down, starting, unreachable: systemd starts us again
        reason = " ".join(str(exc.orig).split())
        err(f"{name}: cannot reach the database {shown_database_url(args)}: {reason}")
        return 1


def migrate_command(args: argparse.Namespace) -> str:
    """The exact `migrate` command for the database this command was given."""
    url = " --database-url URL" if args.database_url else ""
    return f"jukebox tenant migrate --data {args.data}{url}"


def database_url(args: argparse.Namespace) -> str:
    from tenant.store import default_database_url

    given: str | None = args.database_url or os.environ.get(ENV_DATABASE_URL)
    return given or default_database_url(Path(args.data).absolute())


def shown_database_url(args: argparse.Namespace) -> str:
    """The database's URL for messages: its password hidden."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    url = database_url(args)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # unparsable: only what follows the last "@", never a password
        return url.rsplit("@", 1)[-1]


def cmd_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from tenant.store.migrate import SchemaOutOfDate, head_revision, upgrade

    Path(args.data).mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url(args))
    try:
        done = upgrade(engine)
    except SchemaOutOfDate as exc:  # not a tenant database
        err(f"jukebox tenant migrate: {exc}")
        return EX_CONFIG
    except SQLAlchemyError as exc:
        err(f"jukebox tenant migrate: {engine.url.render_as_string(hide_password=True)}: {exc}")
        return 1
    finally:
        engine.dispose()
    if done.before == done.after:
        out(f"the database is up to date (schema revision {done.after})")
    else:
        out(f"database upgraded: schema revision {done.before or 'none'} -> {done.after}")
    assert done.after == head_revision()
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from tenant.store.backup import BackupError, backup

    try:
        size = backup(database_url(args), args.output)
    except BackupError as exc:
        err(f"jukebox tenant backup: {exc}")
        return 1
    out(f"wrote {args.output} ({size:,} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from tenant.store.backup import BackupError, restore

    try:
        restore(args.input, database_url(args))
    except BackupError as exc:
        err(f"jukebox tenant restore: {exc}")
        return 1
    out(f"restored {args.input}; start the service and the ingesters again")
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from tenant.openapi import DOC_PATH, write_openapi

    path = write_openapi(args.output or DOC_PATH)
    out(f"wrote {path}")
    return 0


def cmd_broker_setup(args: argparse.Namespace) -> int:
    from tenant.broker.process import BrokerError
    from tenant.broker.setup import write_broker_setup

    try:
        setup = write_broker_setup(
            args.output,
            port=args.port,
            bind=args.bind,
            service_host=args.host,
            tls_hostnames=args.tls_host or None,
            data_dir=args.data,
            user=args.user,
        )
    except (BrokerError, ValueError, OSError) as exc:
        err(f"jukebox tenant broker-setup: {exc}")
        return 1
    out(f"broker setup in {setup.folder}: run it with  mosquitto -c {setup.config_file}")
    out(f"the service and ingesters reach it at {setup.settings.host}:{setup.settings.port}")
    if setup.tls is not None:
        out(f"kiosks verify it with the CA {setup.tls.ca_file} (tenant.ca_file)")
    return 0
