"""CII D16B: every corpus scenario passes the real XSD and EN 16931 schematron and reads back."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree

from app.domain.invoice import PAYMENT_MEANS, Line, Payment, compute_totals
from app.formats.cii import write_cii
from app.formats.conformance import Syntax, check
from tests.formats.corpus import IBAN, SCENARIOS, STATE_SIRET, SUPPLIER_SIRET, Scenario, scenario

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
AGREEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
)
SETTLEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
)
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def _read(document: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(document, parser=parser)


def _text(root: etree._Element, path: str) -> str | None:
    found = root.xpath(f"string({path})", namespaces=NS)
    return str(found) or None


def _all(root: etree._Element, path: str) -> list[str]:
    return [str(value) for value in root.xpath(path, namespaces=NS)]  # type: ignore[union-attr]


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda case: case.name)
def test_every_scenario_passes_the_xsd_and_the_en16931_schematron(case: Scenario) -> None:
    report = check(write_cii(case.document()), Syntax.CII)

    # CII-SR-476 counts BG-24 attachments over the whole header agreement, though EN 16931 lets
    # each supporting document carry one: a warning, not fatal, with two or more attachments.
    several = len(case.additional_documents) > 1
    assert [f.rule_id for f in report.findings] == (["CII-SR-476"] if several else [])
    assert report.ok


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda case: case.name)
def test_every_scenario_reads_back_to_the_same_totals_and_references(case: Scenario) -> None:
    invoice = case.document()
    root = _read(write_cii(invoice))

    assert _text(root, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID") == invoice.number
    assert _text(root, f"{SUMMATION}/ram:LineTotalAmount") == f"{invoice.totals.line_total:.2f}"
    assert (
        _text(root, f"{SUMMATION}/ram:TaxBasisTotalAmount") == f"{invoice.totals.tax_exclusive:.2f}"
    )
    assert _text(root, f"{SUMMATION}/ram:TaxTotalAmount") == f"{invoice.totals.tax_total:.2f}"
    assert _text(root, f"{SUMMATION}/ram:GrandTotalAmount") == f"{invoice.totals.tax_inclusive:.2f}"
    assert _text(root, f"{SUMMATION}/ram:DuePayableAmount") == f"{invoice.totals.payable:.2f}"
    # The lines add up to what the header says, read from the document alone.
    line_nets = _all(
        root, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount/text()"
    )
    assert len(line_nets) == len(case.draft.lines)
    assert sum(Decimal(net) for net in line_nets) == case.draft.totals.net  # type: ignore[union-attr]
    assert _text(root, f"{SUMMATION}/ram:GrandTotalAmount") == f"{case.draft.totals.gross:.2f}"  # type: ignore[union-attr]
    assert _text(root, f"{AGREEMENT}/ram:BuyerReference") == case.draft.buyer.service_code
    assert (
        _text(root, f"{AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID")
        == case.draft.legal_commitment
    )
    assert (
        _text(
            root,
            f"{AGREEMENT}/ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0009']",
        )
        == STATE_SIRET
    )
    assert (
        _text(
            root,
            "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
        )
        == case.draft.framework
    )


def test_a_french_seller_is_identified_by_its_siret_and_vat_number() -> None:
    root = _read(write_cii(scenario("single_rate").document()))
    seller = f"{AGREEMENT}/ram:SellerTradeParty"

    assert _text(root, f"{seller}/ram:GlobalID[@schemeID='0009']") == SUPPLIER_SIRET
    assert (
        _text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0009']")
        == SUPPLIER_SIRET
    )
    assert (
        _text(root, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
        == "FR96412345670"
    )
    assert _text(root, f"{seller}/ram:PostalTradeAddress/ram:CountryID") == "FR"


def test_a_foreign_seller_carries_its_identifier_with_the_scheme_of_its_chorus_type() -> None:
    root = _read(write_cii(scenario("foreign_supplier").document()))
    seller = f"{AGREEMENT}/ram:SellerTradeParty"

    assert _text(root, f"{seller}/ram:GlobalID[@schemeID='0223']") == "DE123456789"
    assert (
        _text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0223']")
        == "DE123456789"
    )
    assert (
        _text(root, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
        == "DE123456789"
    )


def test_a_seller_identifier_without_icd_scheme_is_a_plain_id() -> None:
    case = replace(scenario("foreign_supplier"), seller_identifier_type="AUTRE")
    root = _read(write_cii(case.document()))
    seller = f"{AGREEMENT}/ram:SellerTradeParty"

    assert _text(root, f"{seller}/ram:ID") == "DE123456789"
    assert _all(root, f"{seller}/ram:GlobalID") == []
    assert check(etree.tostring(root), Syntax.CII).findings == ()
    assert _text(root, f"{seller}/ram:PostalTradeAddress/ram:CountryID") == "DE"


def test_a_credit_note_references_its_invoice_and_carries_no_payment_means() -> None:
    root = _read(write_cii(scenario("credit_note").document()))

    assert _text(root, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert (
        _text(root, f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID")
        == "F2026-000101"
    )
    assert (
        _text(
            root,
            f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString",
        )
        == "20261120"
    )
    assert _all(root, f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans") == []


def test_an_iban_transfer_carries_the_account_and_the_bank() -> None:
    root = _read(write_cii(scenario("iban_transfer").document()))
    means = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"

    assert _text(root, f"{means}/ram:TypeCode") == "30"
    assert _text(root, f"{means}/ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == IBAN
    assert (
        _text(root, f"{means}/ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID")
        == "AGRIFRPPXXX"
    )
    assert _text(root, f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:Description") == (
        "Paiement a 30 jours par virement."
    )


def test_the_vat_breakdown_has_one_entry_per_category_and_rate_with_the_exemption_reason() -> None:
    root = _read(write_cii(scenario("exempt_line").document()))
    taxes = root.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)

    rows = [
        (
            _text(tax, "ram:CategoryCode"),
            _text(tax, "ram:RateApplicablePercent"),
            _text(tax, "ram:ExemptionReason"),
        )
        for tax in taxes  # type: ignore[union-attr]
    ]
    assert rows == [
        ("E", "0", "Exoneration de TVA, article 261-4-4 a du CGI"),
        ("S", "20", None),
    ]


def test_line_unit_codes_keep_rec20_codes_and_default_to_c62() -> None:
    root = _read(write_cii(scenario("multi_rate").document()))

    assert _all(root, "//ram:BilledQuantity/@unitCode") == ["C62", "HUR", "C62", "H87", "KGM"]


def test_the_header_delivery_states_the_delivery_date() -> None:
    root = _read(write_cii(scenario("single_rate").document()))

    assert _all(root, "//ram:ApplicableHeaderTradeDelivery//udt:DateTimeString/text()") == [
        "20261120"
    ]


def test_the_document_is_utf8_with_a_declaration_and_keeps_long_descriptions_whole() -> None:
    case = scenario("long_descriptions")
    document = write_cii(case.document())

    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    names = _all(_read(document), "//ram:SpecifiedTradeProduct/ram:Name/text()")
    assert [len(name) for name in names] == [500, 500]
    assert names[0] == case.draft.lines[0].description


@pytest.mark.parametrize("means", PAYMENT_MEANS)
def test_every_chorus_payment_means_gives_a_conformant_document_without_an_iban(
    means: str,
) -> None:
    case = scenario("single_rate")
    case = replace(case, draft=replace(case.draft, payment=Payment(means=means)))

    assert check(write_cii(case.document()), Syntax.CII).findings == ()


def test_a_discount_line_with_a_negative_quantity_is_conformant() -> None:
    case = scenario("single_rate")
    lines = (*case.draft.lines, Line("Remise fidelite", Decimal(-1), Decimal("15.50"), Decimal(20)))
    case = replace(case, draft=replace(case.draft, lines=lines, totals=compute_totals(lines)))
    root = _read(write_cii(case.document()))

    assert check(etree.tostring(root), Syntax.CII).findings == ()
    assert _text(root, f"{SUMMATION}/ram:GrandTotalAmount") == "221.40"


def test_a_zero_rate_without_reason_is_zero_rated_and_conformant() -> None:
    case = scenario("exempt_line")
    case = replace(case, draft=replace(case.draft, vat_exemption_reason=None))
    root = _read(write_cii(case.document()))

    assert check(etree.tostring(root), Syntax.CII).findings == ()
    assert _all(root, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CategoryCode/text()") == ["S", "Z"]
