"""Zero-touch enrollment with a provisioned card: `jukebox provision image` writes the token
into site.toml, first boot moves it to the state directory, and the real kiosk daemon is
claimed for the token's site without anyone typing its code; a used-up token falls back to the
claim code, and the kiosk says why on its technician screen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioning.partitions import find_boot_partition
from provisioning.testimage import make_small_image
from tests.e2e.cli import admin
from tests.e2e.rig import SLUG, E2EKiosk, Rig, eventually
from tests.provisioning.conftest import jukebox

SITE = "annexe"


@pytest.fixture(scope="module")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_image(tmp_path_factory.mktemp("base") / "base.img")


def provisioned_kiosk(rig: Rig, base_image: Path, name: str, token: str) -> E2EKiosk:
    """A card made by `jukebox provision image`, its boot partition read back with mtools,
    `jukebox firstboot` run on it into the kiosk's state directory: the kiosk as it boots."""
    folder = rig.folder / name
    folder.mkdir()
    site = folder / "site.toml"
    site.write_text(f'[device]\nname = "{name}"\nsite = "{SITE}"\n', encoding="utf-8")
    card = folder / "card.img"
    assert jukebox("provision", "image", base_image, "--site-config", site,
                   "--tenant-url", rig.tenant.url(SLUG), "--enrollment-token", token,
                   "-o", card) == 0  # fmt: skip
    boot = folder / "boot"
    boot.mkdir()
    offset = find_boot_partition(card).offset
    subprocess.run(
        ["mcopy", "-s", "-n", "-i", f"{card}@@{offset}", "::jukebox", str(boot)],
        check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    )
    kiosk = rig.kiosk(name)
    assert jukebox("firstboot", "--boot-dir", boot, "--state-dir", kiosk.state_dir) == 0
    assert token not in (boot / "jukebox" / "site.toml").read_text()  # off the card
    return kiosk


def test_a_card_with_a_token_is_claimed_for_its_site_and_a_used_up_one_shows_its_code(
    rig: Rig, base_image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = admin(rig, capsys, "enrollment-token", "create", "--site", SITE,
                           "--uses", "1")  # fmt: skip
    assert code == 0, err
    token = out.splitlines()[1]
    first = provisioned_kiosk(rig, base_image, "hall", token)
    first.boot()
    first.wait_until(lambda s: s["tenant_state"] == "active", 30, "claimed by its token")
    assert first.status()["claim_code"] is None
    assert first.credentials().site == SITE
    [device] = [
        d for d in rig.tenant.devices(SLUG) if d["device_id"] == first.credentials().device_id
    ]
    assert device["site"] == SITE and device["status"] == "active"

    second = provisioned_kiosk(rig, base_image, "stairs", token)
    second.boot()
    second.wait_until(lambda s: s["claim_code"] is not None, 30, "a claim code instead")
    reason = "enrollment token refused (enrollment token used up): claim with the code"
    eventually(lambda: reason in second.log_text(), 10, "the reason on the technician screen")
    assert second.status()["tenant_state"] == "pending"
    code, out, _ = admin(rig, capsys, "enrollment-token", "list")
    assert code == 0 and SITE in out
