"""Submission decides each invoice's channel and, for an EN 16931 one, refuses what it lacks."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices.models import Invoice
from tests.builders import SUPPLIER_SIRET, SUPPLIER_VAT_NUMBER, invoice_payload
from tests.formats.pdfs import blank_pdf
from tests.support.gateway import set_demo_structure

pytestmark = pytest.mark.usefixtures("registered_suppliers")

PDF = blank_pdf()


async def stored(sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str) -> Invoice:
    async with sessionmaker() as session:
        invoice = await session.get(Invoice, invoice_id)
    assert invoice is not None
    return invoice


def errors_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["code"] for e in response.json()["errors"]}


async def post_with_pdf(
    http: httpx.AsyncClient, auth: dict[str, str], payload: dict[str, Any]
) -> httpx.Response:
    return await http.post(
        "/v1/invoices",
        files={"file": ("facture.pdf", PDF, "application/pdf")},
        data={"invoice": json.dumps(payload)},
        headers=auth,
    )


async def test_a_json_invoice_goes_as_cii_with_its_structures_vat_number(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["supplier"]["vat_number"] == SUPPLIER_VAT_NUMBER
    invoice = await stored(sessionmaker, response.json()["id"])
    assert invoice.chorus_channel == "cii"
    assert invoice.supplier_vat_number == SUPPLIER_VAT_NUMBER


async def test_the_invoices_own_vat_number_wins_over_the_structures(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await set_demo_structure(sessionmaker, vat_number="FR00412345670")  # wrong key: never used
    payload = invoice_payload(
        supplier={"siret": SUPPLIER_SIRET, "name": "ACME", "vat_number": "fr 96 412345670"}
    )
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["supplier"]["vat_number"] == SUPPLIER_VAT_NUMBER


async def test_a_pdf_with_lines_goes_as_factur_x_and_one_without_as_a_pdf(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    with_lines = await post_with_pdf(http, auth, invoice_payload())
    assert with_lines.status_code == 201, with_lines.text
    assert (await stored(sessionmaker, with_lines.json()["id"])).chorus_channel == "facturx"
    lineless = invoice_payload()
    lineless.pop("lines")
    without = await post_with_pdf(http, auth, lineless)
    assert without.status_code == 201, without.text
    assert (await stored(sessionmaker, without.json()["id"])).chorus_channel == "pdf"


@pytest.mark.parametrize("endpoint", ["/v1/invoices", "/v1/invoices/validate"])
async def test_what_the_document_would_lack_is_refused_all_at_once(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint: str,
) -> None:
    await set_demo_structure(sessionmaker, country_code=None, city=None, address_line1=None,
                             postal_code=None, vat_number=None)  # fmt: skip
    payload = invoice_payload(
        supplier={"siret": SUPPLIER_SIRET},
        buyer={
            "siret": "11000201100044",
            "service_code": "SFACETAT",
            "address": {"city": "Berlin", "country_code": "DD"},
        },
        note="Bon de livraison\u0007 joint",
        payment={"means": "VIREMENT", "terms": "30 jours\u001b fin de mois"},
    )
    response = await http.post(endpoint, json=payload, headers=auth)
    assert errors_of(response) == {
        "supplier.name": "FIELD_REQUIRED",
        "supplier.address": "FIELD_REQUIRED",
        "supplier.vat_number": "FIELD_REQUIRED",
        "buyer.address.country_code": "FIELD_INVALID",
        "note": "FIELD_INVALID",
        "payment.terms": "FIELD_INVALID",
    }
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert "BR-06" in messages
    assert "BR-S-02" in messages
    assert "register" in messages
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 0


async def test_the_registered_address_is_enough_and_is_not_copied_into_the_invoice(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["supplier"]["address"] is None
    invoice = await stored(sessionmaker, response.json()["id"])
    assert invoice.supplier_country_code is None


async def test_a_structure_delivering_by_saisie_keeps_todays_rules(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await set_demo_structure(
        sessionmaker, delivery_format="saisie", country_code=None, city=None, vat_number=None
    )
    payload = invoice_payload(supplier={"siret": SUPPLIER_SIRET}, note="ancien\u0007 ERP")
    response = await http.post("/v1/invoices", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    invoice = await stored(sessionmaker, response.json()["id"])
    assert invoice.chorus_channel == "saisie"
    assert invoice.supplier_vat_number is None


async def test_a_structure_preferring_ubl_gets_it_and_a_pdf_still_makes_a_factur_x(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await set_demo_structure(sessionmaker, delivery_format="ubl")
    plain = await http.post("/v1/invoices", json=invoice_payload(), headers=auth)
    assert (await stored(sessionmaker, plain.json()["id"])).chorus_channel == "ubl"
    with_pdf = await post_with_pdf(http, auth, invoice_payload())
    assert (await stored(sessionmaker, with_pdf.json()["id"])).chorus_channel == "facturx"
