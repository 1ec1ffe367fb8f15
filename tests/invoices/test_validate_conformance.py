"""`POST /v1/invoices/validate?conformance=full`: the document the invoice would be deposited
as, checked against the XSD and the EN 16931 schematron, with the report in the answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings
from tests.builders import invoice_payload
from tests.conftest import emulator_chorus_settings
from tests.formats.pdfs import blank_pdf
from tests.support.gateway import set_demo_structure

pytestmark = pytest.mark.usefixtures("registered_suppliers")

FULL = "/v1/invoices/validate?conformance=full"
# Starts like a PDF, so the upload passes, but no PDF library can open it.
BROKEN_PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    return settings.model_copy(update={"chorus": emulator_chorus_settings(served_emulator)})


async def validate_with_pdf(
    http: httpx.AsyncClient, auth: dict[str, str], pdf: bytes, **overrides: Any
) -> httpx.Response:
    return await http.post(
        FULL,
        data={"invoice": json.dumps(invoice_payload(**overrides))},
        files={"file": ("facture.pdf", pdf, "application/pdf")},
        headers=auth,
    )


def conformance_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["valid"] is True
    report: dict[str, Any] = body["conformance"]
    return report


def fatal_rules(report: dict[str, Any]) -> set[str]:
    return {f["rule_id"] for f in report["findings"] if f["severity"] == "fatal"}


async def test_a_valid_invoice_writes_a_conformant_cii(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    report = conformance_of(await http.post(FULL, json=invoice_payload(), headers=auth))
    assert report["channel"] == "cii"
    assert report["syntax"] == "cii"
    assert report["as_deposited"] is True
    assert report["ok"] is True
    assert fatal_rules(report) == set()
    for finding in report["findings"]:
        assert set(finding) == {"rule_id", "severity", "location", "message"}


async def test_without_the_parameter_the_answer_is_unchanged(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload()
    plain = await http.post("/v1/invoices/validate", json=payload, headers=auth)
    full = await http.post(FULL, json=payload, headers=auth)
    assert plain.status_code == 200, plain.text
    assert plain.json()["conformance"] is None
    assert {k: v for k, v in full.json().items() if k != "conformance"} == {
        k: v for k, v in plain.json().items() if k != "conformance"
    }


async def test_a_ubl_supplier_gets_its_ubl_checked(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await set_demo_structure(sessionmaker, delivery_format="ubl")
    report = conformance_of(
        await http.post(
            FULL,
            json=invoice_payload(type="credit_note", preceding_invoice="F2026-000001"),
            headers=auth,
        )
    )
    assert (report["channel"], report["syntax"], report["ok"]) == ("ubl", "ubl", True)


async def test_a_pdf_invoice_gets_its_factur_x_checked(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    report = conformance_of(await validate_with_pdf(http, auth, blank_pdf()))
    assert (report["channel"], report["syntax"], report["as_deposited"]) == (
        "facturx",
        "facturx",
        True,
    )
    assert report["ok"] is True, report["findings"]


async def test_a_pdf_that_cannot_carry_a_factur_x_is_refused_before_any_check(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # The worker could not embed the CII into it: validation refuses it as submission would.
    response = await validate_with_pdf(http, auth, BROKEN_PDF)
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert (problem["field"], problem["code"]) == ("file", "PDF_INVALID")


async def test_a_saisie_invoice_is_checked_as_its_cii_rendering_and_says_so(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Natively valid for SAISIE_API, which needs no VAT number; a document without the
    # seller's VAT identifier breaks BR-S-02 for its standard-rated lines.
    await set_demo_structure(sessionmaker, delivery_format="saisie", vat_number=None)
    report = conformance_of(await http.post(FULL, json=invoice_payload(), headers=auth))
    assert report["channel"] == "saisie"
    assert report["syntax"] == "cii"
    assert report["as_deposited"] is False
    assert report["ok"] is False
    assert "BR-S-02" in fatal_rules(report)
    [finding] = [f for f in report["findings"] if f["rule_id"] == "BR-S-02"]
    assert finding["location"].startswith("/")  # an XPath in the document
    assert finding["message"]


async def test_data_no_source_gives_is_a_finding_not_a_server_error(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await set_demo_structure(
        sessionmaker,
        delivery_format="saisie",
        address_line1=None,
        postal_code=None,
        city=None,
        country_code=None,
    )
    report = conformance_of(await http.post(FULL, json=invoice_payload(), headers=auth))
    assert report["ok"] is False
    assert report["findings"] == [
        {
            "rule_id": "BR-09",
            "severity": "fatal",
            "location": "supplier.address",
            "message": "supplier.address: no postal address with a country for this party",
        }
    ]


async def test_an_invalid_invoice_is_still_the_usual_422_with_every_error(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload(invoice_number="", legal_commitment=None, currency="XXX")
    response = await http.post(FULL, json=payload, headers=auth)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "INVOICE_INVALID"
    assert {"invoice_number", "currency"} <= {e["field"] for e in body["errors"]}


@pytest.mark.parametrize("level", ["partial", "FULL", ""])
async def test_an_unknown_conformance_level_is_422(
    http: httpx.AsyncClient, auth: dict[str, str], level: str
) -> None:
    response = await http.post(
        f"/v1/invoices/validate?conformance={level}", json=invoice_payload(), headers=auth
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "REQUEST_INVALID"
    assert [e["field"] for e in body["errors"]] == ["conformance"]
    assert "'full'" in body["errors"][0]["message"]


async def test_a_pdf_without_lines_goes_as_a_pdf_and_its_cii_rendering_lacks_them(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload()
    payload.pop("lines")
    response = await http.post(
        FULL,
        data={"invoice": json.dumps(payload)},
        files={"file": ("facture.pdf", blank_pdf(), "application/pdf")},
        headers=auth,
    )
    report = conformance_of(response)
    assert (report["channel"], report["syntax"], report["as_deposited"]) == ("pdf", "cii", False)
    assert "BR-16" in fatal_rules(report)
