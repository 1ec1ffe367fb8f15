"""Fixtures: a fresh emulator per test, on a frozen clock, reached through ASGITransport (or,
`served`, over real HTTP)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from app.emulator.clock import Clock, frozen_clock
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings

from .builders import login

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def make_config(**overrides: Any) -> EmulatorSettings:
    """Settings independent of the developer's environment and `.env`."""
    values: dict[str, Any] = {"client_id": "gateway-dev", "client_secret": "gateway-dev-secret"}
    return EmulatorSettings(_env_file=None, **(values | overrides))


@pytest.fixture
def clock() -> Clock:
    """Time stands still unless a test advances it."""
    return frozen_clock(START)


@pytest.fixture
async def make_client(clock: Clock) -> AsyncIterator[MakeClient]:
    """Build an emulator with setting overrides and a client talking to it."""
    clients: list[httpx.AsyncClient] = []

    async def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_emulator_app(make_config(**overrides), clock=clock)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://emulator"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    """An emulator with default settings (auto lifecycle, refusals on HTTP 200)."""
    return await make_client()


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers calling as ACME FOURNITURES SAS."""
    return await login(client)


@pytest.fixture
async def served(clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator served by uvicorn on a free local port, where a client's timeouts apply."""
    app = create_emulator_app(make_config(), clock=clock)
    config = uvicorn.Config(app, lifespan="off", ws="none", log_level="critical")
    server = uvicorn.Server(config)
    # Listening before uvicorn starts lets the first request queue instead of racing start-up.
    sock = socket.create_server(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    port = sock.getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        yield client
    server.should_exit = True
    await task
    sock.close()
