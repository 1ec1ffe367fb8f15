"""The served-app helper: real sockets up while the block runs, nothing left listening after."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, serve_app


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers `pong`, or waits half a second on `/slow` (a read timeout for a short client)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.5)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pong"})


async def failing_startup(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app whose start-up fails."""
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


def port_is_open(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


async def test_an_app_is_served_on_a_free_local_port_and_stopped_after() -> None:
    with serve_app(tiny_app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/ping")).text == "pong"
    assert not port_is_open(base_url)


async def test_a_served_app_shows_real_read_timeouts_and_still_shuts_down() -> None:
    with serve_app(tiny_app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=0.1) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/slow")
    assert not port_is_open(base_url)


def test_two_apps_get_two_ports() -> None:
    with serve_app(tiny_app) as first, serve_app(tiny_app) as second:
        assert first != second


def test_a_failing_startup_is_reported() -> None:
    with (
        pytest.raises(RuntimeError, match="failed to start"),
        serve_app(failing_startup, lifespan="on"),
    ):
        pass


def test_a_free_port_refuses_connections() -> None:
    assert not port_is_open(f"http://127.0.0.1:{free_port()}")
