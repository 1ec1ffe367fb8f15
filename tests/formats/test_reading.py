"""Reading UBL, CII and Factur-X back into the canonical invoice, with where each field was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from app.domain.rules import ValidationPolicy, validate_invoice
from app.domain.violations import Code, Violation
from app.formats.conformance import Syntax
from app.formats.facturx import Level
from app.formats.reading import (
    ReadDocument,
    looks_like_pdf,
    read_facturx_document,
    read_xml_document,
)
from app.invoices.parsing import parse_invoice, to_draft
from app.invoices.schemas import InvoiceIn
from tests.builders import invoice_payload
from tests.formats.documents import (
    IBAN,
    cii,
    credit_note_payload,
    exempt_payload,
    facturx,
    full_payload,
    ubl,
)

LIMIT = 10 * 1024 * 1024
CII_AGREEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
)


def _read(kind: str, payload: dict[str, Any]) -> ReadDocument:
    if kind == "cii":
        return read_xml_document(cii(payload), max_bytes=LIMIT)
    if kind == "ubl":
        return read_xml_document(ubl(payload), max_bytes=LIMIT)
    return read_facturx_document(facturx(payload), max_xml_bytes=LIMIT)


def _normalized(document: dict[str, Any]) -> InvoiceIn:
    parsed = parse_invoice(document)
    assert parsed.violations == []
    assert parsed.invoice is not None
    return parsed.invoice


PAYLOADS: dict[str, Callable[[], dict[str, Any]]] = {
    "full_invoice": full_payload,
    "credit_note": credit_note_payload,
    "exempt": exempt_payload,
    "not_subject": lambda: exempt_payload(
        vat_regime="SANS_TVA",
        vat_exemption_reason="TVA non applicable, art. 293 B du CGI",
        # BR-O-2: a seller not subject to VAT shows no VAT number.
        supplier={**full_payload()["supplier"], "vat_number": None},
    ),
}


@pytest.mark.parametrize("kind", ["cii", "ubl", "facturx"])
@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_a_document_the_gateway_wrote_reads_back_to_the_same_canonical_invoice(
    kind: str, name: str
) -> None:
    payload = PAYLOADS[name]()
    if kind == "ubl" and payload["type"] == "credit_note":
        payload["due_date"] = None  # UBL 2.1's CreditNote puts BT-9 in the payment means

    read = _read(kind, payload)

    assert read.problems == ()
    assert _normalized(read.invoice) == _normalized(payload)


@pytest.mark.parametrize("kind", ["cii", "ubl", "facturx"])
def test_the_builders_plain_invoice_reads_back_with_the_writers_defaults_made_explicit(
    kind: str,
) -> None:
    payload = invoice_payload(
        supplier={"siret": "41234567010000", "name": "ACME", "address": {"country_code": "FR"}},
        buyer={
            "siret": "11000201100044",
            "service_code": "SFACETAT",
            "name": "Etat",
            "address": {"country_code": "FR"},
        },
    )

    read = _read(kind, payload)

    # The writers state what JSON leaves to defaults: a transfer (BT-81), the unit "one".
    expected = _normalized(payload).model_copy(
        update={
            "payment": _normalized({"payment": {"means": "VIREMENT"}}).payment,
            "lines": [
                line.model_copy(update={"unit_code": "C62"})
                for line in _normalized(payload).lines or []
            ],
        }
    )
    assert _normalized(read.invoice) == expected


def test_each_kind_is_recognised_with_its_syntax_and_media_type() -> None:
    assert _read("cii", full_payload()).syntax is Syntax.CII
    assert _read("ubl", full_payload()).syntax is Syntax.UBL
    assert _read("ubl", credit_note_payload()).invoice["type"] == "credit_note"
    facturx_read = _read("facturx", full_payload())
    assert facturx_read.syntax is Syntax.FACTURX
    assert facturx_read.level is Level.EN16931
    assert facturx_read.media_type == "application/pdf"
    assert facturx_read.xml.startswith(b"<?xml")
    assert looks_like_pdf(facturx(full_payload()))
    assert not looks_like_pdf(cii(full_payload()))


@pytest.mark.parametrize(
    ("kind", "field", "location"),
    [
        ("cii", "invoice_number", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID"),
        ("cii", "buyer.service_code", f"{CII_AGREEMENT}/ram:BuyerReference"),
        (
            "cii",
            "legal_commitment",
            f"{CII_AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
        ),
        (
            "cii",
            "supplier.siret",
            f"{CII_AGREEMENT}/ram:SellerTradeParty/ram:SpecifiedLegalOrganization"
            "/ram:ID[@schemeID='0009']",
        ),
        (
            "cii",
            "lines.1.quantity",
            "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
            "/ram:IncludedSupplyChainTradeLineItem[2]/ram:SpecifiedLineTradeDelivery"
            "/ram:BilledQuantity",
        ),
        ("ubl", "invoice_number", "/inv:Invoice/cbc:ID"),
        ("ubl", "buyer.service_code", "/inv:Invoice/cbc:BuyerReference"),
        ("ubl", "legal_commitment", "/inv:Invoice/cac:OrderReference/cbc:ID"),
        (
            "ubl",
            "buyer.siret",
            "/inv:Invoice/cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity"
            "/cbc:CompanyID[@schemeID='0009']",
        ),
        ("ubl", "payment.iban", "/inv:Invoice/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"),
        ("ubl", "totals.gross", "/inv:Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
        ("ubl", "lines.0.unit_price", "/inv:Invoice/cac:InvoiceLine[1]/cac:Price/cbc:PriceAmount"),
    ],
)
def test_each_field_keeps_the_xpath_it_was_read_at(kind: str, field: str, location: str) -> None:
    read = _read(kind, full_payload())

    assert read.locations[field] == location
    [located] = read.locate([Violation(field, Code.FIELD_INVALID, "x")])
    assert located.location == location


def _rules(read: ReadDocument) -> list[Violation]:
    parsed = parse_invoice(read.invoice)
    assert parsed.invoice is not None
    policy = ValidationPolicy(
        today=date(2026, 11, 20), already_reported=frozenset(v.field for v in parsed.violations)
    )
    return read.locate([*parsed.violations, *validate_invoice(to_draft(parsed.invoice), policy)])


def test_a_missing_se_is_reported_where_the_cii_should_carry_it() -> None:
    document = cii(full_payload()).replace(
        b"<ram:BuyerReference>SFACETAT</ram:BuyerReference>", b""
    )

    errors = _rules(read_xml_document(document, max_bytes=LIMIT))

    assert [(e.field, e.code, e.location) for e in errors] == [
        ("buyer.service_code", Code.SE_REQUIRED, f"{CII_AGREEMENT}/ram:BuyerReference")
    ]


def test_a_wrong_siret_checksum_and_wrong_totals_name_the_field_and_the_ubl_location() -> None:
    document = (
        ubl(full_payload())
        .replace(b"41234567010000", b"41234567010001")
        .replace(b"255.83</cbc:TaxInclusiveAmount>", b"255.84</cbc:TaxInclusiveAmount>")
    )

    errors = _rules(read_xml_document(document, max_bytes=LIMIT))

    by_code = {e.code: e for e in errors}
    assert by_code[Code.SIRET_INVALID].field == "supplier.siret"
    assert by_code[Code.SIRET_INVALID].location == (
        "/inv:Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity"
        "/cbc:CompanyID[@schemeID='0009']"
    )
    assert by_code[Code.TOTALS_MISMATCH].field == "totals.gross"
    assert by_code[Code.TOTALS_MISMATCH].location == (
        "/inv:Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"
    )


def test_a_line_whose_net_is_not_quantity_times_price_is_reported_at_its_net_amount() -> None:
    document = ubl(full_payload()).replace(
        b'<cbc:LineExtensionAmount currencyID="EUR">200.00</cbc:LineExtensionAmount>',
        b'<cbc:LineExtensionAmount currencyID="EUR">190.00</cbc:LineExtensionAmount>',
    )

    read = read_xml_document(document, max_bytes=LIMIT)

    assert [(p.field, p.code, p.location) for p in read.problems] == [
        (
            "lines.0",
            Code.TOTALS_MISMATCH,
            "/inv:Invoice/cac:InvoiceLine[1]/cbc:LineExtensionAmount",
        )
    ]


def test_document_level_allowances_are_refused_where_they_are() -> None:
    document = ubl(full_payload()).replace(
        b"<cac:TaxTotal>",
        b"<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>"
        b'<cbc:Amount currencyID="EUR">5.00</cbc:Amount></cac:AllowanceCharge><cac:TaxTotal>',
    )

    read = read_xml_document(document, max_bytes=LIMIT)

    assert [(p.field, p.code, p.location) for p in read.problems] == [
        ("totals", Code.FIELD_INVALID, "/inv:Invoice/cac:AllowanceCharge")
    ]


def test_a_document_type_other_than_invoice_or_credit_note_is_reported_at_its_code() -> None:
    document = cii(full_payload()).replace(
        b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:TypeCode>389</ram:TypeCode>"
    )

    read = read_xml_document(document, max_bytes=LIMIT)

    assert [(p.field, p.location) for p in read.problems] == [
        ("type", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode")
    ]


def test_an_impossible_date_is_left_to_the_canonical_rules_at_its_location() -> None:
    document = cii(full_payload()).replace(b">20261120<", b">20261320<", 1)

    errors = _rules(read_xml_document(document, max_bytes=LIMIT))

    assert [(e.field, e.code) for e in errors] == [("issue_date", Code.FIELD_INVALID)]
    assert errors[0].location is not None
    assert errors[0].location.endswith("ram:IssueDateTime/udt:DateTimeString")


def test_a_price_per_base_quantity_is_read_per_unit() -> None:
    document = ubl(full_payload()).replace(
        b'<cbc:PriceAmount currencyID="EUR">100.00</cbc:PriceAmount>',
        b'<cbc:PriceAmount currencyID="EUR">1000.00</cbc:PriceAmount>'
        b'<cbc:BaseQuantity unitCode="C62">10</cbc:BaseQuantity>',
    )

    read = read_xml_document(document, max_bytes=LIMIT)

    assert read.problems == ()
    assert read.invoice["lines"][0]["unit_price"] == "100"


def test_an_invoice_part_overrides_and_completes_the_document_and_drops_its_locations() -> None:
    document = cii(full_payload()).replace(
        b"<ram:BuyerReference>SFACETAT</ram:BuyerReference>", b""
    )
    read = read_xml_document(document, max_bytes=LIMIT)

    merged = read.with_overrides({"buyer": {"service_code": "SE_ERP"}, "note": "Par l'ERP"})

    assert merged.invoice["buyer"]["service_code"] == "SE_ERP"
    assert merged.invoice["buyer"]["siret"] == "11000201100044"  # kept from the document
    assert merged.invoice["note"] == "Par l'ERP"
    assert merged.invoice["payment"]["iban"] == IBAN
    [se, number] = merged.locate(
        [
            Violation("buyer.service_code", Code.SE_INVALID, "x"),
            Violation("invoice_number", Code.INVOICE_NUMBER_INVALID, "x"),
        ]
    )
    assert se.location is None  # the value came from the JSON part, not the document
    assert number.location == "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID"
    assert read.invoice["buyer"].get("service_code") is None  # the read itself is unchanged
