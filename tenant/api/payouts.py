"""`/v1/admin/payouts/*`: rights holders, track shares, subscriptions, rules per period, and
the statements of periods, previewed, closed and shown (tenant/payouts, docs/payouts.md).

Who may call what is in tenant/roles.py (the network administrator edits and closes, the
reports role reads). Every change writes an audit row; a holder's payment details appear in
neither the audit nor the logs, only in the holder's own answer to staff allowed to read it.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from tenant.audit import record_change
from tenant.auth import STAFF, Context, CurrentTenant, StaffCaller
from tenant.errors import ApiError
from tenant.payouts import ledger
from tenant.payouts.model import PayoutInputError, PayoutRules, RightsHolder, Share, Subscription
from tenant.payouts.model import Track as PayoutTrack
from tenant.payouts.statement import Statement
from tenant.roles import Role
from tenant.store.payouts import ClosedPeriod, StoredShare
from tenant.timefmt import rfc3339

log = logging.getLogger(__name__)

Json = dict[str, Any]
ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

router = APIRouter(
    prefix="/t/{tenant}/v1/admin/payouts",
    tags=["payouts"],
    dependencies=[STAFF],
    responses={401: {}, 403: {}, 404: {}, 422: {}},
)

PeriodPath = Annotated[str, Path(max_length=16, description="a month, YYYY-MM")]
Filter = Annotated[str | None, Query(max_length=300)]


class HolderBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=300)
    contact: str = Field(default="", max_length=300)
    payment_details: str = Field(default="", max_length=2000)


class HolderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=300)
    contact: str | None = Field(default=None, max_length=300)
    payment_details: str | None = Field(default=None, max_length=2000)


class ShareItem(BaseModel):
    holder: str = Field(max_length=64)
    basis_points: int = Field(description="1/100 of a percent: 10000 = 100 %")


class SharesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shares: list[ShareItem] = Field(max_length=100, description="none: no known rights holder")
    source: str = Field(default="manual", pattern=r"^(manual|tag)$")
    only_if_none: bool = Field(default=False, description="keep the shares a track already has")


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: int = Field(description="in minor units (cents), never a float")
    currency: str = Field(max_length=3, description="ISO 4217, e.g. EUR")
    sites: list[str] | None = Field(
        default=None, max_length=1000, description="none: the library's sites of before"
    )


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counted_stream_ms: int = Field(default=30_000, ge=0, lt=2**40)
    counted_started_by: list[str] = Field(default=["visitor"], max_length=3)
    count_error_ended: bool = False
    split: str = "plays"


def _bad(exc: PayoutInputError) -> ApiError:
    return ApiError(422, "invalid_request", str(exc))


# ---------------------------------------------------------------------------- the signing key


@router.get("/signing-key")
def get_payout_signing_key(ctx: Context, tenant: CurrentTenant) -> Json:
    """The Ed25519 public key that verifies this tenant's closed statements."""
    return {"algorithm": "Ed25519", "key": ledger.public_statement_key(ctx.data_dir, tenant.slug)}


# ---------------------------------------------------------------------------- rights holders


def _holder_view(holder: RightsHolder) -> Json:
    return {"id": holder.id, "name": holder.name, "contact": holder.contact,
            "payment_details": holder.payment_details}  # fmt: skip


def _holder_audit(holder: RightsHolder) -> Json:
    """A holder as the audit keeps it: payment details only as set or not."""
    details = "(set)" if holder.payment_details else "(none)"
    return {"id": holder.id, "name": holder.name, "contact": holder.contact,
            "payment_details": details}  # fmt: skip


@router.get("/holders")
def list_payout_holders(ctx: Context, tenant: CurrentTenant, caller: StaffCaller) -> list[Json]:
    """Every rights holder; payment details only for the network administrator."""
    view = _holder_view if caller.role is Role.NETWORK_ADMIN else _holder_audit
    return [view(h) for h in ctx.store.payout_holders(tenant.slug)]


@router.post("/holders", status_code=201)
def add_payout_holder(
    body: HolderBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Add a rights holder (a label, producer or self-released artist)."""
    holder = RightsHolder(body.id, body.name, body.contact, body.payment_details)
    if not ctx.store.insert_payout_holder(tenant.slug, holder, ctx.settings.now_ms()):
        raise ApiError(409, "conflict", f"rights holder {body.id} already exists")
    record_change(ctx, tenant.slug, caller.username, "holder.add", "holder", holder.id,
                  after=_holder_audit(holder))  # fmt: skip
    return _holder_view(holder)


@router.patch("/holders/{holder_id}")
def edit_payout_holder(
    holder_id: Annotated[str, Path(max_length=64)], body: HolderPatch, ctx: Context,
    tenant: CurrentTenant, caller: StaffCaller,
) -> Json:  # fmt: skip
    """Change a holder's name, contact or payment details (those not given stay)."""
    before = ctx.store.payout_holder(tenant.slug, holder_id)
    if before is None:
        raise ApiError(404, "not_found", f"no rights holder {holder_id!r}")
    holder = RightsHolder(
        holder_id,
        before.name if body.name is None else body.name,
        before.contact if body.contact is None else body.contact,
        before.payment_details if body.payment_details is None else body.payment_details,
    )
    if ctx.store.update_payout_holder(tenant.slug, holder, ctx.settings.now_ms()) is None:
        raise ApiError(404, "not_found", f"no rights holder {holder_id!r}")
    record_change(ctx, tenant.slug, caller.username, "holder.edit", "holder", holder_id,
                  before=_holder_audit(before), after=_holder_audit(holder))  # fmt: skip
    return _holder_view(holder)


# ---------------------------------------------------------------------------- track shares


def _shares_view(shares: list[StoredShare]) -> list[Json]:
    return [{"track_id": s.track_id, "holder": s.holder_id, "basis_points": s.basis_points,
             "source": s.source} for s in shares]  # fmt: skip


@router.get("/shares")
def list_payout_shares(
    ctx: Context, tenant: CurrentTenant, track: Annotated[str | None, Query(max_length=200)] = None
) -> list[Json]:
    """Who holds the rights of each track (or of one track), in basis points."""
    return _shares_view(ctx.store.payout_shares(tenant.slug, track))


@router.put("/shares/{track_id}")
def set_payout_shares(
    track_id: Annotated[str, Path(max_length=200)], body: SharesBody, ctx: Context,
    tenant: CurrentTenant, caller: StaffCaller,
) -> Json:  # fmt: skip
    """Replace a track's rights holders; their shares add up to 100 % (10000 basis points)."""
    try:
        track = PayoutTrack(
            track_id, shares=tuple(Share(s.holder, s.basis_points) for s in body.shares)
        )
        before = ctx.store.set_payout_shares(
            tenant.slug, track, body.source, ctx.settings.now_ms(), only_if_none=body.only_if_none
        )
    except PayoutInputError as exc:
        raise _bad(exc) from None
    if before is None:
        return {"track_id": track_id, "changed": False,
                "shares": _shares_view(ctx.store.payout_shares(tenant.slug, track_id))}  # fmt: skip
    after = ctx.store.payout_shares(tenant.slug, track_id)
    record_change(ctx, tenant.slug, caller.username, "shares.set", "track", track_id,
                  before=_shares_view(before), after=_shares_view(after))  # fmt: skip
    return {"track_id": track_id, "changed": True, "shares": _shares_view(after)}


# ---------------------------------------------------------------------------- subscriptions


def _subscription_view(sub: Subscription) -> Json:
    return {"library": sub.library, "period": sub.period, "amount_minor": sub.amount_minor,
            "currency": sub.currency, "sites": sorted(sub.sites)}  # fmt: skip


@router.get("/subscriptions/{period}")
def list_payout_subscriptions(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant
) -> list[Json]:
    """What each library pays for the period, and its sites."""
    try:
        name = ledger.parse_period(period).name
    except PayoutInputError as exc:
        raise _bad(exc) from None
    return [_subscription_view(s) for s in ctx.store.payout_subscriptions(tenant.slug, name)]


@router.put("/subscriptions/{period}/{library}")
def set_payout_subscription(
    period: PeriodPath, library: Annotated[str, Path(pattern=ID)], body: SubscriptionBody,
    ctx: Context, tenant: CurrentTenant, caller: StaffCaller,
) -> Json:  # fmt: skip
    """Set what a library (a site or a group of sites) pays for a period that is not closed."""
    try:
        name = ledger.parse_period(period).name
        sites = body.sites
        if sites is None:
            known = ctx.store.library_sites(tenant.slug, library, name)
            if known is None:
                raise PayoutInputError(
                    f"subscription {library} ({name}): sites: name the library's sites"
                )
            sites = sorted(known)
        sub = Subscription(
            library, frozenset(s.strip() for s in sites if s.strip()), name, body.amount_minor,
            body.currency.strip().upper(),
        )  # fmt: skip
        before = ctx.store.set_payout_subscription(tenant.slug, sub, ctx.settings.now_ms())
    except PayoutInputError as exc:
        raise _bad(exc) from None
    record_change(
        ctx, tenant.slug, caller.username, "subscription.set", "subscription", f"{library}/{name}",
        before=None if before is None else _subscription_view(before),
        after=_subscription_view(sub),
    )  # fmt: skip
    return _subscription_view(sub)


# ---------------------------------------------------------------------------- rules


@router.get("/rules/{period}")
def get_payout_rules(period: PeriodPath, ctx: Context, tenant: CurrentTenant) -> Json:
    """The rules of a period (the defaults when none were set)."""
    try:
        name = ledger.parse_period(period).name
    except PayoutInputError as exc:
        raise _bad(exc) from None
    rules = ledger.period_rules(ctx.store, tenant.slug, name)
    return {"period": name, "set": ctx.store.payout_rules(tenant.slug, name) is not None,
            **rules.as_dict()}  # fmt: skip


@router.put("/rules/{period}")
def set_payout_rules(
    period: PeriodPath, body: RulesBody, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Set the rules of a period that is not closed (a closed period keeps its own)."""
    try:
        name = ledger.parse_period(period).name
        rules = PayoutRules(
            counted_stream_ms=body.counted_stream_ms,
            counted_started_by=frozenset(body.counted_started_by),
            count_error_ended=body.count_error_ended,
            split=body.split,  # type: ignore[arg-type]  # checked by PayoutRules
        )
        before = ctx.store.payout_rules(tenant.slug, name)
        ctx.store.set_payout_rules(tenant.slug, name, rules, ctx.settings.now_ms())
    except PayoutInputError as exc:
        raise _bad(exc) from None
    old = None if before is None else before.as_dict()
    record_change(ctx, tenant.slug, caller.username, "payout_rules.set", "payout_period", name,
                  before=old, after=rules.as_dict())  # fmt: skip
    return {"period": name, "set": True, **rules.as_dict()}


# ---------------------------------------------------------------------------- statements


def statement_view(content: dict[str, Any], library: str | None, holder: str | None) -> Json:
    """The statement's content with only the lines of `library` and `holder` (when given)."""
    if library is None and holder is None:
        return content
    columns = content["line_columns"]
    lib_at, holder_at = columns.index("library"), columns.index("holder_id")
    lines = [
        line for line in content["lines"]
        if (library is None or line[lib_at] == library)
        and (holder is None or line[holder_at] == holder)
    ]  # fmt: skip
    return {**content, "lines": lines}


def _closed_view(closed: ClosedPeriod, key: str, library: str | None, holder: str | None) -> Json:
    content = json.loads(closed.body)
    return {
        "period": closed.period.name,
        "closed": True,
        "closed_by": closed.closed_by,
        "closed_at": rfc3339(closed.closed_ms),
        "cutoff_ms": closed.cutoff_ms,
        "plays_sha256": closed.plays_sha256,
        "body": base64.b64encode(closed.body).decode("ascii"),
        "signature": base64.urlsafe_b64encode(closed.signature).decode().rstrip("="),
        "signing_key": key,
        "filtered": library is not None or holder is not None,
        "statement": statement_view(content, library, holder),
    }


def _preview_view(statement: Statement, library: str | None, holder: str | None) -> Json:
    given = statement.given
    return {
        "period": statement.period.name,
        "closed": False,
        "given": {"given": given.given, "duplicates": given.duplicates, "outside": given.outside},
        "filtered": library is not None or holder is not None,
        "statement": statement_view(statement.as_dict(), library, holder),
    }


@router.get("/periods")
def list_payout_periods(ctx: Context, tenant: CurrentTenant) -> list[Json]:
    """The closed periods, oldest first."""
    return [
        {"period": c.period.name, "closed_by": c.closed_by, "closed_at": rfc3339(c.closed_ms),
         "cutoff_ms": c.cutoff_ms, "plays_sha256": c.plays_sha256}
        for c in ctx.store.closed_payout_periods(tenant.slug)
    ]  # fmt: skip


@router.get("/periods/{period}/preview")
def preview_payout_period(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant, library: Filter = None,
    holder: Filter = None,
) -> Json:  # fmt: skip
    """What closing the period now would give (computed now, not signed, not kept)."""
    try:
        statement = ledger.preview(ctx.store, tenant.slug, period)
    except PayoutInputError as exc:
        raise _bad(exc) from None
    return _preview_view(statement, library, holder)


@router.post("/periods/{period}/close")
def close_payout_period(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant, caller: StaffCaller
) -> Json:
    """Compute, sign and keep the period's statement; it never changes afterwards, and plays
    that arrive later go to the next period as adjustments."""
    key = ledger.statement_key(ctx.data_dir, tenant.slug)
    try:
        closed, statement = ledger.close(
            ctx.store, key, tenant.slug, period, caller.username, ctx.settings.now_ms()
        )
    except PayoutInputError as exc:
        raise _bad(exc) from None
    counts = statement.plays
    record_change(
        ctx, tenant.slug, caller.username, "payouts.close", "payout_period", closed.period.name,
        after={"cutoff_ms": closed.cutoff_ms, "plays_sha256": closed.plays_sha256,
               "regular": counts.regular, "adjustments": counts.adjustments,
               "counted": counts.counted},
    )  # fmt: skip
    public = ledger.public_statement_key(ctx.data_dir, tenant.slug)
    return _closed_view(closed, public, None, None)


@router.get("/periods/{period}")
def show_payout_period(
    period: PeriodPath, ctx: Context, tenant: CurrentTenant, library: Filter = None,
    holder: Filter = None,
) -> Json:  # fmt: skip
    """A closed period's statement: its exact signed bytes, signature and content."""
    closed = ctx.store.closed_payout_period(tenant.slug, period)
    if closed is None:
        raise ApiError(404, "not_found", f"period {period} is not closed: preview it")
    public = ledger.public_statement_key(ctx.data_dir, tenant.slug)
    return _closed_view(closed, public, library, holder)
