"""Serve an ASGI app over real HTTP on 127.0.0.1, in a background thread, for the length of a test.

httpx's ASGITransport calls the app in-process, so it cannot show what only sockets do: read
timeouts, connections dropped mid-response, refused connections. This serves the app with uvicorn
on a free port instead, and yields its base URL.

    with serve_app(create_emulator_app(config)) as base_url:
        ...
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for "connection refused" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(
    app: Any,
    *,
    host: str = "127.0.0.1",
    lifespan: Literal["auto", "on", "off"] = "auto",
    startup_timeout: float = 10.0,
    graceful_shutdown_seconds: int = 1,
    log_level: str = "warning",
) -> Iterator[str]:
    """Serve `app` until the block ends; yields `http://127.0.0.1:<port>`."""
    # Bind before starting so the port is ours: no race between choosing it and listening.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan=lifespan,
        loop="asyncio",
        http="h11",
        ws="none",
        log_level=log_level,
        access_log=False,
        # A request the test abandoned (a deliberate read timeout) must not hold up shutdown.
        timeout_graceful_shutdown=graceful_shutdown_seconds,
    )
    server = uvicorn.Server(config)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn ends a failed start-up with SystemExit
            failures.append(exc)

    thread = threading.Thread(target=run, name=f"asgi-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            cause = failures[0] if failures else None
            raise RuntimeError(f"the ASGI app failed to start on port {port}") from cause
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(graceful_shutdown_seconds + 5)
            sock.close()
            raise RuntimeError(f"the ASGI app did not start within {startup_timeout} s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(graceful_shutdown_seconds + 5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        sock.close()
    if failures:
        raise RuntimeError(f"the ASGI server on port {port} crashed") from failures[0]
