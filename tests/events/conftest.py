"""An app with the events router, an operator key, and the resources a worker would hold."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.scopes import Scope
from app.resources import Resources, open_resources
from app.settings import Settings
from tests.conftest import KeyFactory


@pytest.fixture
def events_http(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The shared in-process gateway client (main.py includes the events router)."""
    return http


@pytest_asyncio.fixture
async def operator(make_key: KeyFactory) -> dict[str, str]:
    """Headers of an operator."""
    return await make_key(scopes=(Scope.OPERATOR,), suppliers=())


@pytest_asyncio.fixture
async def resources(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Resources]:
    """What the worker hands to handlers (tables are emptied by `engine` afterwards)."""
    async with open_resources(settings) as opened:
        yield opened
