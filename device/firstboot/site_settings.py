"""The technician's site settings, applied over /etc/jukebox/jukebox.toml.

First boot (device/firstboot/apply.py) copies the boot partition's `jukebox/site.toml` into
the state directory without its secrets, and the one-time enrollment token beside it; those
settings win over the image's generic configuration (layers: defaults < /etc/jukebox <
technician's file < tenant). The card's or a stick's `kiosk.toml` (STATE/kiosk.toml) is laid
over /etc/jukebox/jukebox.toml the same way; a broken one is ignored, and said so on the
technician screen, rather than keeping the kiosk from starting.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from contract.kiosk_settings import read_document
from contract.layout import STATE_KIOSK_FILE
from contract.toml_reader import ConfigError
from device.config import KioskConfig, TenantConfig, layer_kiosk_settings
from device.firstboot.applied import applied_site, enrollment_token, firstboot_error

log = logging.getLogger(__name__)


def with_site_settings(config: KioskConfig) -> tuple[KioskConfig, list[str]]:
    """The configuration with the site's settings applied, and problems for the technician."""
    state_dir = config.device.state_dir
    problems: list[str] = []
    error = firstboot_error(state_dir)
    if error:
        problems.append(f"site file refused: {error}")
    try:
        site = applied_site(state_dir)
    except ConfigError as exc:
        log.error("site settings ignored: %s", exc)
        problems.append(f"site settings ignored: {exc}")
        site = None
    config = _with_kiosk_file(config, problems)
    device, tenant = config.device, config.tenant
    if site is not None:
        device = replace(device, name=site.device_name, site=site.site)
        tenant = replace(tenant, url=site.tenant_url) if tenant else TenantConfig(site.tenant_url)
        log.info("site settings: %r at site %r, tenant %s", site.device_name, site.site,
                 site.tenant_url)  # fmt: skip
    token = enrollment_token(state_dir)
    if token and tenant is not None and not tenant.enrollment_token:
        tenant = replace(tenant, enrollment_token=token)
    return replace(config, device=device, tenant=tenant), problems


def _with_kiosk_file(config: KioskConfig, problems: list[str]) -> KioskConfig:
    path = config.device.state_dir / STATE_KIOSK_FILE
    if not path.exists():
        return config
    try:
        layered = layer_kiosk_settings(config, read_document(path), str(path))
    except ConfigError as exc:
        log.error("kiosk settings ignored: %s", exc)
        problems.append(f"kiosk settings ignored: {exc}")
        return config
    log.info("kiosk settings: %s laid over %s", path, config.source)
    return layered
