"""What the invoice tests share beyond tests/conftest.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Refused = Callable[[str, dict[str, Any]], Awaitable[httpx.Response]]


@pytest.fixture
def refused(http: httpx.AsyncClient, auth: dict[str, str]) -> Refused:
    """Post `payload` to `endpoint` as the demo ERP; the gateway must refuse it (422)."""

    async def post(endpoint: str, payload: dict[str, Any]) -> httpx.Response:
        response = await http.post(endpoint, json=payload, headers=auth)
        assert response.status_code == 422, response.text
        return response

    return post
