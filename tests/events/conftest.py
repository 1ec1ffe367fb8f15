"""The app with the events router.

`operator` and `resources` are the shared ones (tests/conftest.py, tests/support/delivery.py).
"""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def events_http(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The shared in-process gateway client (main.py includes the events router)."""
    return http
