"""Signing in to the console as an HTTP client would: the sign-in form, then the session cookie."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest

from app.auth.scopes import Scope
from tests.conftest import KeyFactory

_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

SignIn = Callable[..., Awaitable[str]]


def key_of(headers: dict[str, str]) -> str:
    """The API key in an Authorization header made by `make_key`."""
    return headers["Authorization"].removeprefix("Bearer ")


def csrf_of(html: str) -> str:
    """The session's CSRF token, as every form of the page carries it."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def sign_in_with(http: httpx.AsyncClient, key: str) -> httpx.Response:
    """Fill and send the sign-in form; the answer (a redirect when the key is good)."""
    form = await http.get("/console/connexion")
    match = _LOGIN_TOKEN.search(form.text)
    assert match
    return await http.post(
        "/console/connexion",
        data={"api_key": key, "login_token": match.group(1), "next": "/console"},
    )


@pytest.fixture
def sign_in(http: httpx.AsyncClient, make_key: KeyFactory) -> SignIn:
    """Sign in with a new key (an operator's unless told); returns the session's CSRF token."""

    async def make(*, operator: bool = True, suppliers: tuple[str, ...] = ()) -> str:
        scopes = (Scope.OPERATOR,) if operator else (Scope.INVOICES_READ,)
        headers = await make_key(scopes=scopes, suppliers=suppliers)
        answer = await sign_in_with(http, key_of(headers))
        assert answer.status_code == 303, answer.text
        page = await http.get("/console")
        assert page.status_code == 200
        return csrf_of(page.text)

    return make
