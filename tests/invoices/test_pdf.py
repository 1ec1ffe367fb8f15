"""Invoices sent as a PDF plus JSON (Chorus's "chargement d'un PDF")."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.invoices.models import Invoice, InvoiceDocument
from tests.builders import invoice_payload
from tests.invoices.uploads import MINIMAL_PDF

pytestmark = pytest.mark.usefixtures("registered_suppliers")


def pdf_invoice(**overrides: Any) -> dict[str, Any]:
    payload = invoice_payload(**overrides)
    payload.pop("lines")
    return payload


async def post_pdf(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    payload: dict[str, Any] | None,
    content: bytes | None = MINIMAL_PDF,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    files: dict[str, Any] = {}
    if content is not None:
        files["file"] = ("facture.pdf", content, "application/pdf")
    data = {"invoice": json.dumps(payload)} if payload is not None else {}
    return await http.post(
        "/v1/invoices", files=files or None, data=data, headers={**auth, **(headers or {})}
    )


async def test_a_pdf_invoice_without_lines_is_stored_and_served_back(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await post_pdf(http, auth, pdf_invoice())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["pdf"] == {"url": f"/v1/invoices/{body['id']}/pdf"}
    assert body["lines"] == []
    assert body["totals"] == {"net": "200.00", "vat": "40.00", "gross": "240.00"}
    served = await http.get(body["pdf"]["url"], headers=auth)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    assert served.content == MINIMAL_PDF
    async with sessionmaker() as session:
        document = await session.scalar(select(InvoiceDocument))
    assert document is not None
    assert document.filename == f"{body['invoice_number']}.pdf"


async def test_a_json_invoice_has_no_pdf(http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = (await http.post("/v1/invoices", json=invoice_payload(), headers=auth)).json()
    assert created["pdf"] is None
    assert (await http.get(f"/v1/invoices/{created['id']}/pdf", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"GIF89a not a pdf", "not a PDF"), (b"%PDF-" + b"0" * 70_000, "limit")],
)
async def test_a_bad_file_is_pdf_invalid_alongside_every_other_problem(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    content: bytes,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    response = await post_pdf(http, auth, pdf_invoice(legal_commitment=None), content)
    assert response.status_code == 422, response.text
    errors = {(e["field"], e["code"]): e["message"] for e in response.json()["errors"]}
    assert message in errors[("file", "PDF_INVALID")]
    assert ("legal_commitment", "EJ_REQUIRED") in errors
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 0


async def test_without_lines_the_totals_are_required(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await post_pdf(http, auth, pdf_invoice(totals=None))
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("totals", "FIELD_REQUIRED")
    ]


async def test_a_missing_file_part_is_pdf_invalid(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post(
        "/v1/invoices",
        data={"invoice": json.dumps(pdf_invoice())},
        files={"other": ("x.txt", b"x", "text/plain")},
        headers=auth,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "PDF_INVALID"


async def test_a_missing_or_broken_invoice_part_is_400(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert (await post_pdf(http, auth, None)).status_code == 400
    broken = await http.post(
        "/v1/invoices",
        data={"invoice": "{not json"},
        files={"file": ("f.pdf", MINIMAL_PDF, "application/pdf")},
        headers=auth,
    )
    assert broken.status_code == 400


async def test_the_idempotency_fingerprint_covers_the_file(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = pdf_invoice()
    key = {"Idempotency-Key": "pdf-1"}
    first = await post_pdf(http, auth, payload, MINIMAL_PDF, key)
    replay = await post_pdf(http, auth, payload, MINIMAL_PDF, key)
    other_file = await post_pdf(http, auth, payload, MINIMAL_PDF + b"\n% changed", key)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert other_file.status_code == 422
    assert other_file.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_a_pdf_that_cannot_carry_a_factur_x_is_refused_when_one_is_made_of_it(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """With lines, a PDF goes as Factur-X (the CII embedded into it): it must really open."""
    response = await http.post(
        "/v1/invoices",
        data={"invoice": json.dumps(invoice_payload())},
        files={"file": ("facture.pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")},
        headers=auth,
    )
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert (problem["field"], problem["code"]) == ("file", "PDF_INVALID")
    assert "Factur-X" in problem["message"]
