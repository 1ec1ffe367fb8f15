"""Delivering through `deposer/flux` to the served emulator: CII, UBL, Factur-X, and refusals.

The emulator integrates a flux a few seconds (of its own clock) after the deposit; these tests
move its clock on while the worker runs, so nothing waits in real time.
"""

from __future__ import annotations

import httpx
import pytest
from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.formats.conformance import Syntax
from app.formats.facturx import read_facturx_xml
from app.invoices.forwarding import schematron_wanted
from app.invoices.models import InvoiceLine
from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from app.settings import Settings
from tests.builders import STATE_SIRET, invoice_payload
from tests.formats.pdfs import blank_pdf
from tests.support.delivery import (
    Deliver,
    Post,
    chorus_invoices,
    deposited_document,
    deposited_flux,
    drain_flux,
    faults,
    post_multipart,
    settled,
    submitted,
    with_chorus,
)
from tests.support.gateway import set_demo_structure

CII_NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_chorus(settings, delivery_format="cii")


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

    invoice = await drain_flux(worker, sessionmaker, emulator, invoice_id, submitted)

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
    deliver_flux: Deliver,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    await set_demo_structure(sessionmaker, delivery_format="ubl")
    invoice = await deliver_flux(submitted)
    [flux] = await deposited_flux(emulator)
    assert flux["syntax"] == "IN_DP_E1_UBL_INVOICE"
    document = await deposited_document(sessionmaker, invoice.id)
    assert b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" in document.content


async def test_a_pdf_invoice_goes_as_factur_x_with_the_cii_inside_the_erps_pdf(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    payload = invoice_payload(invoice_number="FX-2026-7")
    created = await post_multipart(gateway, auth, payload, pdf=blank_pdf())
    assert created["chorus"]["syntax"] == "IN_DP_E2_CII_FACTURX"
    invoice_id = created["id"]

    await drain_flux(worker, sessionmaker, emulator, invoice_id, submitted)

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
    deliver_flux: Deliver,
    emulator: httpx.AsyncClient,
) -> None:
    # Chorus's directory closed this service; the gateway's offline checks cannot know.
    invoice = await deliver_flux(
        settled, buyer={"siret": STATE_SIRET, "service_code": "SFACANCIEN"}
    )
    assert invoice.status == "rejected", invoice.history[-1].detail
    assert invoice.chorus_rejection is not None
    assert invoice.chorus_rejection["code"] == "IN_REJETE"
    assert "SFACANCIEN" in invoice.chorus_rejection["label"] or invoice.chorus_rejection["label"]
    assert await chorus_invoices(emulator) == []


@pytest.mark.parametrize("kind", ["commit_then_drop", "http_500"])
async def test_an_uncertain_deposit_ends_with_one_invoice_in_chorus(
    deliver_flux: Deliver,
    emulator: httpx.AsyncClient,
    kind: str,
) -> None:
    await faults(emulator, {"endpoint": "factures/v1/deposer/flux", "kind": kind, "next_n": 1})
    invoice = await deliver_flux(settled)
    assert invoice.status == "submitted", invoice.history[-1].detail
    [recorded] = await chorus_invoices(emulator)
    assert invoice.chorus_invoice_id == recorded["id"]


async def test_a_flux_report_that_fails_is_asked_again(
    deliver_flux: Deliver,
    emulator: httpx.AsyncClient,
) -> None:
    await faults(
        emulator,
        {"endpoint": "transverses/v1/consulterCRDetaille", "kind": "http_503", "next_n": 2},
    )
    invoice = await deliver_flux(submitted)
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
    invoice = await drain_flux(worker, sessionmaker, emulator, invoice_id, settled)
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
    deliver_flux: Deliver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    invoice = await deliver_flux(submitted)
    async with sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(OutboxItem.kind)
                .where(OutboxItem.invoice_id == invoice.id)
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
