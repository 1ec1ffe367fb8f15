"""Fixtures: the emulator served over real HTTP (timeouts, drops) and in-process (the rest)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.chorus.client import ChorusClient
from app.emulator.main import create_emulator_app
from app.emulator.settings import EmulatorSettings
from app.settings import ChorusSettings
from tests.support.servers import serve_app

from .builders import CLIENT_ID, CLIENT_SECRET, chorus_settings

# Small, so the deliberate read timeouts keep the suite fast.
READ_TIMEOUT = 0.3
ASGI_URL = "http://emulator.test"


def emulator_config(**overrides: Any) -> EmulatorSettings:
    """An emulator configuration that ignores the environment: manual lifecycle, dev client.

    SAISIE_API invoices keep the sender's number here, as Chorus keeps it for DEPOT_PDF_API and
    flux deposits: these tests are about the client's duplicate and search handling, which only
    a kept number exercises (Chorus's own numbering is tests/emulator/test_numbering.py's).
    """
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "lifecycle_mode": "manual",
        "saisie_numbering": "sender",
        **overrides,
    }
    return EmulatorSettings(_env_file=None, **values)


class HeaderRecorder:
    """ASGI middleware keeping the headers of every request the emulator received."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.received: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.received.append({"path": scope["path"], **headers})
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def recorder() -> HeaderRecorder:
    """The served emulator, wrapped so tests can see what went over the wire."""
    return HeaderRecorder(create_emulator_app(emulator_config()))


@pytest.fixture(scope="session")
def emulator_url(recorder: HeaderRecorder) -> Iterator[str]:
    """Base URL of one emulator served by uvicorn for the whole session."""
    with serve_app(recorder) as base_url:
        yield base_url


@pytest.fixture
async def control(emulator_url: str, recorder: HeaderRecorder) -> AsyncIterator[httpx.AsyncClient]:
    """The served emulator's control API, reset before each test."""
    async with httpx.AsyncClient(base_url=emulator_url, timeout=10) as http:
        (await http.post("/_emulator/reset")).raise_for_status()
        recorder.received.clear()
        yield http
        await http.delete("/_emulator/faults")


def served_settings(emulator_url: str, **overrides: Any) -> ChorusSettings:
    """Client settings for the served emulator with a short read timeout."""
    values: dict[str, Any] = {
        "read_timeout_seconds": READ_TIMEOUT,
        "connect_timeout_seconds": 1.0,
        "rate_per_second": 1000.0,
        "rate_burst": 1000,
        **overrides,
    }
    return chorus_settings(api_url=emulator_url, **values)


@pytest.fixture
async def client(emulator_url: str, control: httpx.AsyncClient) -> AsyncIterator[ChorusClient]:
    """A client talking to the served emulator over real HTTP."""
    async with ChorusClient(served_settings(emulator_url)) as chorus:
        yield chorus


async def put_faults(control: httpx.AsyncClient, *rules: dict[str, Any]) -> None:
    """Replace the emulator's fault rules through its control API."""
    response = await control.put("/_emulator/faults", json={"rules": list(rules)})
    response.raise_for_status()


class InProcessEmulator:
    """An emulator reached through httpx's ASGITransport: no sockets, its own state."""

    def __init__(self, **config: Any) -> None:
        self.app = create_emulator_app(emulator_config(**config))
        self.transport = httpx.ASGITransport(app=self.app)
        self._http: list[httpx.AsyncClient] = []
        self.control = self._new_http()

    def _new_http(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=self.transport, base_url=ASGI_URL)
        self._http.append(http)
        return http

    def client(self, **settings: Any) -> ChorusClient:
        """A Chorus client bound to this emulator (`clock`, `duplicate_codes`... pass through)."""
        options = {k: settings.pop(k) for k in list(settings) if k in CLIENT_OPTIONS}
        values: dict[str, Any] = {"rate_per_second": 1000.0, "rate_burst": 1000, **settings}
        settings_ = chorus_settings(api_url=ASGI_URL, **values)
        return ChorusClient(settings_, self._new_http(), **options)

    async def stats(self) -> dict[str, dict[str, int]]:
        """The emulator's call and fault counters."""
        response = await self.control.get("/_emulator/stats")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def invoices(self) -> dict[str, Any]:
        """The emulator's ground truth."""
        response = await self.control.get("/_emulator/invoices")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the fault rules."""
        await put_faults(self.control, *rules)

    async def aclose(self) -> None:
        """Close every HTTP client handed out."""
        for http in self._http:
            await http.aclose()


CLIENT_OPTIONS = frozenset({"clock", "duplicate_codes", "tokens", "throttle", "page_size"})


@pytest.fixture
async def in_process() -> AsyncIterator[InProcessEmulator]:
    """A fresh in-process emulator refusing on HTTP 200 (the default)."""
    emulator = InProcessEmulator()
    yield emulator
    await emulator.aclose()


@pytest.fixture
async def in_process_400() -> AsyncIterator[InProcessEmulator]:
    """A fresh in-process emulator refusing on HTTP 400 with the JSON envelope."""
    emulator = InProcessEmulator(refusal_http_status=400)
    yield emulator
    await emulator.aclose()
