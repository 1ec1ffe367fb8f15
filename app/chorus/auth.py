"""PISTE OAuth2 client-credentials tokens, cached and refreshed before they expire."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from app.chorus.classify import parse_retry_after, read_json
from app.chorus.errors import ChorusTokenError
from app.request_context import current_request_id
from app.settings import ChorusSettings

# PISTE documents 3600 s (chorus-pro.md §1.2); assume it when the answer omits `expires_in`.
DEFAULT_EXPIRES_IN = 3600


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    token: str | None = None
    refresh_at: float = 0.0


def chorus_timeout(settings: ChorusSettings) -> httpx.Timeout:
    """The connect and read timeouts of every PISTE and Chorus request."""
    return httpx.Timeout(
        connect=settings.connect_timeout_seconds,
        read=settings.read_timeout_seconds,
        write=settings.read_timeout_seconds,
        pool=settings.connect_timeout_seconds,
    )


def _maybe_transient(error: ChorusTokenError) -> bool:
    """A credentials refusal PISTE is known to give by mistake now and then."""
    return error.status_code == 401 or (
        error.status_code == 400 and error.oauth_error == "invalid_client"
    )


class TokenCache:
    """Access tokens per (token URL, client id); one refresh at a time per key (single flight)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}

    def __repr__(self) -> str:
        return f"TokenCache(keys={len(self._entries)})"

    def _entry(self, settings: ChorusSettings) -> _Entry:
        key = (settings.resolved_token_url, settings.client_id)
        return self._entries.setdefault(key, _Entry())

    def _fresh(self, entry: _Entry) -> str | None:
        if entry.token is not None and self._clock() < entry.refresh_at:
            return entry.token
        return None

    async def get_token(self, http: httpx.AsyncClient, settings: ChorusSettings) -> str:
        """A valid access token, fetched only when none is cached or it is near expiry."""
        entry = self._entry(settings)
        token = self._fresh(entry)
        if token is not None:
            return token
        async with entry.lock:
            # Whoever held the lock before us may already have refreshed it.
            token = self._fresh(entry)
            if token is not None:
                return token
            token, expires_in = await self._fetch_retrying(http, settings)
            # A token living less than twice the margin is still used for half its life.
            margin = min(float(settings.token_refresh_margin_seconds), expires_in / 2)
            entry.token = token
            entry.refresh_at = self._clock() + expires_in - margin
            return token

    def invalidate(self, settings: ChorusSettings, token: str | None = None) -> None:
        """Forget the cached token (only if it is still `token`, when one is given)."""
        entry = self._entry(settings)
        if token is None or entry.token == token:
            entry.token = None
            entry.refresh_at = 0.0

    async def _fetch_retrying(
        self, http: httpx.AsyncClient, settings: ChorusSettings
    ) -> tuple[str, float]:
        # PISTE's token endpoint sometimes answers `invalid_client` (400) or 401 to valid
        # credentials: ask again, pausing longer each time, before believing it.
        for retry in range(settings.auth_retries + 1):
            try:
                return await self._fetch(http, settings)
            except ChorusTokenError as error:
                if retry == settings.auth_retries or not _maybe_transient(error):
                    raise
            await asyncio.sleep(settings.auth_retry_base_seconds * 2**retry)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch(self, http: httpx.AsyncClient, settings: ChorusSettings) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret.get_secret_value(),
            "scope": "openid",
        }
        try:
            response = await http.post(
                settings.resolved_token_url,
                data=form,
                headers={"Accept": "application/json", "X-Request-ID": current_request_id()},
                timeout=chorus_timeout(settings),
            )
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ChorusTokenError(f"PISTE token endpoint unreachable ({detail})") from exc

        body = read_json(response.content)
        payload = body if isinstance(body, dict) else {}
        access_token = payload.get("access_token")
        if response.status_code != 200 or not isinstance(access_token, str) or not access_token:
            oauth_error = payload.get("error")
            oauth_error = oauth_error if isinstance(oauth_error, str) else None
            reason = f", {oauth_error}" if oauth_error else ""
            raise ChorusTokenError(
                f"PISTE token endpoint failed (HTTP {response.status_code}{reason})",
                status_code=response.status_code,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                oauth_error=oauth_error,
            )
        expires_in = payload.get("expires_in", DEFAULT_EXPIRES_IN)
        try:
            seconds = float(expires_in)
        except (TypeError, ValueError):
            seconds = float(DEFAULT_EXPIRES_IN)
        return access_token, max(seconds, 0.0)
