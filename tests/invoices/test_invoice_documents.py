"""`GET /v1/invoices/{id}/document`: what was deposited, or the invoice rendered in a syntax.

The invoices here are stored but never delivered (no worker): their deposited document is
absent, and renderings ask the served emulator's directory for the buyer. The deposited bytes
themselves are read back in tests/invoices/forwarding/test_document_read_back.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.scopes import Scope
from app.formats.conformance import Syntax, check
from app.formats.facturx import read_facturx_xml
from app.invoices.models import Invoice
from app.settings import Settings
from tests.builders import OTHER_SUPPLIER_SIRET, invoice_payload
from tests.conftest import KeyFactory, emulator_chorus_settings
from tests.formats.pdfs import blank_pdf
from tests.support.delivery import pdf_only_invoice
from tests.support.gateway import set_demo_structure

pytestmark = pytest.mark.usefixtures("registered_suppliers")

PROBLEM = "application/problem+json"


@pytest.fixture
def settings(settings: Settings, served_emulator: str) -> Settings:
    return settings.model_copy(update={"chorus": emulator_chorus_settings(served_emulator)})


async def submit(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    *,
    pdf: bytes | None = None,
    payload: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """Post `payload` (by default `invoice_payload(**overrides)`), beside `pdf` when given; the
    new invoice's id."""
    if payload is None:
        payload = invoice_payload(**overrides)
    if pdf is None:
        response = await http.post("/v1/invoices", json=payload, headers=auth)
    else:
        response = await http.post(
            "/v1/invoices",
            data={"invoice": json.dumps(payload)},
            files={"file": ("facture.pdf", pdf, "application/pdf")},
            headers=auth,
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def document(
    http: httpx.AsyncClient, auth: dict[str, str], invoice_id: str, **params: str
) -> httpx.Response:
    return await http.get(f"/v1/invoices/{invoice_id}/document", params=params, headers=auth)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_a_queued_invoice_has_no_deposited_document_yet(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    invoice_id = await submit(http, auth)
    body = problem(await document(http, auth, invoice_id), 404, "DOCUMENT_NOT_FOUND")
    assert "?format=" in body["detail"]


async def test_a_saisie_invoice_never_has_one_and_says_why(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await set_demo_structure(sessionmaker, delivery_format="saisie")
    invoice_id = await submit(http, auth)
    async with sessionmaker() as session, session.begin():
        # As if delivered: Chorus has it, yet no document was ever deposited.
        await session.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(status="submitted", chorus_invoice_id=42)
        )
    body = problem(await document(http, auth, invoice_id), 404, "DOCUMENT_NOT_FOUND")
    assert "SAISIE_API" in body["detail"]
    rendered = await document(http, auth, invoice_id, format="cii")
    assert rendered.status_code == 200, rendered.text


@pytest.mark.parametrize(("fmt", "syntax"), [("cii", Syntax.CII), ("ubl", Syntax.UBL)])
async def test_an_invoice_renders_as_a_conformant_xml_document(
    http: httpx.AsyncClient, auth: dict[str, str], fmt: str, syntax: Syntax
) -> None:
    invoice_id = await submit(http, auth, invoice_number="FA-2026-0100")
    response = await document(http, auth, invoice_id, format=fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml"
    assert response.headers["content-disposition"] == 'attachment; filename="FA-2026-0100.xml"'
    assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert b"FA-2026-0100" in response.content
    report = check(response.content, syntax)
    assert report.ok, report.fatal
    # Rendering is deterministic: the same stored invoice gives the same bytes.
    again = await document(http, auth, invoice_id, format=fmt)
    assert again.content == response.content


async def test_a_pdf_invoice_renders_as_a_conformant_factur_x_of_its_pdf(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    invoice_id = await submit(http, auth, pdf=blank_pdf(), invoice_number="FX-2026-0100")
    response = await document(http, auth, invoice_id, format="facturx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="FX-2026-0100.pdf"'
    report = check(response.content, Syntax.FACTURX)
    assert report.ok, report.fatal
    embedded = read_facturx_xml(response.content)
    assert embedded is not None
    assert b"FX-2026-0100" in embedded


async def test_factur_x_needs_the_invoices_pdf(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    invoice_id = await submit(http, auth)
    body = problem(await document(http, auth, invoice_id, format="facturx"), 409, "PDF_REQUIRED")
    assert "cii" in body["detail"]


async def test_a_pdf_invoice_without_lines_cannot_be_written_as_en_16931(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    payload = invoice_payload()
    payload.pop("lines")
    response = await http.post(
        "/v1/invoices",
        data={"invoice": json.dumps(payload)},
        files={"file": ("facture.pdf", blank_pdf(), "application/pdf")},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    invoice_id = response.json()["id"]
    body = problem(
        await document(http, auth, invoice_id, format="ubl"), 409, "DOCUMENT_NOT_RENDERABLE"
    )
    assert [e["field"] for e in body["errors"]] == ["lines"]
    # Not sent yet: its PDF is not a deposited document until Chorus has it.
    problem(await document(http, auth, invoice_id), 404, "DOCUMENT_NOT_FOUND")


async def test_a_pdf_channel_invoice_once_in_chorus_serves_the_erps_pdf(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    pdf = blank_pdf(pages=2)
    invoice_id = await submit(http, auth, pdf=pdf, payload=pdf_only_invoice())
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Invoice)
            .where(Invoice.id == invoice_id)
            .values(status="submitted", chorus_invoice_id=7)
        )
    served = await document(http, auth, invoice_id)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "application/pdf"
    assert served.content == pdf
    assert served.headers["etag"] == f'"{hashlib.sha256(pdf).hexdigest()}"'


async def test_an_unchanged_document_answers_304_to_its_etag(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    invoice_id = await submit(http, auth)
    first = await document(http, auth, invoice_id, format="cii")
    etag = first.headers["etag"]
    cached = await http.get(
        f"/v1/invoices/{invoice_id}/document?format=cii",
        headers={**auth, "If-None-Match": f'W/"other", {etag}'},
    )
    assert cached.status_code == 304
    assert cached.headers["etag"] == etag
    assert cached.content == b""
    stale = await http.get(
        f"/v1/invoices/{invoice_id}/document?format=cii",
        headers={**auth, "If-None-Match": '"stale"'},
    )
    assert stale.status_code == 200
    assert stale.content == first.content


async def test_another_clients_invoice_is_404_in_every_form(
    http: httpx.AsyncClient, auth: dict[str, str], make_key: KeyFactory
) -> None:
    theirs = await make_key(suppliers=(OTHER_SUPPLIER_SIRET,))
    invoice_id = await submit(http, auth)
    for params in ({}, {"format": "cii"}, {"format": "ubl"}):
        body = problem(await document(http, theirs, invoice_id, **params), 404, "NOT_FOUND")
        assert invoice_id in body["detail"]


async def test_an_unknown_invoice_is_404(http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    problem(
        await document(http, auth, "inv_01KB4Z7X2V3M6Q8R9S0T1V2W3X", format="cii"),
        404,
        "NOT_FOUND",
    )


async def test_a_bad_format_is_422_listing_the_allowed_ones(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    invoice_id = await submit(http, auth)
    body = problem(await document(http, auth, invoice_id, format="pdf"), 422, "REQUEST_INVALID")
    [error] = body["errors"]
    assert error["field"] == "format"
    assert all(name in error["message"] for name in ("'cii'", "'ubl'", "'facturx'"))


async def test_a_reader_without_the_read_scope_is_refused(
    http: httpx.AsyncClient, auth: dict[str, str], make_key: KeyFactory
) -> None:
    writer_only = await make_key(scopes=(Scope.INVOICES_WRITE,))
    invoice_id = await submit(http, auth)
    problem(await document(http, writer_only, invoice_id, format="cii"), 403, "FORBIDDEN")
