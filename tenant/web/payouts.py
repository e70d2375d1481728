"""Payout statements under Reports: the periods (closed, and the open ones since the last
closed), a period's statement per library and per rights holder, and each holder's CSV and PDF
and each library's CSV, written by the same functions as `jukebox admin payouts show|preview`
(tenant/payouts/export_*.py) from the same store reads and ledger as the payouts API.

Money is the network administrator's and the reports role's (tenant/roles.py, as for
`GET /admin/payouts/periods/*`); a curator neither sees the link nor opens these pages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.payouts import ledger
from tenant.payouts.export_csv import holder_csv, library_csv
from tenant.payouts.export_pdf import holder_pdf
from tenant.payouts.model import PayoutInputError
from tenant.payouts.statement import UNATTRIBUTED, Statement, statement_from_bytes
from tenant.store import Tenant
from tenant.web.render import page
from tenant.web.session import Caller, ConsoleError

router = APIRouter(
    prefix="/t/{tenant}/console/reports/payouts",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
PeriodPath = Annotated[str, Path(max_length=16, description="a month, YYYY-MM")]
HolderQuery = Annotated[str, Query(max_length=64, description="empty: money held")]
LibraryQuery = Annotated[str, Query(max_length=64)]
LIST_KEY = "GET /console/reports/payouts"


def _month_after(name: str) -> str:
    year, month = int(name[:4]), int(name[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def periods(ctx: ServiceContext, tenant: Tenant) -> list[dict[str, Any]]:
    """Closed periods (oldest first), then the open months from the one after the last closed
    (or last month, when none is closed) to this month."""
    closed = ctx.store.closed_payout_periods(tenant.slug)
    rows: list[dict[str, Any]] = [
        {"name": c.period.name, "closed": True, "closed_by": c.closed_by,
         "closed_ms": c.closed_ms}
        for c in closed
    ]  # fmt: skip
    now = datetime.fromtimestamp(ctx.settings.now_ms() / 1000, UTC)
    this_month = f"{now.year}-{now.month:02d}"
    if closed:
        current = _month_after(closed[-1].period.name)
    else:
        previous = now.month - 1 or 12
        current = f"{now.year - (now.month == 1)}-{previous:02d}"
    while current <= this_month:
        rows.append({"name": current, "closed": False})
        current = _month_after(current)
    return rows


def statement_of(ctx: ServiceContext, tenant: Tenant, period: str) -> tuple[Statement, Any]:
    """The closed statement read back from its signed bytes, else the preview of the open
    period (computed now, as `GET /admin/payouts/periods/{period}/preview` does)."""
    try:
        name = ledger.parse_period(period).name
        closed = ctx.store.closed_payout_period(tenant.slug, name)
        if closed is not None:
            return statement_from_bytes(closed.body), closed
        return ledger.preview(ctx.store, tenant.slug, name), None
    except PayoutInputError as exc:
        raise ConsoleError(422, str(exc)) from exc


def holder_totals(statement: Statement) -> list[dict[str, Any]]:
    """Per rights holder and currency: counted plays, library-centric and pro-rata amounts."""
    totals: dict[tuple[str, str], list[int]] = {}
    for line in statement.lines:
        figures = totals.setdefault((line.holder_id, line.currency), [0, 0, 0])
        figures[0] += line.counted_plays
        figures[1] += line.amount_minor
        figures[2] += line.pro_rata_minor
    names = dict(statement.holders)
    return [
        {"id": holder, "name": names.get(holder, holder), "currency": currency,
         "plays": plays, "amount_minor": amount, "pro_rata_minor": pro_rata}
        for (holder, currency), (plays, amount, pro_rata) in sorted(totals.items())
    ]  # fmt: skip


@router.get("")
def payout_periods_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    return page(request, "payouts.html", console, tenant.slug, periods=periods(ctx, tenant)[::-1])


@router.get("/{period}")
def payout_period_page(
    period: PeriodPath, request: Request, ctx: Context, tenant: CurrentTenant, console: Caller
) -> HTMLResponse:
    statement, closed = statement_of(ctx, tenant, period)
    return page(
        request, "payout.html", console, tenant.slug, statement=statement, closed=closed,
        holders=holder_totals(statement), held=UNATTRIBUTED,
    )  # fmt: skip


def _file_name(kind: str, ident: str, period: str, suffix: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ident) if ident != UNATTRIBUTED else "unattributed"
    return f"payouts-{period}-{kind}-{safe}{suffix}"


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body, media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


def _known_holder(statement: Statement, holder: str) -> None:
    if not any(line.holder_id == holder for line in statement.lines):
        raise ConsoleError(404, f"period {statement.period.name}: no lines for holder {holder!r}")


@router.get("/{period}/holder.csv", response_class=Response)
def payout_holder_csv(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant, console: Caller,
    holder: HolderQuery = "",
) -> Response:  # fmt: skip
    """One rights holder's lines as `jukebox admin payouts show` writes holder-ID.csv."""
    statement, _ = statement_of(ctx, tenant, period)
    _known_holder(statement, holder)
    name = _file_name("holder", holder, statement.period.name, ".csv")
    return _download(holder_csv(statement, holder), "text/csv; charset=utf-8", name)


@router.get("/{period}/holder.pdf", response_class=Response)
def payout_holder_pdf(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant, console: Caller,
    holder: HolderQuery = "",
) -> Response:  # fmt: skip
    """One rights holder's one-page PDF, as `jukebox admin payouts show` writes it."""
    statement, _ = statement_of(ctx, tenant, period)
    _known_holder(statement, holder)
    name = _file_name("holder", holder, statement.period.name, ".pdf")
    return _download(holder_pdf(statement, holder), "application/pdf", name)


@router.get("/{period}/library.csv", response_class=Response)
def payout_library_csv(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant, console: Caller,
    library: LibraryQuery = "",
) -> Response:  # fmt: skip
    """What one library's amount paid for, by rights holder."""
    statement, _ = statement_of(ctx, tenant, period)
    if not any(total.library == library for total in statement.libraries):
        raise ConsoleError(404, f"period {statement.period.name}: no library {library!r}")
    name = _file_name("library", library, statement.period.name, ".csv")
    return _download(library_csv(statement, library), "text/csv; charset=utf-8", name)
