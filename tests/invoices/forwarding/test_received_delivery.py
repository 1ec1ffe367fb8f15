"""An ERP's own UBL, CII or Factur-X reaches Chorus Pro (the served emulator) byte for byte."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.formats import conformance
from app.outbox.worker import Worker
from tests.formats.documents import cii, credit_note_payload, facturx, full_payload, ubl
from tests.support.delivery import (
    chorus_invoices,
    deposited_document,
    deposited_flux,
    drain_flux,
    submitted,
)


@pytest.fixture(autouse=True, scope="module")
def no_pool_left() -> Iterator[None]:
    yield
    conformance.shutdown()


CASES: list[tuple[str, Callable[[dict[str, Any]], bytes], str, str, dict[str, Any]]] = [
    ("ubl_invoice", ubl, "application/xml", "IN_DP_E1_UBL_INVOICE", {}),
    (
        "ubl_credit_note",
        ubl,
        "application/xml",
        "IN_DP_E1_UBL_INVOICE",
        {
            "type": "credit_note",
            "preceding_invoice": "F2026-000001",
            "payment": None,
            "due_date": None,
        },
    ),
    ("cii", cii, "text/xml", "IN_DP_E1_CII_16B", {}),
    ("facturx", facturx, "application/pdf", "IN_DP_E2_CII_FACTURX", {}),
]


@pytest.mark.parametrize(
    ("writer", "content_type", "syntax", "overrides"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_the_erps_document_is_deposited_as_received_and_ends_submitted(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    writer: Callable[[dict[str, Any]], bytes],
    content_type: str,
    syntax: str,
    overrides: dict[str, Any],
) -> None:
    payload = credit_note_payload(**overrides) if overrides else full_payload()
    original = writer(payload)

    response = await gateway.post(
        "/v1/invoices", content=original, headers={**auth, "Content-Type": content_type}
    )
    assert response.status_code == 201, response.text
    invoice_id = response.json()["id"]
    await drain_flux(worker, sessionmaker, emulator, invoice_id, submitted)

    [flux] = await deposited_flux(emulator)
    [recorded] = await chorus_invoices(emulator)
    assert flux["syntax"] == syntax
    assert flux["sha256"] == hashlib.sha256(original).hexdigest()
    assert recorded["number"] == payload["invoice_number"]
    assert (await deposited_document(sessionmaker, invoice_id)).content == original
    served = await gateway.get(f"/v1/invoices/{invoice_id}/document", headers=auth)
    assert served.content == original


async def test_a_completed_document_is_written_again_with_what_the_erp_added(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    payload = full_payload()
    original = ubl(payload).replace(b"<cbc:BuyerReference>SFACETAT</cbc:BuyerReference>", b"")

    response = await gateway.post(
        "/v1/invoices",
        files={"file": ("facture.xml", original, "application/xml")},
        data={"invoice": json.dumps({"buyer": {"service_code": "SFACETAT"}})},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    invoice_id = response.json()["id"]
    await drain_flux(worker, sessionmaker, emulator, invoice_id, submitted)

    [flux] = await deposited_flux(emulator)
    assert flux["syntax"] == "IN_DP_E1_UBL_INVOICE"
    deposited = (await deposited_document(sessionmaker, invoice_id)).content
    assert deposited != original
    assert b"<cbc:BuyerReference>SFACETAT</cbc:BuyerReference>" in deposited
