"""The PISTE token cache against a fake token endpoint (an httpx transport, nothing patched)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from app.chorus.auth import TokenCache
from app.chorus.errors import ChorusNotSent, ChorusTokenError

from .builders import chorus_settings

TOKEN_URL = "http://piste.test/api/oauth/token"
SECRET = "s3cret-never-shown"


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """A fake PISTE token endpoint that hands out numbered tokens."""

    def __init__(self, expires_in: int = 3600, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.forms: list[dict[str, list[str]]] = []
        self.urls: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.forms.append(parse_qs(request.content.decode()))
        self.urls.append(str(request.url))
        if self.delay:
            await asyncio.sleep(self.delay)
        body = {
            "access_token": f"token-{len(self.forms)}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": "openid",
        }
        return httpx.Response(200, json=body)


def http_with(handler: Callable[[httpx.Request], object]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def test_a_token_is_fetched_once_and_reused() -> None:
    endpoint = TokenEndpoint()
    cache = TokenCache()
    settings = chorus_settings(token_url=TOKEN_URL)
    async with http_with(endpoint) as http:
        first = await cache.get_token(http, settings)
        second = await cache.get_token(http, settings)
    assert first == second == "token-1"
    assert len(endpoint.forms) == 1


async def test_the_token_request_is_the_client_credentials_grant_with_openid_scope() -> None:
    endpoint = TokenEndpoint()
    settings = chorus_settings(token_url=TOKEN_URL, client_id="app-42", client_secret=SECRET)
    async with http_with(endpoint) as http:
        await TokenCache().get_token(http, settings)
    assert endpoint.urls == [TOKEN_URL]
    assert endpoint.forms[0] == {
        "grant_type": ["client_credentials"],
        "client_id": ["app-42"],
        "client_secret": [SECRET],
        "scope": ["openid"],
    }


async def test_a_token_is_refreshed_the_margin_before_it_expires() -> None:
    endpoint = TokenEndpoint(expires_in=3600)
    clock = FakeClock()
    cache = TokenCache(clock=clock)
    settings = chorus_settings(token_url=TOKEN_URL, token_refresh_margin_seconds=120)
    async with http_with(endpoint) as http:
        assert await cache.get_token(http, settings) == "token-1"
        clock.now += 3600 - 120 - 1
        assert await cache.get_token(http, settings) == "token-1"
        clock.now += 1
        assert await cache.get_token(http, settings) == "token-2"
    assert len(endpoint.forms) == 2


async def test_a_token_shorter_than_the_margin_is_still_reused_for_half_its_life() -> None:
    endpoint = TokenEndpoint(expires_in=60)
    clock = FakeClock()
    cache = TokenCache(clock=clock)
    settings = chorus_settings(token_url=TOKEN_URL, token_refresh_margin_seconds=120)
    async with http_with(endpoint) as http:
        await cache.get_token(http, settings)
        clock.now += 29
        assert await cache.get_token(http, settings) == "token-1"
        clock.now += 1
        assert await cache.get_token(http, settings) == "token-2"


async def test_concurrent_callers_share_a_single_refresh() -> None:
    endpoint = TokenEndpoint(delay=0.05)
    cache = TokenCache()
    settings = chorus_settings(token_url=TOKEN_URL)
    async with http_with(endpoint) as http:
        tokens = await asyncio.gather(*(cache.get_token(http, settings) for _ in range(20)))
    assert set(tokens) == {"token-1"}
    assert len(endpoint.forms) == 1


async def test_invalidate_forces_a_new_token() -> None:
    endpoint = TokenEndpoint()
    cache = TokenCache()
    settings = chorus_settings(token_url=TOKEN_URL)
    async with http_with(endpoint) as http:
        await cache.get_token(http, settings)
        cache.invalidate(settings)
        assert await cache.get_token(http, settings) == "token-2"


async def test_invalidating_a_stale_token_keeps_the_newer_one() -> None:
    endpoint = TokenEndpoint()
    cache = TokenCache()
    settings = chorus_settings(token_url=TOKEN_URL)
    async with http_with(endpoint) as http:
        stale = await cache.get_token(http, settings)
        cache.invalidate(settings, stale)
        fresh = await cache.get_token(http, settings)
        # A second caller that also saw the old token fail must not throw the new one away.
        cache.invalidate(settings, stale)
        assert await cache.get_token(http, settings) == fresh == "token-2"


async def test_tokens_are_cached_per_token_url_and_client_id() -> None:
    endpoint = TokenEndpoint()
    cache = TokenCache()
    one = chorus_settings(token_url=TOKEN_URL, client_id="app-1")
    other_client = chorus_settings(token_url=TOKEN_URL, client_id="app-2")
    other_url = chorus_settings(token_url="http://piste-2.test/api/oauth/token", client_id="app-1")
    async with http_with(endpoint) as http:
        tokens = [await cache.get_token(http, s) for s in (one, other_client, other_url, one)]
    assert tokens == ["token-1", "token-2", "token-3", "token-1"]


async def test_a_token_endpoint_error_is_not_sent_and_names_the_oauth_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid_client", "error_description": "bad secret"}
        return httpx.Response(401, json=body)

    settings = chorus_settings(token_url=TOKEN_URL, client_secret=SECRET)
    async with http_with(refuse) as http:
        with pytest.raises(ChorusTokenError) as caught:
            await TokenCache().get_token(http, settings)
    error = caught.value
    assert isinstance(error, ChorusNotSent)
    assert (error.status_code, error.oauth_error) == (401, "invalid_client")
    assert SECRET not in str(error)
    assert SECRET not in repr(error)


@pytest.mark.parametrize(
    ("response", "status", "retry_after"),
    [
        (httpx.Response(503, headers={"Retry-After": "4"}), 503, 4.0),
        (httpx.Response(429, headers={"Retry-After": "9"}), 429, 9.0),
        (httpx.Response(500, text="boom"), 500, None),
        (httpx.Response(200, text="<html>maintenance</html>"), 200, None),
        (httpx.Response(200, json={"token_type": "Bearer"}), 200, None),
    ],
    ids=["503", "429", "500", "html", "no access_token"],
)
async def test_a_failing_token_endpoint_is_not_sent(
    response: httpx.Response, status: int, retry_after: float | None
) -> None:
    settings = chorus_settings(token_url=TOKEN_URL)
    async with http_with(lambda request: response) as http:
        with pytest.raises(ChorusTokenError) as caught:
            await TokenCache().get_token(http, settings)
    assert caught.value.status_code == status
    assert caught.value.retry_after == retry_after


async def test_an_unreachable_token_endpoint_is_not_sent() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    settings = chorus_settings(token_url=TOKEN_URL, client_secret=SECRET)
    async with http_with(unreachable) as http:
        with pytest.raises(ChorusTokenError) as caught:
            await TokenCache().get_token(http, settings)
    assert "Connection refused" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


async def test_a_missing_expires_in_is_taken_as_an_hour() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def no_expiry(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=json.dumps({"access_token": f"t{len(calls)}"}))

    cache = TokenCache(clock=clock)
    settings = chorus_settings(token_url=TOKEN_URL, token_refresh_margin_seconds=0)
    async with http_with(no_expiry) as http:
        await cache.get_token(http, settings)
        clock.now += 3599
        assert await cache.get_token(http, settings) == "t1"
        clock.now += 1
        assert await cache.get_token(http, settings) == "t2"
