"""A gateway whose worker runs in-process against the served emulator (a pytest plugin).

tests/conftest.py registers it, so its fixtures are there for any test; a test that uses them
overrides `settings` with `delivery_settings` (a plugin cannot override a conftest fixture), so
that the gateway and its worker aim at the served emulator on fast clocks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.invoices import repository
from app.invoices.models import DepositedDocument, Invoice
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


def delivery_settings(settings: Settings, emulator_url: str) -> Settings:
    """`settings` with Chorus at the emulator served at `emulator_url` and the fast clocks."""
    return settings.model_copy(
        update={
            "api": ApiSettings(online_validation=False, max_body_bytes=64 * 1024),
            "chorus": emulator_chorus_settings(
                emulator_url,
                read_timeout_seconds=0.5,
                # Every flux the gateway writes is checked, so a broken document always shows.
                flux_schematron_share=1.0,
                flux_poll_first_seconds=0.01,
                flux_poll_max_seconds=0.05,
            ),
            "outbox": FAST_OUTBOX,
        }
    )


def with_chorus(settings: Settings, **chorus: object) -> Settings:
    """`settings` with these Chorus settings changed."""
    return settings.model_copy(update={"chorus": settings.chorus.model_copy(update=chorus)})


@pytest_asyncio.fixture
async def resources(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Resources]:
    """What the worker hands to handlers (tables are emptied by `engine` afterwards)."""
    async with open_resources(settings) as opened:
        yield opened


@pytest.fixture
def worker(resources: Resources, emulator: httpx.AsyncClient) -> Worker:
    """A worker on `resources`; the emulator it delivers to is reset after the test."""
    return build_worker(resources, "test-worker")


@pytest.fixture
def gateway(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The shared in-process gateway client, on the test's settings (the served emulator)."""
    return http


@pytest_asyncio.fixture
async def acme(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The demo supplier's technical account, registered."""
    async with sessionmaker() as session, session.begin():
        await register_demo_suppliers(session, sirets=(SUPPLIER_SIRET,))


Post = Callable[..., Awaitable[str]]


@pytest.fixture
def post(gateway: httpx.AsyncClient, auth: dict[str, str]) -> Post:
    """Submit `invoice_payload(**overrides)`; returns the new invoice's id."""

    async def submit(**overrides: Any) -> str:
        response = await gateway.post(
            "/v1/invoices", json=invoice_payload(**overrides), headers=auth
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    return submit


Deliver = Callable[..., Awaitable[Invoice]]


@pytest.fixture
def deliver(post: Post, worker: Worker, sessionmaker: async_sessionmaker[AsyncSession]) -> Deliver:
    """Submit `invoice_payload(**overrides)`, then run the worker until the invoice satisfies
    `until`; returns the invoice then."""

    async def post_and_drain(until: Callable[[Invoice], bool], **overrides: Any) -> Invoice:
        return await drain(worker, sessionmaker, await post(**overrides), until)

    return post_and_drain


@pytest.fixture
def deliver_flux(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> Deliver:
    """`deliver`, moving the emulator's clock on, for an invoice that may go as a flux."""

    async def post_and_drain(until: Callable[[Invoice], bool], **overrides: Any) -> Invoice:
        return await drain_flux(worker, sessionmaker, emulator, await post(**overrides), until)

    return post_and_drain


def pdf_only_invoice() -> dict[str, Any]:
    """The demo invoice without lines: the PDF sent with it is the invoice."""
    payload = invoice_payload()
    payload.pop("lines")
    return payload


def attachment_parts(attachments: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart parts carrying these supporting documents, by file name."""
    return [
        ("attachment", (name, content, "application/octet-stream"))
        for name, content in attachments.items()
    ]


async def post_multipart(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    payload: dict[str, Any],
    *,
    pdf: bytes | None = None,
    attachments: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """Submit `payload` with this PDF and these supporting documents; returns the invoice."""
    files = attachment_parts(attachments or {})
    if pdf is not None:
        files.insert(0, ("file", ("facture.pdf", pdf, "application/pdf")))
    response = await gateway.post(
        "/v1/invoices", data={"invoice": json.dumps(payload)}, files=files, headers=auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def submitted(invoice: Invoice) -> bool:
    return invoice.status == "submitted"


def settled(invoice: Invoice) -> bool:
    """Out of the queue, whichever way."""
    return invoice.status != "queued"


async def drain(
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    invoice_id: str,
    until: Callable[[Invoice], bool],
    *,
    clock: httpx.AsyncClient | None = None,
    within_seconds: float = 10.0,
) -> Invoice:
    """Run the worker until the invoice satisfies `until`.

    With `clock` (the emulator's control API), the emulator's clock moves on a second between
    runs: it integrates a flux a few seconds of its own clock after the deposit.
    """
    deadline = time.monotonic() + within_seconds
    while True:
        await worker.run_once()
        async with sessionmaker() as session:
            invoice = await repository.get(session, invoice_id)
        assert invoice is not None
        if until(invoice):
            return invoice
        if time.monotonic() > deadline:
            raise AssertionError(
                f"invoice stuck in {invoice.status} / {invoice.chorus_status}: "
                f"{invoice.history[-1].detail}"
            )
        if clock is not None:
            await clock.post("/_emulator/clock/advance", json={"seconds": 1})
        await asyncio.sleep(0.01)


async def drain_flux(
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    invoice_id: str,
    until: Callable[[Invoice], bool],
) -> Invoice:
    """`drain`, moving the emulator's clock on, for an invoice that may go as a flux."""
    return await drain(worker, sessionmaker, invoice_id, until, clock=emulator, within_seconds=15.0)


async def faults(emulator: httpx.AsyncClient, *rules: dict[str, Any]) -> None:
    """Make the emulator misbehave by these rules (replacing any earlier ones)."""
    response = await emulator.put("/_emulator/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


async def fail_soumettre_twice(emulator: httpx.AsyncClient, kind: str) -> None:
    """Make the next two `soumettre` calls fail with `kind`, asking for no wait before a retry."""
    await faults(
        emulator,
        {"endpoint": "factures/v1/soumettre", "kind": kind, "next_n": 2, "retry_after": 0},
    )


async def chorus_invoices(emulator: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The invoices the emulator holds."""
    invoices: list[dict[str, Any]] = (await emulator.get("/_emulator/invoices")).json()["invoices"]
    return invoices


async def deposited_flux(emulator: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The flux deposited with the emulator."""
    flux: list[dict[str, Any]] = (await emulator.get("/_emulator/flux")).json()
    return flux


async def deposited_document(
    sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str
) -> DepositedDocument:
    """The document the gateway deposited for this invoice, as it kept it."""
    async with sessionmaker() as session:
        document = await session.get(DepositedDocument, invoice_id)
    assert document is not None
    return document
