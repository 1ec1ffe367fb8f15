"""Raw calls to PISTE and Chorus for qualification: every status and body as it came.

The gateway's client turns answers into outcomes, which hides exactly what qualification wants
to see (the HTTP status of a refusal, the body of a denial, `expires_in`). This sends the same
requests (same token form, headers and JSON encoding) and keeps the answers whole. Nothing here
logs; a token, a secret or a password never leaves this module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel

from app.chorus.accounts import TechnicalAccount
from app.chorus.auth import chorus_timeout
from app.chorus.client import cpro_headers
from app.chorus.schemas import to_json_bytes
from app.qualify.observations import Exchange
from app.request_context import current_request_id
from app.settings import ChorusSettings

_BODY_EXCERPT = 200


class QualifyError(Exception):
    """The run cannot go on: no token, or the supplier's structure cannot be used."""


@dataclass(frozen=True, slots=True)
class Token:
    """A PISTE token answer (the token itself is never shown)."""

    access_token: str
    expires_in: float | None
    scope: str | None
    token_type: str | None

    def __repr__(self) -> str:
        return f"Token(expires_in={self.expires_in!r}, scope={self.scope!r})"


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: its status, the JSON object it held (if any) and a text excerpt."""

    status: int
    payload: dict[str, Any] | None
    text: str

    @property
    def code(self) -> int | None:
        """`codeRetour` as an int, when the body is an envelope."""
        raw = (self.payload or {}).get("codeRetour")
        if isinstance(raw, bool):
            return None
        try:
            return int(raw) if raw is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def succeeded(self) -> bool:
        """A 2xx whose envelope says `codeRetour` 0 (or has none)."""
        return 200 <= self.status < 300 and self.payload is not None and self.code in (None, 0)

    def exchange(self) -> Exchange:
        """The answer as the report shows it."""
        label = (self.payload or {}).get("libelle")
        return Exchange(
            status=self.status,
            code=self.code,
            label=str(label) if label is not None else None,
            body="" if self.payload is not None else self.text[:_BODY_EXCERPT],
        )


def _read(response: httpx.Response) -> Answer:
    text = response.content.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return Answer(response.status_code, parsed if isinstance(parsed, dict) else None, text.strip())


class Probe:
    """PISTE and Chorus as the gateway reaches them, one token for the whole run."""

    def __init__(self, settings: ChorusSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self._http = http
        self._api_url = settings.resolved_api_url.rstrip("/")
        self._token: Token | None = None
        self._timeout = chorus_timeout(settings)

    def __repr__(self) -> str:
        return f"Probe(api_url={self._api_url!r})"

    async def token(self) -> Token:
        """A fresh PISTE token (client credentials, scope openid), or QualifyError."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.get_secret_value(),
            "scope": "openid",
        }
        try:
            response = await self._http.post(
                self.settings.resolved_token_url,
                data=form,
                headers={"Accept": "application/json", "X-Request-ID": current_request_id()},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise QualifyError(f"PISTE token endpoint unreachable ({type(exc).__name__})") from None
        answer = _read(response)
        payload = answer.payload or {}
        access_token = payload.get("access_token")
        if response.status_code != 200 or not isinstance(access_token, str) or not access_token:
            error = payload.get("error")
            reason = f", {error}" if isinstance(error, str) else ""
            raise QualifyError(
                f"PISTE refused the token (HTTP {response.status_code}{reason}): "
                "check CHORUS_CLIENT_ID and CHORUS_CLIENT_SECRET for this target"
            )
        expires_in = payload.get("expires_in")
        try:
            seconds = float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            seconds = None
        scope, token_type = payload.get("scope"), payload.get("token_type")
        self._token = Token(
            access_token,
            seconds,
            scope if isinstance(scope, str) else None,
            token_type if isinstance(token_type, str) else None,
        )
        return self._token

    async def call(
        self,
        endpoint: str,
        body: BaseModel | Mapping[str, Any] | None,
        *,
        account: TechnicalAccount | None = None,
        cpro_account: str | None = None,
        method: str = "POST",
    ) -> Answer:
        """One call to `/cpro/<endpoint>`; a 401 is asked again with a fresh token, as the
        gateway does (PISTE gives transient 401s). Transport errors propagate (httpx)."""
        content = to_json_bytes(body) if body is not None else None
        answer = await self._send(method, endpoint, content, account, cpro_account)
        for retry in range(self.settings.auth_retries):
            if answer.status != 401:
                break
            if retry > 0:
                await asyncio.sleep(self.settings.auth_retry_base_seconds * 2 ** (retry - 1))
            await self.token()
            answer = await self._send(method, endpoint, content, account, cpro_account)
        return answer

    async def _send(
        self,
        method: str,
        endpoint: str,
        content: bytes | None,
        account: TechnicalAccount | None,
        cpro_account: str | None,
    ) -> Answer:
        token = self._token or await self.token()
        header = cpro_account or (account.cpro_account if account is not None else None)
        headers = cpro_headers(token.access_token, current_request_id(), content, header)
        url = f"{self._api_url}/cpro/{endpoint}"
        response = await self._http.request(
            method, url, content=content, headers=headers, timeout=self._timeout
        )
        return _read(response)
