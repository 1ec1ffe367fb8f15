"""An invoice delivered to the served emulator serves back, byte for byte, what Chorus received."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.outbox.worker import Worker
from tests.builders import invoice_payload
from tests.formats.pdfs import blank_pdf
from tests.support.delivery import (
    chorus_invoices,
    deposited_document,
    deposited_flux,
    drain_flux,
    settled,
)
from tests.support.gateway import set_demo_structure


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
    await set_demo_structure(sessionmaker, delivery_format=channel)
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
    invoice = await drain_flux(worker, sessionmaker, emulator, invoice_id, settled)
    assert invoice.status == "submitted", invoice.history[-1].detail
    assert invoice.chorus_channel == channel
    return invoice_id


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

    [flux] = await deposited_flux(emulator)
    digest = hashlib.sha256(served.content).hexdigest()
    assert digest == flux["sha256"]
    assert len(served.content) == flux["size"]
    assert served.headers["content-type"] == media_type
    assert served.headers["etag"] == f'"{digest}"'
    assert served.headers["content-disposition"] == f'attachment; filename="{flux["file_name"]}"'
    assert served.content == (await deposited_document(sessionmaker, invoice_id)).content
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
    assert await deposited_flux(emulator) == []
    [recorded] = await chorus_invoices(emulator)
    assert recorded["mode"] == "DEPOT_PDF_API"
    served = await gateway.get(f"/v1/invoices/{invoice_id}/document", headers=auth)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "application/pdf"
    assert served.content == pdf
