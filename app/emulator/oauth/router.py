"""PISTE's OAuth2 token endpoint (client credentials, form-encoded)."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.emulator.auth import client_is_known, issue_token
from app.emulator.dependencies import EmulatorDep

router = APIRouter(tags=["PISTE"])
NO_STORE = {"Cache-Control": "no-store"}


def _oauth_error(status_code: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status_code,
        headers=NO_STORE,
    )


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    # RFC 6749 lets clients (requests-oauthlib for one) send their credentials as HTTP Basic.
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


@router.post("/api/oauth/token")
async def token(request: Request, emulator: EmulatorDep) -> JSONResponse:
    """Issue a bearer token for the configured client id and secret."""
    form = await request.form()
    grant_type = form.get("grant_type")
    if grant_type is None:
        return _oauth_error(400, "invalid_request", "grant_type is missing")
    if grant_type != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "Only grant_type=client_credentials is supported"
        )
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    basic = _basic_credentials(request.headers.get("authorization"))
    if not (isinstance(client_id, str) and isinstance(client_secret, str)) and basic:
        client_id, client_secret = basic
    if not (
        isinstance(client_id, str)
        and isinstance(client_secret, str)
        and client_is_known(emulator, client_id, client_secret)
    ):
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    return JSONResponse(
        {
            "access_token": issue_token(emulator),
            "token_type": "Bearer",
            "expires_in": emulator.settings.token_expires_in,
            "scope": "openid",
        },
        headers=NO_STORE,
    )
