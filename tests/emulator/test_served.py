"""The delay faults against a real uvicorn server, where a client's read timeout applies."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from app.emulator.clock import Clock
from app.emulator.main import create_emulator_app

from .builders import login, saisie_invoice
from .conftest import make_config

SOUMETTRE = "/cpro/factures/v1/soumettre"


@pytest.fixture
async def served(clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator served by uvicorn on a free local port."""
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


async def test_commit_then_drop_cuts_the_connection(served: httpx.AsyncClient) -> None:
    headers = await login(served)
    await served.put(
        "/_emulator/faults", json={"rules": [{"kind": "commit_then_drop", "next_n": 1}]}
    )

    with pytest.raises(httpx.RemoteProtocolError):
        await served.post(SOUMETTRE, json=saisie_invoice(), headers=headers)

    assert (await served.get("/_emulator/invoices")).json()["total"] == 1


async def test_read_timeout_outlasts_the_clients_read_timeout(served: httpx.AsyncClient) -> None:
    headers = await login(served)
    rule = {"endpoint": "factures/v1/soumettre", "kind": "read_timeout", "delay_ms": 2000}
    await served.put("/_emulator/faults", json={"rules": [rule]})

    with pytest.raises(httpx.ReadTimeout):
        await served.post(SOUMETTRE, json=saisie_invoice(), headers=headers, timeout=0.2)

    assert (await served.get("/_emulator/invoices")).json()["total"] == 0
