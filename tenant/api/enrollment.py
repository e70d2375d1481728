"""`POST /v1/enroll` and `POST /v1/token`: how a kiosk gets a claim code, then its tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tenant import enrollment
from tenant.api.models import EnrollAnswer, EnrollRequest, ErrorBody, TokenAnswer, TokenRequest
from tenant.assertions import normalise_url
from tenant.auth import Context, CurrentTenant
from tenant.claim_wait import prefer_wait_s

router = APIRouter(
    prefix="/t/{tenant}/v1", tags=["enrollment"], responses={422: {"model": ErrorBody}}
)


@router.post(
    "/enroll",
    status_code=201,
    response_model=EnrollAnswer,
    response_model_exclude_none=True,
    responses={
        200: {"model": EnrollAnswer, "description": "already claimed: go to /v1/token"},
        201: {"description": "a new claim code, to show on the screen"},
        400: {"model": ErrorBody},
        404: {"model": ErrorBody},
    },
)
def enroll(body: EnrollRequest, ctx: Context, tenant: CurrentTenant) -> JSONResponse:
    """Register the device's public key; answers a claim code unless already claimed."""
    result = enrollment.enroll(
        ctx, tenant, body.public_key, body.firmware_version, body.enrollment_token
    )
    return JSONResponse(result.body, status_code=201 if result.created else 200)


@router.post(
    "/token",
    response_model=TokenAnswer,
    responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
)
def token(
    body: TokenRequest, request: Request, ctx: Context, tenant: CurrentTenant
) -> JSONResponse:
    """Exchange a signed device assertion for an access token and the MQTT credentials.

    A sync route on purpose: a pending device's poll is held open until its claim (long
    polling, tenant/claim_wait.py) on a worker thread of FastAPI's pool, not the event loop."""
    here = str(request.url.replace(query=None, fragment=None))
    audiences = {normalise_url(here)}
    audiences |= {
        normalise_url(f"{url.rstrip('/')}/t/{tenant.slug}/v1/token")
        for url in ctx.settings.public_urls
    }
    wait_s = prefer_wait_s(request.headers.get("prefer"))  # how long the kiosk waits, if said
    answer = enrollment.token(ctx, tenant, body.assertion, audiences, wait_s)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
