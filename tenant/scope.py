"""A curator acts only on the sites their account is given; other roles are not scoped.

Called by the service functions with what a request would change, since the sites are in
its body (the route table, tenant/roles.py, only says who may call the route at all).
"""

from __future__ import annotations

from collections.abc import Iterable

from tenant.accounts import Staff
from tenant.errors import ApiError
from tenant.roles import Role
from tenant.store import Device, Playlist, TenantStore


def check_sites(staff: Staff, sites: Iterable[str | None], what: str) -> None:
    """403 unless a curator is given every one of these sites."""
    if staff.role is not Role.CURATOR:
        return
    outside = sorted({s or "(no site)" for s in sites} - set(staff.sites))
    if outside:
        raise ApiError(
            403,
            "forbidden",
            f"{what}: {staff.username} curates {', '.join(staff.sites) or 'no site'}, "
            f"not {', '.join(outside[:10])}",
        )


def check_devices(staff: Staff, devices: Iterable[Device], what: str) -> None:
    """403 unless a curator is given the site of every one of these kiosks."""
    check_sites(staff, (d.site for d in devices), what)


def check_playlist(staff: Staff, store: TenantStore, playlist: Playlist, what: str) -> None:
    """403 unless a curator is given every site this playlist goes to and the site of every
    kiosk it is assigned to: changing its content or retiring it changes what they play."""
    if staff.role is not Role.CURATOR:
        return
    check_sites(staff, playlist.sites, what)
    if playlist.devices:
        devices = {d.device_id: d for d in store.list_devices(playlist.tenant)}
        check_devices(staff, [devices[d] for d in playlist.devices if d in devices], what)
