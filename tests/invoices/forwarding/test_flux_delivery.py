"""Delivering through `deposer/flux` to the served emulator: CII, UBL, Factur-X, and refusals.

The emulator integrates a flux a few seconds (of its own clock) after the deposit; these tests
move its clock on while the worker runs, so nothing waits in real time.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from lxml import etree
from pypdf import PdfWriter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.formats.conformance import Syntax
from app.formats.facturx import read_facturx_xml
from app.invoices import repository
from app.invoices.forwarding import schematron_wanted
from app.invoices.models import DepositedDocument, Invoice, InvoiceLine
from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from app.settings import Settings
from app.structures.models import SupplierStructure
from tests.builders import STATE_SIRET, SUPPLIER_SIRET, invoice_payload
from tests.invoices.forwarding.conftest import Post

pytestmark = pytest.mark.usefixtures("acme")

CII_NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    chorus = settings.chorus.model_copy(update={"delivery_format": "cii"})
    return settings.model_copy(update={"chorus": chorus})


async def faults(emulator: httpx.AsyncClient, *rules: dict[str, Any]) -> None:
    response = await emulator.put("/_emulator/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


async def chorus_invoices(emulator: httpx.AsyncClient) -> list[dict[str, Any]]:
    body = (await emulator.get("/_emulator/invoices")).json()
    invoices: list[dict[str, Any]] = body["invoices"]
    return invoices


async def deposited_flux(emulator: httpx.AsyncClient) -> list[dict[str, Any]]:
    flux: list[dict[str, Any]] = (await emulator.get("/_emulator/flux")).json()
    return flux


async def drain(
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    invoice_id: str,
    until: Callable[[Invoice], bool],
    *,
    within_seconds: float = 15.0,
) -> Invoice:
    """Run the worker, moving the emulator's clock on, until the invoice satisfies `until`."""
    deadline = time.monotonic() + within_seconds
    while True:
        await worker.run_once()
        async with sessionmaker() as session:
            invoice = await repository.get(session, invoice_id)
        assert invoice is not None
        if until(invoice):
            return invoice
        if time.monotonic() > deadline:
            raise AssertionError(f"invoice stuck in {invoice.status}: {invoice.history[-1].detail}")
        await emulator.post("/_emulator/clock/advance", json={"seconds": 1})
        await asyncio.sleep(0.01)


async def deposited_document(
    sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str
) -> DepositedDocument:
    async with sessionmaker() as session:
        document = await session.get(DepositedDocument, invoice_id)
    assert document is not None
    return document


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


async def test_a_json_invoice_goes_as_a_cii_flux_and_keeps_the_erps_number(
    post: Post,
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice_id = await post(invoice_number="FA-2026-0042")
    queued = (await gateway.get(f"/v1/invoices/{invoice_id}", headers=auth)).json()
    assert queued["chorus"]["channel"] == "flux"
    assert queued["chorus"]["syntax"] == "IN_DP_E1_CII_16B"
    assert queued["chorus"]["flux_id"] is None

    invoice = await drain(
        worker, sessionmaker, emulator, invoice_id, lambda i: i.status == "submitted"
    )

    [flux] = await deposited_flux(emulator)
    [recorded] = await chorus_invoices(emulator)
    assert flux["syntax"] == "IN_DP_E1_CII_16B"
    assert invoice.chorus_flux_number == flux["number"]
    assert recorded["number"] == "FA-2026-0042"  # the supplier's own, legal number
    assert recorded["mode"] == "EDI"
    assert invoice.chorus_invoice_id == recorded["id"]
    assert [h.status for h in invoice.history] == ["queued", "queued", "submitted"]
    assert invoice.history[1].detail == f"deposited as flux {flux['number']} (IN_DP_E1_CII_16B)"
    document = await deposited_document(sessionmaker, invoice_id)
    root = etree.fromstring(document.content)
    assert root.tag == f"{{{CII_NS['rsm']}}}CrossIndustryInvoice"
    assert document.content_type == "application/xml"
    answer = (await gateway.get(f"/v1/invoices/{invoice_id}", headers=auth)).json()
    assert answer["status"] == "submitted"
    assert answer["chorus"]["flux_id"] == flux["number"]
    assert answer["chorus"]["number"] == "FA-2026-0042"
    assert answer["chorus"]["invoice_id"] == recorded["id"]


async def test_a_structure_override_sends_ubl(
    post: Post,
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(SupplierStructure)
            .where(SupplierStructure.siret == SUPPLIER_SIRET)
            .values(delivery_format="ubl")
        )
    invoice_id = await post()
    await drain(worker, sessionmaker, emulator, invoice_id, lambda i: i.status == "submitted")
    [flux] = await deposited_flux(emulator)
    assert flux["syntax"] == "IN_DP_E1_UBL_INVOICE"
    document = await deposited_document(sessionmaker, invoice_id)
    assert b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" in document.content


async def test_a_pdf_invoice_goes_as_factur_x_with_the_cii_inside_the_erps_pdf(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    response = await gateway.post(
        "/v1/invoices",
        data={"invoice": json.dumps(invoice_payload(invoice_number="FX-2026-7"))},
        files={"file": ("facture.pdf", blank_pdf(), "application/pdf")},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    assert response.json()["chorus"]["syntax"] == "IN_DP_E2_CII_FACTURX"
    invoice_id = response.json()["id"]

    await drain(worker, sessionmaker, emulator, invoice_id, lambda i: i.status == "submitted")

    [flux] = await deposited_flux(emulator)
    assert flux["syntax"] == "IN_DP_E2_CII_FACTURX"
    [recorded] = await chorus_invoices(emulator)
    assert recorded["number"] == "FX-2026-7"
    document = await deposited_document(sessionmaker, invoice_id)
    assert document.content_type == "application/pdf"
    embedded = read_facturx_xml(document.content)
    assert embedded is not None
    assert b"FX-2026-7" in embedded


async def test_a_flux_refused_for_a_business_rule_is_rejected_with_choruss_text(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    # Chorus's directory closed this service; the gateway's offline checks cannot know.
    invoice_id = await post(buyer={"siret": STATE_SIRET, "service_code": "SFACANCIEN"})
    invoice = await drain(
        worker, sessionmaker, emulator, invoice_id, lambda i: i.status != "queued"
    )
    assert invoice.status == "rejected", invoice.history[-1].detail
    assert invoice.chorus_rejection is not None
    assert invoice.chorus_rejection["code"] == "IN_REJETE"
    assert "SFACANCIEN" in invoice.chorus_rejection["label"] or invoice.chorus_rejection["label"]
    assert await chorus_invoices(emulator) == []


@pytest.mark.parametrize("kind", ["commit_then_drop", "http_500"])
async def test_an_uncertain_deposit_ends_with_one_invoice_in_chorus(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    kind: str,
) -> None:
    await faults(emulator, {"endpoint": "factures/v1/deposer/flux", "kind": kind, "next_n": 1})
    invoice_id = await post()
    invoice = await drain(
        worker, sessionmaker, emulator, invoice_id, lambda i: i.status != "queued"
    )
    assert invoice.status == "submitted", invoice.history[-1].detail
    [recorded] = await chorus_invoices(emulator)
    assert invoice.chorus_invoice_id == recorded["id"]


async def test_a_flux_report_that_fails_is_asked_again(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await faults(
        emulator,
        {"endpoint": "transverses/v1/consulterCRDetaille", "kind": "http_503", "next_n": 2},
    )
    invoice_id = await post()
    invoice = await drain(
        worker, sessionmaker, emulator, invoice_id, lambda i: i.status == "submitted"
    )
    assert len(await deposited_flux(emulator)) == 1
    assert invoice.chorus_invoice_id == (await chorus_invoices(emulator))[0]["id"]


async def test_a_document_that_breaks_en16931_never_reaches_chorus(
    post: Post,
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice_id = await post()
    # A unit code outside UN/ECE rec 20, as a row written by an older gateway could hold.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).values(unit_code="ZZ9")
        )
    invoice = await drain(
        worker, sessionmaker, emulator, invoice_id, lambda i: i.status != "queued"
    )
    assert invoice.status == "failed"
    assert invoice.failure_code == "FORMAT_INVALID"
    assert invoice.history[-1].detail is not None
    # The official rule's id (the CII schematron numbers the code-list rules FX-SCH-A-…).
    assert "breaks FX-SCH-A-000613" in invoice.history[-1].detail
    assert "unitCode" in invoice.history[-1].detail
    assert await deposited_flux(emulator) == []
    answer = (await gateway.get(f"/v1/invoices/{invoice_id}", headers=auth)).json()
    assert answer["failure"]["code"] == "FORMAT_INVALID"


async def test_the_flux_report_is_followed_by_its_own_outbox_item(
    post: Post,
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    invoice_id = await post()
    await drain(worker, sessionmaker, emulator, invoice_id, lambda i: i.status == "submitted")
    async with sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(OutboxItem.kind)
                .where(OutboxItem.invoice_id == invoice_id)
                .order_by(OutboxItem.id)
            )
        ).all()
    assert list(kinds) == ["invoice.deliver", "invoice.follow_flux", "invoice.sync"]


def test_the_schematron_checks_the_first_flux_of_each_syntax_then_its_share() -> None:
    seen: set[Syntax] = set()
    ids = [f"inv_{n:05d}" for n in range(4000)]
    assert schematron_wanted(0.1, ids[0], Syntax.CII, seen)  # the first CII of the process
    assert schematron_wanted(0.1, ids[0], Syntax.UBL, seen)  # and the first UBL
    picked = [i for i in ids if schematron_wanted(0.1, i, Syntax.CII, seen)]
    assert 300 < len(picked) < 500
    # An invoice's retries get the answer its first attempt got.
    assert picked == [i for i in ids if schematron_wanted(0.1, i, Syntax.CII, seen)]
    assert all(schematron_wanted(1.0, i, Syntax.CII, seen) for i in ids[:50])
    # 0 is never, not even the first: no schematron process in the worker at all.
    assert not any(schematron_wanted(0.0, i, Syntax.FACTURX, set()) for i in ids[:50])
