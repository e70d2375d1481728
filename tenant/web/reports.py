"""Reports (plays and counted plays per track, artist, site, kiosk or day over a period, a
chart of plays per day, a CSV for a French spreadsheet) and the audit trail."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tenant.api import fleet as fleet_api
from tenant.auth import Context, CurrentTenant
from tenant.context import ServiceContext
from tenant.errors import ApiError
from tenant.roles import allowed
from tenant.store import GROUPINGS, Tenant
from tenant.timefmt import parse_rfc3339
from tenant.web.render import page
from tenant.web.session import Caller, Console, ConsoleError

router = APIRouter(
    prefix="/t/{tenant}/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    generate_unique_id_function=lambda route: f"console_{route.name}",
)
DAY_MS = 86_400_000
PAYOUTS_KEY = "GET /console/reports/payouts"  # the payout statements' link, for who may open it
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP: prefix with a quote)."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_for_spreadsheet(header: list[str], rows: list[list[object]]) -> bytes:
    """UTF-8 with a BOM and `;` between cells: what a French spreadsheet opens correctly."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _period(start: str, end: str, now_ms: int) -> tuple[str, str]:
    """The dates asked for, by default the last 30 days (the end day included)."""
    today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
    return (start or (today - timedelta(days=29)).isoformat(), end or today.isoformat())


def report(
    ctx: ServiceContext, tenant: Tenant, console: Console, by: str, start: str, end: str,
    *, per_day: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """`GET /admin/plays`'s answer, tracks' ISRC, artist and title beside it."""
    if by not in GROUPINGS:  # narrows `by` to GroupBy
        raise ConsoleError(422, f"by: expected one of {', '.join(GROUPINGS)}, not {by!r}")
    try:
        answer = fleet_api.play_counts(ctx, tenant, by, start, end)
    except ApiError as exc:
        raise ConsoleError(exc.status, exc.description) from exc
    groups: list[dict[str, Any]] = list(answer["groups"])  # type: ignore[call-overload]
    days: list[dict[str, Any]] = []  # the chart's plays per day: the groups when by day
    if per_day and by == "day":
        days = groups
    elif per_day:  # only counted per day, over the period the answer names (whole seconds)
        period = [parse_rfc3339(m) if isinstance(m, str) else None
                  for m in (answer["from"], answer["to"])]  # fmt: skip
        days = [
            {"key": day, "plays": n}
            for day, n in ctx.store.plays_per_day(tenant.slug, period[0], period[1])
        ]
    keys = [str(g["key"]) for g in groups] if by == "track" else []
    tracks = ctx.store.tracks_by_id(tenant.slug, keys)
    for group in groups:
        track = tracks.get(str(group["key"])) if by == "track" else None
        group["isrc"] = track.isrc if track else ""
        group["artist"] = track.artist if track else (group["label"] if by == "artist" else "")
        group["title"] = track.title if track else ""
        if by == "day":
            group["day_ms"] = _day_ms(str(group["key"]))
    return {
        "by": by,
        "groups": groups,
        "days": chart(days),
        "counted_s": answer["counted_stream_s"],
    }


def _day_ms(key: str) -> int:
    """A day group's key ("2026-07-01", UTC) as milliseconds."""
    return int(datetime.fromisoformat(key).replace(tzinfo=UTC).timestamp() * 1000)


def chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of plays per day for an inline SVG (heights in percent of the busiest day)."""
    bars = sorted(days, key=lambda d: str(d["key"]))
    top = max((int(d["plays"]) for d in bars), default=0)
    return {
        "top": top,
        "bars": [
            {"day": str(d["key"]), "plays": int(d["plays"]),
             "height": 0 if not top else 100 * int(d["plays"]) / top}
            for d in bars
        ],
    }  # fmt: skip


@router.get("/reports")
def reports_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller,
    by: str = "track", start: Annotated[str, Query(alias="from", max_length=40)] = "",
    end: Annotated[str, Query(alias="to", max_length=40)] = "",
) -> HTMLResponse:  # fmt: skip
    start, end = _period(start, end, ctx.settings.now_ms())
    data = report(ctx, tenant, console, by, start, end)
    totals = {k: sum(int(g[k]) for g in data["groups"]) for k in ("plays", "counted")}
    totals["listened_ms"] = sum(int(g["listened_ms"]) for g in data["groups"])
    return page(
        request, "reports.html", console, tenant.slug, start=start, end=end,
        groupings=GROUPINGS, totals=totals, payouts=allowed(PAYOUTS_KEY, console.staff.role),
        **data,
    )  # fmt: skip


@router.get("/reports.csv", response_class=Response)
def reports_csv(
    ctx: Context, tenant: CurrentTenant, console: Caller, by: str = "track",
    start: Annotated[str, Query(alias="from", max_length=40)] = "",
    end: Annotated[str, Query(alias="to", max_length=40)] = "",
) -> Response:  # fmt: skip
    """The report as CSV: ISRC, artist and title in their own columns for tracks."""
    start, end = _period(start, end, ctx.settings.now_ms())
    data = report(ctx, tenant, console, by, start, end, per_day=False)
    header = ["key", "isrc", "artist", "title", "label", "plays", "counted_plays", "listened_s"]
    rows: list[list[object]] = [
        [g["key"], g["isrc"], g["artist"], g["title"], g["label"], g["plays"], g["counted"],
         round(int(g["listened_ms"]) / 1000)]
        for g in data["groups"]
    ]  # fmt: skip
    name = f"plays-{tenant.slug}-{by}-{start}-{end}.csv".replace("/", "-")
    return Response(
        csv_for_spreadsheet(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/audit")
def audit_page(
    request: Request, ctx: Context, tenant: CurrentTenant, console: Caller,
    user: Annotated[str, Query(max_length=100)] = "",
    object: Annotated[str, Query(max_length=400)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:  # fmt: skip
    """The audit trail, newest first, filtered by user, object (TYPE[:ID]) and date."""
    since_ms = None
    if since:
        try:
            since_ms = int(datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError as exc:
            raise ConsoleError(
                422, f"since: expected a date like 2026-07-01, not {since!r}"
            ) from exc
    object_type, _, object_id = object.partition(":")
    entries = ctx.store.audit_entries(
        tenant.slug, since_ms=since_ms, actor=user or None, object_type=object_type or None,
        object_id=object_id or None, limit=500,
    )  # fmt: skip
    return page(
        request, "audit.html", console, tenant.slug, entries=list(reversed(entries)),
        user=user, object=object, since=since,
    )  # fmt: skip
