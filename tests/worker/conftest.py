"""A gateway whose worker runs in-process against the served emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.crypto import PasswordBox
from app.domain.invoice import Address
from app.invoices import repository
from app.invoices.models import Invoice
from app.main import create_app
from app.outbox.worker import Worker
from app.resources import Resources, open_resources
from app.settings import ApiSettings, OutboxSettings, Settings
from app.structures.service import add_structure
from app.worker import build_worker
from tests.builders import SUPPLIER_SIRET, invoice_payload
from tests.conftest import TEST_SECRETS_KEY, emulator_chorus_settings

ACME_LOGIN = "TECH_1_41234567010000@cpro.fr"
ACME_PASSWORD = "emulator-demo-1"
ACME_VAT_NUMBER = "FR96412345670"
ACME_ADDRESS = Address("12 rue des Fournisseurs", None, "69002", "Lyon", "FR")

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


@pytest_asyncio.fixture
async def gateway(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client,
    ):
        yield client


@pytest_asyncio.fixture
async def acme(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The demo supplier's technical account, registered."""
    async with sessionmaker() as session, session.begin():
        await add_structure(
            session,
            PasswordBox([TEST_SECRETS_KEY.get_secret_value()]),
            siret=SUPPLIER_SIRET,
            login=ACME_LOGIN,
            password=SecretStr(ACME_PASSWORD),
            address=ACME_ADDRESS,
            vat_number=ACME_VAT_NUMBER,
        )


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
