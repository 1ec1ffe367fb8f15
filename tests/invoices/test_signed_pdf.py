"""Signed invoice PDFs at submission: checked, described, never modified, never sent unsigned."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.invoices.models import Invoice, InvoiceDocument
from app.settings import Settings
from tests.builders import invoice_payload
from tests.formats.pdfs import SIGNER_NAME, blank_pdf, signed_pdf, tampered, with_update
from tests.support.gateway import gateway_client

pytestmark = pytest.mark.usefixtures("registered_suppliers")


async def post_with_pdf(
    http: httpx.AsyncClient, auth: dict[str, str], pdf: bytes, **overrides: Any
) -> httpx.Response:
    return await http.post(
        "/v1/invoices",
        data={"invoice": json.dumps(invoice_payload(**overrides))},
        files={"file": ("facture.pdf", pdf, "application/pdf")},
        headers=auth,
    )


async def stored(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessionmaker() as session:
        invoices = await session.scalar(select(func.count()).select_from(Invoice))
        documents = await session.scalar(select(func.count()).select_from(InvoiceDocument))
    return invoices or 0, documents or 0


async def test_a_signed_pdf_goes_as_is_by_depot_pdf_signe_and_says_who_signed(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    pdf = signed_pdf()
    response = await post_with_pdf(http, auth, pdf)
    assert response.status_code == 201, response.text
    body = response.json()
    # The configured CII would make a Factur-X of the PDF, which would break its signature.
    assert body["chorus"]["channel"] == "pdf"
    assert body["chorus"]["syntax"] == "DEPOT_PDF_SIGNE_API"
    assert body["document"]["signed"] is True
    assert body["document"]["signer"] == SIGNER_NAME
    assert body["document"]["signed_at"] is not None
    again = (await http.get(f"/v1/invoices/{body['id']}", headers=auth)).json()
    assert again["document"] == body["document"]
    assert again["chorus"]["syntax"] == "DEPOT_PDF_SIGNE_API"
    served = await http.get(f"/v1/invoices/{body['id']}/pdf", headers=auth)
    assert served.content == pdf


async def test_a_countersigned_pdf_is_accepted_and_names_the_last_signer(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """The first signature is followed by the second by nature: only the last must cover all."""
    pdf = signed_pdf(signed_pdf(), signer="Second Signataire")
    response = await post_with_pdf(http, auth, pdf)
    assert response.status_code == 201, response.text
    assert response.json()["document"]["signer"] == "Second Signataire"
    appended = await post_with_pdf(http, auth, with_update(pdf))
    assert appended.status_code == 422, appended.text


async def test_an_unsigned_pdf_says_so_and_keeps_its_channel(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await post_with_pdf(http, auth, blank_pdf())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["document"] == {"signed": False, "signer": None, "signed_at": None}
    assert body["chorus"]["syntax"] == "IN_DP_E2_CII_FACTURX"
    listed = (await http.get("/v1/invoices", headers=auth)).json()["items"]
    assert listed[0]["document"]["signed"] is False


async def test_a_json_invoice_has_no_document_block(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = (await http.post("/v1/invoices", json=invoice_payload(), headers=auth)).json()
    assert body["document"] is None


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [(tampered, "changed after signing"), (with_update, "added after it was signed")],
    ids=["tampered", "appended"],
)
async def test_a_signed_pdf_that_no_longer_matches_its_signature_is_refused_and_nothing_stored(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    spoil: Any,
    reason: str,
) -> None:
    response = await post_with_pdf(http, auth, spoil(signed_pdf()), invoice_number="")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    [signature] = [e for e in errors if e["code"] == "PDF_SIGNATURE_INVALID"]
    assert signature["field"] == "file"
    assert reason in signature["message"]
    # Listed with the invoice's other problems.
    assert any(e["field"] == "invoice_number" for e in errors)
    assert await stored(sessionmaker) == (0, 0)


async def test_validate_reports_a_broken_signature_too(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post(
        "/v1/invoices/validate",
        data={"invoice": json.dumps(invoice_payload())},
        files={"file": ("facture.pdf", tampered(signed_pdf()), "application/pdf")},
        headers=auth,
    )
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["errors"]] == ["PDF_SIGNATURE_INVALID"]


@pytest_asyncio.fixture
async def strict_http(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(settings, require_trusted_signature=True) as client:
        yield client


async def test_an_untrusted_certificate_is_refused_when_trust_is_required(
    strict_http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    response = await post_with_pdf(strict_http, auth, signed_pdf())
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["code"] == "PDF_SIGNATURE_INVALID"
    assert "not trusted" in error["message"]
    assert await stored(sessionmaker) == (0, 0)
