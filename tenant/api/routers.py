"""The one way a staff API router is made: its prefix, a signed-in staff member on every route
(tenant/roles.py then says which role each route needs), and the error answers it documents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tenant.api.models import ErrorBody
from tenant.auth import STAFF

ADMIN_PREFIX = "/t/{tenant}/v1/admin"


def staff_router(tag: str, *, prefix: str = ADMIN_PREFIX, also: tuple[int, ...] = ()) -> APIRouter:
    """Routes under `prefix` for signed-in staff; `also` adds statuses (e.g. 409) to the
    401/403/404/422 that every staff route can answer with an ErrorBody."""
    codes = sorted({401, 403, 404, 422, *also})
    responses: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in codes}
    return APIRouter(prefix=prefix, tags=[tag], dependencies=[STAFF], responses=responses)
