"""Signed PDFs and supporting documents reach the served emulator the way Chorus takes them:
DEPOT_PDF_SIGNE_API for a signed PDF, `pieceJointeComplementaire` on `soumettre`, BG-24 inside a
CII or UBL, beside the CII in a Factur-X."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.formats.facturx import write_facturx
from app.invoices.models import Invoice
from app.outbox.models import OutboxItem
from app.outbox.worker import Worker
from app.settings import Settings
from tests.builders import invoice_payload
from tests.formats.pdfs import blank_pdf, signed_pdf
from tests.support.delivery import (
    attachment_parts,
    chorus_invoices,
    deposited_document,
    deposited_flux,
    drain_flux,
    pdf_only_invoice,
    post_multipart,
    submitted,
    with_chorus,
)

NOTE = b"%PDF-1.4\n% bon de livraison\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
ATTACHMENTS = {"bon-de-livraison.pdf": NOTE, "releve-heures.png": PNG}


@pytest.fixture
def delivery_format() -> str:
    return "cii"


@pytest.fixture
def settings(settings: Settings, delivery_format: str) -> Settings:
    return with_chorus(settings, delivery_format=delivery_format)


async def test_an_unsigned_pdf_goes_as_depot_pdf_api(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    created = await post_multipart(gateway, auth, pdf_only_invoice(), pdf=blank_pdf())
    await drain_flux(worker, sessionmaker, emulator, created["id"], submitted)
    [recorded] = await chorus_invoices(emulator)
    assert recorded["mode"] == "DEPOT_PDF_API"
    assert recorded["signed_pdf"] is False


async def test_a_signed_pdf_goes_as_depot_pdf_signe_api_byte_for_byte(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    pdf = signed_pdf()
    created = await post_multipart(gateway, auth, invoice_payload(), pdf=pdf)
    assert created["chorus"]["syntax"] == "DEPOT_PDF_SIGNE_API"
    await drain_flux(worker, sessionmaker, emulator, created["id"], submitted)
    [recorded] = await chorus_invoices(emulator)
    assert recorded["mode"] == "DEPOT_PDF_SIGNE_API"
    assert recorded["signed_pdf"] is True
    [principal] = [a for a in recorded["attachments"] if a["kind"] == "principal"]
    assert principal["sha256"] == hashlib.sha256(pdf).hexdigest()
    document = await gateway.get(f"/v1/invoices/{created['id']}/document", headers=auth)
    assert document.content == pdf


async def signed_facturx(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    number: str,
) -> bytes:
    """The ERP's own Factur-X of invoice `number`: the gateway's CII of it, in a PDF, signed."""
    payload = invoice_payload(invoice_number=number)
    draft = (await gateway.post("/v1/invoices", json=payload, headers=auth)).json()
    cii = await gateway.get(f"/v1/invoices/{draft['id']}/document?format=cii", headers=auth)
    async with sessionmaker() as session, session.begin():
        # That draft only lent its document: out of the way, never delivered.
        await session.execute(
            update(OutboxItem).where(OutboxItem.invoice_id == draft["id"]).values(state="done")
        )
        await session.execute(
            update(Invoice).where(Invoice.id == draft["id"]).values(invoice_number=f"D-{number}")
        )
    return signed_pdf(write_facturx(blank_pdf(), cii.content))


async def test_a_signed_factur_x_of_another_invoice_is_refused(
    gateway: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    pdf = await signed_facturx(gateway, auth, sessionmaker, "SFX-2026-2")
    response = await gateway.post(
        "/v1/invoices",
        data={"invoice": json.dumps(invoice_payload(invoice_number="SFX-2026-3"))},
        files={"file": ("facture.pdf", pdf, "application/pdf")},
        headers=auth,
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("file", "PDF_INVALID")
    assert "SFX-2026-2" in error["message"]


async def test_a_signed_factur_x_with_attachments_goes_by_soumettre_as_signed_pdf(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    pdf = await signed_facturx(gateway, auth, sessionmaker, "SFX-2026-4")
    created = await post_multipart(
        gateway,
        auth,
        invoice_payload(invoice_number="SFX-2026-4"),
        pdf=pdf,
        attachments=ATTACHMENTS,
    )
    assert created["chorus"]["syntax"] == "DEPOT_PDF_SIGNE_API"
    await drain_flux(worker, sessionmaker, emulator, created["id"], submitted)
    [recorded] = await chorus_invoices(emulator)
    assert recorded["mode"] == "DEPOT_PDF_SIGNE_API"
    assert len([a for a in recorded["attachments"] if a["kind"] == "complementary"]) == 2


async def test_a_signed_factur_x_is_deposited_as_is_with_its_signature_announced(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    pdf = await signed_facturx(gateway, auth, sessionmaker, "SFX-2026-1")
    created = await post_multipart(
        gateway, auth, invoice_payload(invoice_number="SFX-2026-1"), pdf=pdf
    )
    assert created["chorus"]["syntax"] == "IN_DP_E2_CII_FACTURX"
    assert created["document"]["signed"] is True
    await drain_flux(worker, sessionmaker, emulator, created["id"], submitted)

    [flux] = await deposited_flux(emulator)
    assert flux["syntax"] == "IN_DP_E2_CII_FACTURX"
    assert flux["with_signature"] is True
    assert flux["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert (await deposited_document(sessionmaker, created["id"])).content == pdf


@pytest.mark.parametrize(
    ("delivery_format", "with_pdf", "mode"),
    [
        ("saisie", False, "SAISIE_API"),
        ("pdf", True, "DEPOT_PDF_API"),
        ("cii", False, "EDI"),
        ("ubl", False, "EDI"),
        ("facturx", True, "EDI"),
    ],
    ids=["saisie", "pdf", "cii", "ubl", "facturx"],
)
async def test_two_attachments_reach_chorus_on_every_channel(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
    with_pdf: bool,
    mode: str,
) -> None:
    created = await post_multipart(
        gateway,
        auth,
        invoice_payload(),
        pdf=blank_pdf() if with_pdf else None,
        attachments=ATTACHMENTS,
    )
    await drain_flux(worker, sessionmaker, emulator, created["id"], submitted)
    [recorded] = await chorus_invoices(emulator)
    assert recorded["mode"] == mode
    complementary = {
        a["name"]: a["sha256"] for a in recorded["attachments"] if a["kind"] == "complementary"
    }
    assert complementary == {
        name: hashlib.sha256(content).hexdigest() for name, content in ATTACHMENTS.items()
    }


@pytest.mark.parametrize("delivery_format", ["pdf"])
async def test_attachments_added_while_queued_go_too_and_none_after_delivery(
    gateway: httpx.AsyncClient,
    auth: dict[str, str],
    worker: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
    emulator: httpx.AsyncClient,
) -> None:
    created = await post_multipart(gateway, auth, invoice_payload(), pdf=blank_pdf())
    url = f"/v1/invoices/{created['id']}/attachments"
    added = await gateway.post(url, files=attachment_parts({"annexe.pdf": NOTE}), headers=auth)
    assert added.status_code == 201, added.text
    await drain_flux(worker, sessionmaker, emulator, created["id"], submitted)
    [recorded] = await chorus_invoices(emulator)
    assert [a["name"] for a in recorded["attachments"] if a["kind"] == "complementary"] == [
        "annexe.pdf"
    ]
    late = await gateway.post(url, files=attachment_parts({"trop-tard.pdf": NOTE}), headers=auth)
    assert late.status_code == 409
    assert late.json()["code"] == "ATTACHMENTS_CLOSED"
