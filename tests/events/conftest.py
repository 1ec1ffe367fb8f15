"""An app with the events router, an operator key, and the resources a worker would hold."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.scopes import Scope
from app.events.router import router as events_router
from app.main import create_app
from app.resources import Resources, open_resources
from app.settings import Settings
from tests.conftest import KeyFactory


@pytest_asyncio.fixture
async def events_http(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with the events router, in-process (lifespan run)."""
    app = create_app(settings)
    # Once main.py includes the router itself, its routes must not be added twice.
    if not any(isinstance(r, APIRoute) and r.path == "/v1/events" for r in app.routes):
        app.include_router(events_router)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        yield client


@pytest_asyncio.fixture
async def operator(make_key: KeyFactory) -> dict[str, str]:
    """Headers of an operator."""
    return await make_key(scopes=(Scope.OPERATOR,), suppliers=())


@pytest_asyncio.fixture
async def resources(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Resources]:
    """What the worker hands to handlers (tables are emptied by `engine` afterwards)."""
    async with open_resources(settings) as opened:
        yield opened
