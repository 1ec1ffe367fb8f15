"""A gateway whose worker runs in-process against the served emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.invoices import repository
from app.invoices.models import Invoice
from app.outbox.worker import Worker
from app.resources import Resources, open_resources
from app.settings import ApiSettings, OutboxSettings, Settings
from app.worker import build_worker
from tests.builders import SUPPLIER_SIRET, invoice_payload
from tests.conftest import emulator_chorus_settings
from tests.support.gateway import DEMO_ACCOUNTS, register_demo_suppliers

ACME_LOGIN, ACME_PASSWORD = DEMO_ACCOUNTS[SUPPLIER_SIRET]

# Fast clocks: retries and polls in milliseconds so tests run in seconds.
FAST_OUTBOX = OutboxSettings(
    poll_interval_seconds=0.01,
    retry_base_seconds=0.01,
    retry_cap_seconds=0.05,
    retry_max_attempts=6,
    paused_recheck_seconds=0.05,
    sync_first_delay_seconds=0.01,
    sync_max_delay_seconds=0.05,
    heartbeat_seconds=0.2,
)


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    return settings.model_copy(
        update={
            "api": ApiSettings(online_validation=False, max_body_bytes=64 * 1024),
            "chorus": emulator_chorus_settings(
                served_emulator,
                read_timeout_seconds=0.5,
                # Every flux the gateway writes is checked, so a broken document always shows.
                flux_schematron_share=1.0,
                flux_poll_first_seconds=0.01,
                flux_poll_max_seconds=0.05,
            ),
            "outbox": FAST_OUTBOX,
        }
    )


@pytest_asyncio.fixture
async def resources(
    settings: Settings, engine: AsyncEngine, emulator: httpx.AsyncClient
) -> AsyncIterator[Resources]:
    async with open_resources(settings) as opened:
        yield opened


@pytest.fixture
def worker(resources: Resources) -> Worker:
    return build_worker(resources, "test-worker")


@pytest.fixture
def gateway(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The shared in-process gateway client, on this package's settings (the served emulator)."""
    return http


@pytest_asyncio.fixture
async def acme(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The demo supplier's technical account, registered."""
    async with sessionmaker() as session, session.begin():
        await register_demo_suppliers(session, sirets=(SUPPLIER_SIRET,))


Post = Callable[..., Awaitable[str]]


@pytest.fixture
def post(gateway: httpx.AsyncClient, auth: dict[str, str]) -> Post:
    async def submit(**overrides: Any) -> str:
        response = await gateway.post(
            "/v1/invoices", json=invoice_payload(**overrides), headers=auth
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    return submit


async def drain(
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    invoice_id: str,
    until: Callable[[Invoice], bool],
    *,
    within_seconds: float = 10.0,
) -> Invoice:
    """Run the worker until the invoice satisfies `until`."""
    deadline = time.monotonic() + within_seconds
    while True:
        await worker.run_once()
        async with sessionmaker() as session:
            invoice = await repository.get(session, invoice_id)
        assert invoice is not None
        if until(invoice):
            return invoice
        if time.monotonic() > deadline:
            raise AssertionError(f"invoice stuck in {invoice.status} / {invoice.chorus_status}")
        await asyncio.sleep(0.01)
