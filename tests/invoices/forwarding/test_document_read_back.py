"""An invoice delivered to the served emulator serves back, byte for byte, what Chorus received."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices import repository
from app.invoices.models import DepositedDocument
from app.outbox.worker import Worker
from app.structures.models import SupplierStructure
from tests.builders import SUPPLIER_SIRET, invoice_payload
from tests.formats.pdfs import blank_pdf

pytestmark = pytest.mark.usefixtures("acme")


async def deliver(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    *,
    channel: str,
    pdf: bytes | None = None,
) -> str:
    """Submit an invoice for `channel` and run the worker until Chorus has it."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(SupplierStructure)
            .where(SupplierStructure.siret == SUPPLIER_SIRET)
            .values(delivery_format=channel)
        )
    payload: dict[str, Any] = invoice_payload()
    if pdf is None:
        response = await gateway.post("/v1/invoices", json=payload, headers=auth)
    else:
        response = await gateway.post(
            "/v1/invoices",
            data={"invoice": json.dumps(payload)},
            files={"file": ("facture.pdf", pdf, "application/pdf")},
            headers=auth,
        )
    assert response.status_code == 201, response.text
    invoice_id = str(response.json()["id"])
    deadline = time.monotonic() + 15
    while True:
        await worker.run_once()
        async with sessionmaker() as session:
            invoice = await repository.get(session, invoice_id)
        assert invoice is not None
        if invoice.status == "submitted":
            assert invoice.chorus_channel == channel
            return invoice_id
        assert invoice.status == "queued", invoice.history[-1].detail
        assert time.monotonic() < deadline, f"stuck: {invoice.history[-1].detail}"
        # A flux is integrated a few seconds of the emulator's clock after its deposit.
        await emulator.post("/_emulator/clock/advance", json={"seconds": 1})
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("channel", "with_pdf", "media_type"),
    [
        ("cii", False, "application/xml"),
        ("ubl", False, "application/xml"),
        ("facturx", True, "application/pdf"),
    ],
)
async def test_a_flux_invoice_serves_the_exact_bytes_chorus_received(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    channel: str,
    with_pdf: bool,
    media_type: str,
) -> None:
    invoice_id = await deliver(
        gateway,
        auth,
        worker,
        sessionmaker,
        emulator,
        channel=channel,
        pdf=blank_pdf() if with_pdf else None,
    )
    served = await gateway.get(f"/v1/invoices/{invoice_id}/document", headers=auth)
    assert served.status_code == 200, served.text

    [flux] = (await emulator.get("/_emulator/flux")).json()
    digest = hashlib.sha256(served.content).hexdigest()
    assert digest == flux["sha256"]
    assert len(served.content) == flux["size"]
    assert served.headers["content-type"] == media_type
    assert served.headers["etag"] == f'"{digest}"'
    assert served.headers["content-disposition"] == f'attachment; filename="{flux["file_name"]}"'
    async with sessionmaker() as session:
        stored = await session.get(DepositedDocument, invoice_id)
    assert stored is not None
    assert served.content == stored.content
    # The same syntax rendered now is the deposited document: rendering is deterministic.
    again = await gateway.get(
        f"/v1/invoices/{invoice_id}/document", params={"format": channel}, headers=auth
    )
    assert again.status_code == 200, again.text
    assert again.content == served.content


async def test_a_pdf_channel_invoice_serves_the_pdf_chorus_received(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    pdf = blank_pdf(pages=2)
    invoice_id = await deliver(
        gateway, auth, worker, sessionmaker, emulator, channel="pdf", pdf=pdf
    )
    assert (await emulator.get("/_emulator/flux")).json() == []
    [recorded] = (await emulator.get("/_emulator/invoices")).json()["invoices"]
    assert recorded["mode"] == "DEPOT_PDF_API"
    served = await gateway.get(f"/v1/invoices/{invoice_id}/document", headers=auth)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "application/pdf"
    assert served.content == pdf
