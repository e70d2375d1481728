"""Many kiosks from one devices.csv: every row is validated before anything is written.

A batch of a hundred cards that stops at row 57 leaves a technician unsure which cards are
good; refusing the whole file up front, with the row and the column at fault, does not.
Row numbers are the spreadsheet's: the header is row 1.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract.site import (
    DEVICE_NAME,
    ENROLLMENT_TOKEN,
    SITE,
    TENANT_URL,
    WIFI_COUNTRY,
    WIFI_PSK,
    WIFI_SSID,
    Layer,
    SiteConfig,
    SiteConfigError,
    read_text,
    site_config_from_layers,
)
from provisioning.partitions import ImageError, find_boot_partition
from provisioning.provision import provision_image, write_config_file

COLUMNS = {
    "name": DEVICE_NAME,
    "site": SITE,
    "wifi_ssid": WIFI_SSID,
    "wifi_psk": WIFI_PSK,
    "wifi_country": WIFI_COUNTRY,
    "enrollment_token": ENROLLMENT_TOKEN,
}
REQUIRED_COLUMNS = ("name", "site")
CONFIG_ONLY_FILE = Path("jukebox/site.toml")


@dataclass(frozen=True)
class Card:
    row: int
    config: SiteConfig
    output: Path  # DIR/NAME.img, or DIR/NAME/jukebox/site.toml to copy onto a flashed card


def file_stem(name: str, row: int) -> str:
    """'Kiosque de l'entrée' -> 'kiosque-de-l-entree': safe on every filesystem and shell."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return stem or f"kiosk-row-{row}"


def _header(source: str, cells: list[str]) -> list[str]:
    names = [c.strip().lower() for c in cells]
    for name in names:
        if name not in COLUMNS:
            hint = difflib.get_close_matches(name, COLUMNS, n=1)
            expected = f"did you mean '{hint[0]}'?" if hint else "expected " + ", ".join(COLUMNS)
            raise SiteConfigError(source, name or "(empty)", f"unknown column, {expected}")
        if names.count(name) > 1:
            raise SiteConfigError(source, name, "this column appears twice")
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise SiteConfigError(
                source, name, f"missing column; the header needs {' and '.join(REQUIRED_COLUMNS)}"
            )
    return names


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row, {column: cell}) for each non-blank row. Commas or semicolons (as
    spreadsheets in French write them); UTF-8 with or without a byte-order mark."""
    source = str(path)
    text = read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise SiteConfigError(f"{source} row {reader.line_num}", "", f"not CSV: {exc}") from None
    if not rows:
        raise SiteConfigError(source, "", "empty file; expected a header: name,site,...")
    names = _header(source, rows[0])
    found = []
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(names):
            raise SiteConfigError(
                f"{source} row {number}", "", f"{len(cells)} cells, the header has {len(names)}"
            )
        found.append((number, dict(zip(names, cells, strict=False))))
    if not found:
        raise SiteConfigError(source, "", "no devices, only a header")
    return found


def plan_batch(
    csv_path: Path, base: Sequence[Layer], out_dir: Path, *, config_only: bool
) -> list[Card]:
    """Every card of the batch, validated: `base` holds the layers every row starts from
    (the --site-config file, the command-line options)."""
    for layer in base:
        if layer.values.get(ENROLLMENT_TOKEN):
            raise layer.fail(
                ENROLLMENT_TOKEN,
                "a one-time token cannot be shared by a batch; give one per row in the "
                "enrollment_token column",
            )
    if not any(layer.values.get(TENANT_URL) for layer in base):
        raise SiteConfigError(
            "command line", "--tenant-url", "missing; give it, or a --site-config with [tenant] url"
        )
    cards: list[Card] = []
    used_outputs: dict[Path, int] = {}
    used_tokens: dict[str, int] = {}
    for number, cells in read_rows(csv_path):
        row = Layer(f"{csv_path} row {number}", {COLUMNS[c]: v for c, v in cells.items()})
        config = site_config_from_layers([*base, row])
        stem = file_stem(config.device_name, number)
        output = out_dir / stem / CONFIG_ONLY_FILE if config_only else out_dir / f"{stem}.img"
        if output in used_outputs:
            raise row.fail(
                DEVICE_NAME,
                f"{config.device_name!r} gives the same file name as row {used_outputs[output]} "
                f"({output.relative_to(out_dir)}); make the names distinct",
            )
        if config.enrollment_token in used_tokens:
            raise row.fail(
                ENROLLMENT_TOKEN,
                f"the same token as row {used_tokens[config.enrollment_token]}; "
                "a one-time token serves one kiosk",
            )
        used_outputs[output] = number
        if config.enrollment_token:
            used_tokens[config.enrollment_token] = number
        cards.append(Card(number, config, output))
    return cards


def run_batch(
    cards: Sequence[Card],
    base_image: Path | None,
    *,
    on_done: Callable[[int, Card], None] = lambda index, card: None,
    now: datetime | None = None,
) -> None:
    """Write every card: images from `base_image`, or site files alone when it is None.
    `on_done(index, card)` follows each one (index from 1), for progress."""
    if base_image is not None:
        find_boot_partition(base_image)  # before the first output, not after it
        for card in cards:
            if card.output.resolve() == base_image.resolve():
                raise ImageError(
                    f"{card.output}: is the base image itself; choose another --out-dir"
                )
    for index, card in enumerate(cards, start=1):
        card.output.parent.mkdir(parents=True, exist_ok=True)
        if base_image is None:
            write_config_file(card.output, card.config, now=now)
        else:
            provision_image(base_image, card.output, card.config, now=now)
        on_done(index, card)
