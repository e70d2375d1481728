"""A track's rights holders and their shares, several of them (the network administrator's,
as `PUT /admin/payouts/shares/{track}` and `jukebox admin track shares`): the payouts API's
own handler saves them, so shares that do not add up to 100 % are refused with its message
("track t: shares add up to 99.50 %, not 100 %") and nothing is written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from tenant.api import payouts as payouts_api
from tenant.api.payouts import ShareItem, SharesBody
from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.payouts_cli import parse_share
from tenant.store import Tenant
from tenant.web.forms import Form, form_of, problem_of
from tenant.web.kiosks import _done
from tenant.web.render import page
from tenant.web.session import Caller, Console, ConsoleError

router = APIRouter(
    prefix="/t/{tenant}/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
TrackId = Annotated[str, Path(max_length=200)]
BLANK_ROWS = 3  # empty rows under the current shares, for new holders


def _page(
    request: Request, ctx: ServiceContext, tenant: Tenant, console: Console, track_id: str,
    rows: list[tuple[str, str]] | None = None, *, status: int = 200, error: str | None = None,
) -> HTMLResponse:  # fmt: skip
    track = ctx.store.tracks_by_id(tenant.slug, [track_id]).get(track_id)
    if track is None:
        raise ConsoleError(404, f"no track {track_id!r}")
    if rows is None:
        shares = ctx.store.payout_shares(tenant.slug, track_id)
        rows = [(s.holder_id, _percent(s.basis_points)) for s in shares]
    rows = [*rows, *[("", "")] * BLANK_ROWS]
    return page(
        request, "shares.html", console, tenant.slug, status=status, error=error, track=track,
        rows=rows, holders=ctx.store.payout_holders(tenant.slug),
    )  # fmt: skip


def _percent(basis_points: int) -> str:
    """6050 -> "60.50", 10000 -> "100": what the form shows and parse_share reads back."""
    whole, rest = divmod(basis_points, 100)
    return f"{whole}.{rest:02d}" if rest else str(whole)


@router.get("/tracks/{track_id}/shares")
def shares_page(
    track_id: TrackId, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    return _page(request, ctx, tenant, console, track_id)


def rows_of(form: Form) -> list[tuple[str, str]]:
    """The rows posted, (holder, percent), blank ones left out."""
    pairs = zip(form.lists.get("holder", []), form.lists.get("percent", []), strict=False)
    return [(h.strip(), p.strip()) for h, p in pairs if h.strip() or p.strip()]


def shares_of(rows: list[tuple[str, str]]) -> list[ShareItem]:
    """Basis points from decimal text, never a float (ValueError names the row)."""
    items = []
    for number, (holder, percent) in enumerate(rows, 1):
        if not holder or not percent:
            raise ValueError(f"row {number}: name the rights holder and their percentage")
        _, basis_points = parse_share(f"{holder}={percent}")
        items.append(ShareItem(holder=holder, basis_points=basis_points))
    return items


@router.post("/tracks/{track_id}/shares")
async def save_shares(
    track_id: TrackId, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> Response:
    """Replace the track's holders (none left: no known rights holder) through the payouts
    API's handler: its checks, its audit row (`shares.set`)."""
    rows = rows_of(await form_of(request))
    try:
        body = SharesBody(shares=shares_of(rows))
        payouts_api.set_payout_shares(track_id, body, ctx, tenant, console.staff)
    except ValidationError as exc:
        return _page(request, ctx, tenant, console, track_id, rows, status=422,
                     error=problem_of(exc))  # fmt: skip
    except ApiError as exc:
        return _page(request, ctx, tenant, console, track_id, rows, status=exc.status,
                     error=exc.description)  # fmt: skip
    except ValueError as exc:
        return _page(request, ctx, tenant, console, track_id, rows, status=422, error=str(exc))
    return _done(tenant, f"tracks/{track_id}/shares", "Saved.")
