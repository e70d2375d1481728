"""`jukebox provision …`: a technician's computer turns one generic image into many kiosks."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from contract.kiosk_settings import KIOSK_FILE, describe_kiosk_document
from contract.layout import BOOT_KIOSK_FILE, BOOT_SITE_FILE
from contract.site import (
    ENROLLMENT_TOKEN,
    TENANT_URL,
    WIFI_COUNTRY,
    WIFI_PSK,
    WIFI_SSID,
    Layer,
    SiteConfig,
    SiteConfigError,
    describe,
    parse_toml,
    read_text,
    site_config_from_layers,
    toml_layer,
)
from provisioning.partitions import ImageError

EXIT_FAILED = 1
EXIT_CONFIG = 2  # a broken configuration or command line, as `jukebox run` says it

OPTIONS = {
    TENANT_URL: "--tenant-url",
    WIFI_SSID: "--wifi-ssid",
    WIFI_PSK: "--wifi-psk",
    WIFI_COUNTRY: "--wifi-country",
    ENROLLMENT_TOKEN: "--enrollment-token",
}


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    provision = commands.add_parser(
        "provision", help="write a site configuration into kiosk images (a technician's tool)"
    )
    sub = provision.add_subparsers(dest="provision_command", required=True, metavar="COMMAND")
    image = sub.add_parser(
        "image",
        help="one image (-o) or one per devices.csv row (--batch) from a generic BASE image",
        description="Validate the site configuration, copy BASE.img (never modified) and write "
        f"{BOOT_SITE_FILE} into the copy's FAT boot partition.",
    )
    image.add_argument("base", nargs="?", type=Path, metavar="BASE.img")
    image.add_argument(
        "--site-config", type=Path, metavar="FILE", help="the site.toml to start from"
    )
    image.add_argument(
        "--tenant-url", metavar="URL", help="the tenant's URL, if not in --site-config"
    )
    image.add_argument("--wifi-ssid", metavar="SSID")
    image.add_argument("--wifi-psk", metavar="PSK", help="the passphrase ('-': read it from stdin)")
    image.add_argument("--wifi-country", metavar="CC", help="ISO 3166 code, e.g. FR")
    image.add_argument("--enrollment-token", metavar="TOKEN", help="one-time token (one kiosk)")
    image.add_argument(
        "--kiosk-config",
        type=Path,
        metavar="FILE",
        help=f"kiosk settings to write as {BOOT_KIOSK_FILE} (default: a {KIOSK_FILE} beside "
        "--site-config, if there is one)",
    )
    image.add_argument("-o", "--output", type=Path, metavar="OUT.img")
    image.add_argument("--batch", type=Path, metavar="devices.csv", help="one kiosk per row")
    image.add_argument("--out-dir", type=Path, metavar="DIR", help="where --batch writes")
    image.add_argument(
        "--config-only",
        action="store_true",
        help="write site.toml files only, to copy onto cards that are already flashed",
    )
    image.set_defaults(handler=cmd_image)

    inspect = sub.add_parser(
        "inspect", help="what a kiosk made from IMAGE would apply at first boot (no secret shown)"
    )
    inspect.add_argument(
        "image", type=Path, metavar="IMAGE", help="an image, a site.toml or a kiosk.toml"
    )
    inspect.set_defaults(handler=cmd_inspect)


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.batch:
        if args.output:
            return "-o is for one image; with --batch, give --out-dir DIR"
        if not args.out_dir:
            return "--batch needs --out-dir DIR"
        if args.enrollment_token:
            return "--enrollment-token: a one-time token serves one kiosk; use the CSV column"
        if args.kiosk_config:
            return "--kiosk-config is for one image; copy kiosk.toml onto batch cards yourself"
    else:
        if args.out_dir:
            return "--out-dir is for --batch; for one image, give -o OUT.img"
        if not args.output:
            return "-o OUT.img is required (or --batch devices.csv --out-dir DIR)"
        if not args.site_config:
            return "--site-config FILE is required"
    if args.config_only and args.base:
        return "--config-only writes site.toml files; leave out BASE.img"
    if not args.config_only and not args.base:
        return "BASE.img is required (or --config-only)"
    return None


def _layers(args: argparse.Namespace) -> list[Layer]:
    layers = []
    if args.site_config:
        source = str(args.site_config)
        layers.append(toml_layer(parse_toml(read_text(args.site_config), source), source))
    psk = sys.stdin.readline().rstrip("\r\n") if args.wifi_psk == "-" else args.wifi_psk
    options = {
        TENANT_URL: args.tenant_url,
        WIFI_SSID: args.wifi_ssid,
        WIFI_PSK: psk,
        WIFI_COUNTRY: args.wifi_country,
        ENROLLMENT_TOKEN: args.enrollment_token,
    }
    layers.append(Layer("command line", options, OPTIONS, options=True))
    return layers


def _kiosk_file(args: argparse.Namespace) -> Path | None:
    """The kiosk.toml to write: the one named, else one beside the site file (one image)."""
    if args.kiosk_config or args.batch or not args.site_config:
        return args.kiosk_config  # type: ignore[no-any-return]
    beside: Path = args.site_config.with_name(KIOSK_FILE)
    return beside if beside.is_file() else None


def _kiosk_facts(document: dict[str, object], indent: str = "  ") -> None:
    for line in describe_kiosk_document(document) or ["(empty: the image's settings)"]:
        out(f"{indent}{line}")


def _facts(config: SiteConfig, indent: str = "  ") -> None:
    for fact, value in describe(config):
        out(f"{indent}{fact:<17} {value}")


def cmd_image(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        err(f"jukebox provision image: {problem}")
        return EXIT_CONFIG
    try:
        layers = _layers(args)
        if args.batch:
            return _batch(args, layers)
        config = site_config_from_layers(layers)
        kiosk_path = _kiosk_file(args)
        kiosk = None
        if kiosk_path is not None:  # checked before anything is written, like site.toml
            from provisioning.provision import check_kiosk_file

            kiosk, document = check_kiosk_file(kiosk_path)
    except SiteConfigError as exc:
        err(f"jukebox provision: {exc}")
        return EXIT_CONFIG
    out(f"{args.site_config}: valid")
    _facts(config)
    if kiosk_path is not None:
        out(f"{kiosk_path}: valid")
        _kiosk_facts(document)
    try:
        if args.config_only:
            from contract.files import atomic_write
            from provisioning.provision import write_config_file

            write_config_file(args.output, config)
            out(f"wrote {args.output}; copy it to {BOOT_SITE_FILE} on the card's boot partition")
            if kiosk is not None:
                beside = args.output.with_name(KIOSK_FILE)
                if kiosk_path is None or beside.resolve() != kiosk_path.resolve():
                    atomic_write(beside, kiosk, mode=0o644)
                out(f"kiosk settings in {beside}; copy it to {BOOT_KIOSK_FILE}")
        else:
            from provisioning.provision import provision_image

            done = provision_image(args.base, args.output, config, kiosk=kiosk)
            out(
                f"copied {args.base} → {args.output} ({done.size >> 20} MiB, "
                f"{done.data / (1 << 20):.1f} MiB of data)"
            )
            out(f"wrote {BOOT_SITE_FILE} into {done.partition.describe()}")
            if kiosk is not None:
                out(f"wrote {BOOT_KIOSK_FILE} beside it")
    except (ImageError, OSError) as exc:
        err(f"jukebox provision: {exc}")
        return EXIT_FAILED
    if config.secret_keys:
        out(f"{args.output} holds secrets ({', '.join(config.secret_keys)}): keep it private")
    return 0


def _batch(args: argparse.Namespace, layers: list[Layer]) -> int:
    from provisioning.batch import Card, plan_batch, run_batch

    cards = plan_batch(args.batch, layers, args.out_dir, config_only=args.config_only)
    out(f"{args.batch}: {len(cards)} kiosks, all valid")
    began = time.monotonic()

    def progress(index: int, card: Card) -> None:
        out(f"[{index}/{len(cards)}] {card.config.device_name} → {card.output}")

    try:
        run_batch(cards, None if args.config_only else args.base, on_done=progress)
    except (ImageError, OSError) as exc:
        err(f"jukebox provision: {exc}")
        return EXIT_FAILED
    kind = "site files" if args.config_only else "images"
    out(f"{len(cards)} {kind} in {args.out_dir} ({time.monotonic() - began:.1f} s)")
    if any(card.config.secret_keys for card in cards):
        out("they hold secrets: keep them private")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from contract.site import load_site_config
    from provisioning.provision import inspect_image

    try:
        if args.image.name == KIOSK_FILE:
            from provisioning.provision import check_kiosk_file

            _kiosk, document = check_kiosk_file(args.image)
            out(f"{args.image}: valid; a kiosk with it beside site.toml would apply:")
            _kiosk_facts(document)
            return 0
        if args.image.suffix == ".toml":
            config = load_site_config(args.image, allow_moved_psk=True)
            out(f"{args.image}: a kiosk with this file on its boot partition would apply:")
            _facts(config)
            return 0
        found = inspect_image(args.image)
    except SiteConfigError as exc:
        err(f"jukebox provision inspect: {exc}")
        return EXIT_CONFIG
    except (ImageError, OSError) as exc:
        err(f"jukebox provision inspect: {exc}")
        return EXIT_FAILED
    out(f"{args.image}: boot {found.partition.describe()}")
    if found.kiosk is not None:
        out(f"at first boot, the kiosk keeps {BOOT_KIOSK_FILE} (valid) as its settings:")
        _kiosk_facts(found.kiosk)
    if found.config is None:
        out(f"no site configuration ({BOOT_SITE_FILE} absent): the kiosk will start unconfigured")
        return 0
    out(f"at first boot, the kiosk applies {BOOT_SITE_FILE}:")
    _facts(found.config)
    return 0
