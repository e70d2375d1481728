"""The compatible string is spelt in one place: the image build's system.conf and bundles, and
the tenant's check of an upload, agree for every slug a tenant can have."""

from __future__ import annotations

import pytest

from contract.firmware import compatible_for
from tenant import firmware as tenant_firmware
from tests.image_build import load

bundle_tool = load("bundle")


def test_a_network_slug_gives_its_compatible_string() -> None:
    assert compatible_for("springfield") == "jukebox-springfield-rpi-arm64"
    assert compatible_for("mediatheques-sud") == "jukebox-mediatheques-sud-rpi-arm64"


@pytest.mark.parametrize("slug", ["", "Springfield", "-lib", "lib a", "lib_a", "x" * 64])
def test_a_slug_no_tenant_can_have_is_refused_by_name(slug: str) -> None:
    with pytest.raises(ValueError, match=f"tenant {slug!r}"):
        compatible_for(slug)


def test_the_image_build_and_the_tenant_use_the_same_rule() -> None:
    long_slug = "a" * 63  # the tenant allows 63 characters; the image build once stopped at 40
    for slug in ("springfield", "lib-a", long_slug):
        assert bundle_tool.compatible_for(slug) == compatible_for(slug)
    assert vars(tenant_firmware)["compatible_for"] is compatible_for  # not a copy of its own
    with pytest.raises(bundle_tool.BundleError, match="tenant 'Lib'"):
        bundle_tool.compatible_for("Lib")
