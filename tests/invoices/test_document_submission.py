"""An ERP's own UBL, CII or Factur-X as the invoice: conformance first, then the JSON rules,
the original bytes kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.formats import conformance
from app.invoices.models import Invoice, InvoiceDocument
from app.settings import Settings
from tests.formats.documents import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    cii,
    credit_note_payload,
    facturx,
    full_payload,
    pdf_with_invoice_xml,
    ubl,
)
from tests.formats.pdfs import facturx_by_the_library
from tests.support.gateway import gateway_client

pytestmark = pytest.mark.usefixtures("registered_suppliers")

AGREEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
)


@pytest.fixture(autouse=True, scope="module")
def no_pool_left() -> Iterator[None]:
    yield
    conformance.shutdown()


async def post(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    content: bytes,
    content_type: str,
    path: str = "/v1/invoices",
    **headers: str,
) -> httpx.Response:
    return await http.post(
        path, content=content, headers={**auth, "Content-Type": content_type, **headers}
    )


async def count(sessionmaker: async_sessionmaker[AsyncSession], table: type[Any]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def stored_document(
    sessionmaker: async_sessionmaker[AsyncSession], invoice_id: str
) -> tuple[Invoice, InvoiceDocument]:
    async with sessionmaker() as session:
        invoice = await session.get(Invoice, invoice_id)
        document = await session.get(InvoiceDocument, invoice_id)
    assert invoice is not None
    assert document is not None
    return invoice, document


def errors(response: httpx.Response, code: str = "INVOICE_INVALID") -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == code
    found: list[dict[str, Any]] = body["errors"]
    return found


@pytest.mark.parametrize(
    ("make", "content_type", "channel", "syntax", "kind"),
    [
        (lambda: ubl(full_payload()), "application/xml", "ubl", "IN_DP_E1_UBL_INVOICE", "invoice"),
        (
            lambda: ubl(credit_note_payload(due_date=None)),
            "application/xml",
            "ubl",
            "IN_DP_E1_UBL_INVOICE",
            "credit_note",
        ),
        (lambda: cii(full_payload()), "text/xml", "cii", "IN_DP_E1_CII_16B", "invoice"),
        (
            lambda: facturx(full_payload()),
            "application/pdf",
            "facturx",
            "IN_DP_E2_CII_FACTURX",
            "invoice",
        ),
    ],
    ids=["ubl_invoice", "ubl_credit_note", "cii", "facturx"],
)
async def test_each_document_kind_is_accepted_and_kept_byte_for_byte(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    make: Any,
    content_type: str,
    channel: str,
    syntax: str,
    kind: str,
) -> None:
    original: bytes = make()

    response = await post(http, auth, original, content_type)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["type"] == kind
    assert created["chorus"]["syntax"] == syntax
    assert created["buyer"]["service_code"] == "SFACETAT"
    assert created["warnings"] == []
    invoice, document = await stored_document(sessionmaker, created["id"])
    assert invoice.chorus_channel == channel
    assert document.content == original
    assert document.received_syntax == channel
    served = await http.get(f"/v1/invoices/{created['id']}/document", headers=auth)
    assert served.status_code == 200, served.text
    assert served.content == original
    assert served.headers["etag"] == f'"{hashlib.sha256(original).hexdigest()}"'


async def test_an_invoice_part_completes_a_document_without_se(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    original = cii(full_payload()).replace(
        b"<ram:BuyerReference>SFACETAT</ram:BuyerReference>", b""
    )

    response = await http.post(
        "/v1/invoices",
        files={"file": ("facture.xml", original, "application/xml")},
        data={"invoice": json.dumps({"buyer": {"service_code": "sfacetat "}})},
        headers=auth,
    )

    assert response.status_code == 201, response.text
    assert response.json()["buyer"]["service_code"] == "SFACETAT"
    _, document = await stored_document(sessionmaker, response.json()["id"])
    assert document.content == original  # kept as received
    assert document.received_syntax is None  # but Chorus gets it written with the SE


async def test_a_document_alone_in_a_multipart_body_is_accepted(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await http.post(
        "/v1/invoices",
        files={"file": ("facture.pdf", facturx(full_payload()), "application/pdf")},
        headers=auth,
    )

    assert response.status_code == 201, response.text
    assert response.json()["chorus"]["syntax"] == "IN_DP_E2_CII_FACTURX"


async def test_a_missing_se_names_the_field_and_where_the_document_should_carry_it(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    original = cii(full_payload()).replace(
        b"<ram:BuyerReference>SFACETAT</ram:BuyerReference>", b""
    )

    found = errors(await post(http, auth, original, "application/xml"))

    assert [(e["field"], e["code"], e["location"]) for e in found] == [
        ("buyer.service_code", "SE_REQUIRED", f"{AGREEMENT}/ram:BuyerReference")
    ]
    assert await count(sessionmaker, Invoice) == 0


async def test_a_wrong_siret_checksum_and_a_line_not_adding_up_are_located(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    original = (
        ubl(full_payload())
        .replace(b">11000201100044<", b">11000201100045<")
        .replace(
            b'<cbc:PriceAmount currencyID="EUR">100.00</cbc:PriceAmount>',
            b'<cbc:PriceAmount currencyID="EUR">99.00</cbc:PriceAmount>',
        )
    )

    found = errors(await post(http, auth, original, "application/xml"))

    located = {(e["code"], e["field"]): e["location"] for e in found}
    assert located["SIRET_INVALID", "buyer.siret"].startswith(
        "/inv:Invoice/cac:AccountingCustomerParty/cac:Party/"
    )
    assert located["TOTALS_MISMATCH", "lines.0"] == (
        "/inv:Invoice/cac:InvoiceLine[1]/cbc:LineExtensionAmount"
    )


async def test_a_schematron_violation_is_format_invalid_with_each_rule(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    original = ubl(full_payload()).replace(
        b"255.83</cbc:TaxInclusiveAmount>", b"255.84</cbc:TaxInclusiveAmount>"
    )

    found = errors(await post(http, auth, original, "application/xml"), "FORMAT_INVALID")

    rule = next(e for e in found if e["rule_id"] == "BR-CO-15")
    assert (rule["code"], rule["severity"]) == ("FORMAT_INVALID", "fatal")
    assert rule["location"]
    assert rule["message"]
    assert await count(sessionmaker, Invoice) == 0


@pytest.mark.parametrize(
    ("document", "content_type", "code"),
    [
        (BILLION_LAUGHS, "application/xml", "XML_DTD_REFUSED"),
        (EXTERNAL_ENTITY, "text/xml", "XML_DTD_REFUSED"),
        (b"<not-closed>", "application/xml", "XML_INVALID"),
        (b'<Order xmlns="urn:x"/>', "application/xml", "DOCUMENT_NOT_SUPPORTED"),
        (pdf_with_invoice_xml(b"\x00 not xml"), "application/pdf", "XML_INVALID"),
        (pdf_with_invoice_xml(BILLION_LAUGHS), "application/pdf", "XML_DTD_REFUSED"),
    ],
    ids=["billion_laughs", "external_entity", "not_xml", "not_an_invoice", "pdf_junk", "pdf_dtd"],
)
async def test_hostile_or_unreadable_documents_are_refused_and_nothing_is_stored(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    document: bytes,
    content_type: str,
    code: str,
) -> None:
    found = errors(await post(http, auth, document, content_type))

    assert [(e["field"], e["code"]) for e in found] == [("body", code)]
    assert "root:" not in found[0]["message"]
    assert await count(sessionmaker, Invoice) == 0


async def test_a_minimum_factur_x_is_refused_with_its_own_code(
    http: httpx.AsyncClient, auth: dict[str, str], tmp_path: Path
) -> None:
    xml = cii(full_payload()).replace(b"urn:cen.eu:en16931:2017", b"urn:factur-x.eu:1p0:minimum")
    pdf = facturx_by_the_library(xml, "minimum", tmp_path)

    found = errors(await post(http, auth, pdf, "application/pdf"))

    assert [e["code"] for e in found] == ["FACTURX_PROFILE_REFUSED"]


async def test_validate_answers_the_report_and_stores_nothing(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await post(
        http, auth, ubl(full_payload()), "application/xml", "/v1/invoices/validate"
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["valid"] is True
    assert report["conformance"]["syntax"] == "ubl"
    assert report["conformance"]["as_deposited"] is True
    assert report["conformance"]["ok"] is True
    assert report["invoice"]["buyer"]["service_code"] == "SFACETAT"
    broken = ubl(full_payload()).replace(
        b"255.83</cbc:TaxInclusiveAmount>", b"255.84</cbc:TaxInclusiveAmount>"
    )
    refused = await post(http, auth, broken, "application/xml", "/v1/invoices/validate")
    assert refused.json()["code"] == "FORMAT_INVALID"
    assert await count(sessionmaker, Invoice) == 0
    assert await count(sessionmaker, InvoiceDocument) == 0


async def test_idempotency_and_the_natural_key_hold_for_documents(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    original = ubl(full_payload())
    first = await post(http, auth, original, "application/xml", **{"Idempotency-Key": "doc-1"})
    replay = await post(http, auth, original, "application/xml", **{"Idempotency-Key": "doc-1"})
    other = await post(
        http, auth, original + b"\n", "application/xml", **{"Idempotency-Key": "doc-1"}
    )
    duplicate = await post(http, auth, original, "application/xml")

    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert duplicate.status_code == 409
    assert duplicate.json()["existing_invoice_id"] == first.json()["id"]


async def test_an_invoice_part_that_changes_nothing_keeps_the_document_as_received(
    http: httpx.AsyncClient, auth: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    original = cii(full_payload())

    response = await http.post(
        "/v1/invoices",
        files={"file": ("facture.xml", original, "application/xml")},
        data={"invoice": json.dumps({"buyer": {"service_code": " sfacetat"}})},
        headers=auth,
    )

    assert response.status_code == 201, response.text
    _, document = await stored_document(sessionmaker, response.json()["id"])
    assert document.received_syntax == "cii"


async def test_attachments_cannot_be_added_beside_a_document_deposited_as_received(
    http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """Chorus reads only the ERP's document: an attachment stored beside it would never arrive."""
    created = await post(http, auth, ubl(full_payload()), "application/xml")
    assert created.status_code == 201, created.text

    added = await http.post(
        f"/v1/invoices/{created.json()['id']}/attachments",
        files=[("attachment", ("bon-de-livraison.pdf", b"%PDF-1.4 note", "application/pdf"))],
        headers=auth,
    )

    assert [(e["field"], e["code"]) for e in errors(added)] == [
        ("attachments", "ATTACHMENT_INVALID")
    ]


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml", "application/pdf"])
async def test_a_raw_document_body_gets_the_upload_limit_not_the_json_one(
    settings: Settings, auth: dict[str, str], content_type: str
) -> None:
    """A document sent as the whole body is a file like a multipart one: API_MAX_PDF_BYTES."""
    original = facturx(full_payload()) if content_type == "application/pdf" else cii(full_payload())
    async with gateway_client(settings, max_body_bytes=len(original) // 2) as client:
        response = await post(client, auth, original, content_type)
        json_body = await client.post(
            "/v1/invoices",
            content=b'{"note": "' + b"x" * len(original) + b'"}',
            headers={**auth, "Content-Type": "application/json"},
        )

    assert response.status_code == 201, response.text
    assert json_body.status_code == 413
