"""The UBL writer against the official UBL 2.1 XSD and CEN's EN 16931 UBL schematron."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from app.formats.conformance import XSD_RULE, Syntax, check, check_xsd
from app.formats.model import (
    Address,
    DocumentLine,
    DocumentTotals,
    DocumentType,
    EN16931Invoice,
    Party,
    PaymentInstructions,
    PrecedingInvoice,
    VatCategory,
    VatSubtotal,
)
from app.formats.ubl import CAC_NS, CBC_NS, UBL_CREDIT_NOTE_NS, UBL_INVOICE_NS, write_ubl
from tests.formats.corpus import SCENARIOS, Scenario

NS = {"cac": CAC_NS, "cbc": CBC_NS, "inv": UBL_INVOICE_NS, "cn": UBL_CREDIT_NOTE_NS}
SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)

SELLER = Party(
    name="ACME FOURNITURES SAS",
    address=Address(
        country_code="FR", line1="12 rue des Fournisseurs", postal_code="69002", city="Lyon"
    ),
    siret="41234567010000",
    vat_number="FR32412345670",
)
BUYER = Party(
    name="Etat",
    address=Address(country_code="FR", line1="139 rue de Bercy", postal_code="75012", city="Paris"),
    siret="11000201100044",
)


def _invoice(**overrides: object) -> EN16931Invoice:
    """Two lines, standard rate and exempt (VATEX), paid by transfer to an IBAN."""
    invoice = EN16931Invoice(
        number="F2026-000001",
        type=DocumentType.INVOICE,
        issue_date=date(2026, 11, 20),
        currency="EUR",
        seller=SELLER,
        buyer=BUYER,
        lines=(
            DocumentLine(
                line_id="1",
                name="Ramettes de papier",
                quantity=Decimal("2"),
                unit_code="C62",
                net_price=Decimal("100.00"),
                net_amount=Decimal("200.00"),
                vat_category=VatCategory.STANDARD,
                vat_rate=Decimal("20"),
                seller_item_id="RAM-A4",
            ),
            DocumentLine(
                line_id="2",
                name="Formation professionnelle",
                quantity=Decimal("1.5"),
                unit_code="DAY",
                net_price=Decimal("500.00"),
                net_amount=Decimal("750.00"),
                vat_category=VatCategory.EXEMPT,
                vat_rate=Decimal("0"),
            ),
        ),
        vat_breakdown=(
            VatSubtotal(VatCategory.STANDARD, Decimal("20"), Decimal("200.00"), Decimal("40.00")),
            VatSubtotal(
                VatCategory.EXEMPT,
                Decimal("0"),
                Decimal("750.00"),
                Decimal("0.00"),
                exemption_reason="Exoneration, article 261-4-4 a du CGI",
                exemption_reason_code="VATEX-FR-CGI261-4",
            ),
        ),
        totals=DocumentTotals(
            line_total=Decimal("950.00"),
            tax_exclusive=Decimal("950.00"),
            tax_total=Decimal("40.00"),
            tax_inclusive=Decimal("990.00"),
            payable=Decimal("990.00"),
        ),
        due_date=date(2026, 12, 20),
        buyer_reference="SFACETAT",
        order_reference="1234567890",
        contract_reference="MARCHE-2026-42",
        business_process="A1",
        delivery_date=date(2026, 11, 18),
        note="Merci de rappeler le numero de facture.",
        payment=PaymentInstructions(
            means_code="30",
            iban="FR7630006000011234567890189",
            bic="AGRIFRPPXXX",
            terms="Paiement a 30 jours.",
        ),
    )
    return replace(invoice, **overrides)  # type: ignore[arg-type]


def _credit_note() -> EN16931Invoice:
    return _invoice(
        number="AV2026-000001",
        type=DocumentType.CREDIT_NOTE,
        preceding_invoice=PrecedingInvoice("F2026-000001", date(2026, 11, 20)),
    )


def _foreign_seller() -> EN16931Invoice:
    seller = Party(
        name="Muster Beratung GmbH",
        address=Address(
            country_code="DE", line1="Musterstrasse 5", postal_code="10115", city="Berlin"
        ),
        vat_number="DE123456789",
        identifier="DE123456789",
        identifier_scheme="0223",
    )
    return _invoice(
        seller=seller, payment=PaymentInstructions(means_code="31", iban="DE89370400440532013000")
    )


OWN_DOCUMENTS: dict[str, Callable[[], EN16931Invoice]] = {
    "invoice": _invoice,
    "credit_note": _credit_note,
    "foreign_seller": _foreign_seller,
    "no_payment_no_optional_references": lambda: _invoice(
        payment=None,
        contract_reference=None,
        business_process=None,
        note=None,
        delivery_date=None,
    ),
}


def _xpath(document: bytes, path: str) -> list[str]:
    found = etree.fromstring(document, SAFE_PARSER).xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [str(value) for value in found]


def _one(document: bytes, path: str) -> str:
    (value,) = _xpath(document, path)
    return value


@pytest.mark.parametrize("name", sorted(OWN_DOCUMENTS))
def test_documents_pass_the_ubl_xsd_and_the_en16931_schematron(name: str) -> None:
    report = check(write_ubl(OWN_DOCUMENTS[name]()), Syntax.UBL)

    assert report.fatal == (), report.fatal


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_every_corpus_scenario_passes_the_xsd_and_the_schematron(scenario: Scenario) -> None:
    document = write_ubl(scenario.document())

    report = check(document, Syntax.UBL)

    assert report.fatal == (), report.fatal


def test_an_invoice_is_a_ubl_invoice_with_type_380_and_invoice_lines() -> None:
    document = write_ubl(_invoice())

    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert etree.fromstring(document, SAFE_PARSER).tag == f"{{{UBL_INVOICE_NS}}}Invoice"
    assert _one(document, "/inv:Invoice/cbc:CustomizationID/text()") == "urn:cen.eu:en16931:2017"
    assert _one(document, "/inv:Invoice/cbc:ProfileID/text()") == "A1"
    assert _one(document, "/inv:Invoice/cbc:InvoiceTypeCode/text()") == "380"
    assert _one(document, "/inv:Invoice/cbc:DueDate/text()") == "2026-12-20"
    assert _xpath(document, "//cac:InvoiceLine/cbc:InvoicedQuantity/@unitCode") == ["C62", "DAY"]
    assert _xpath(document, "//cac:CreditNoteLine") == []


def test_a_credit_note_is_a_ubl_credit_note_citing_the_invoice_it_corrects() -> None:
    document = write_ubl(_credit_note())

    assert etree.fromstring(document, SAFE_PARSER).tag == f"{{{UBL_CREDIT_NOTE_NS}}}CreditNote"
    assert _one(document, "/cn:CreditNote/cbc:CreditNoteTypeCode/text()") == "381"
    reference = "/cn:CreditNote/cac:BillingReference/cac:InvoiceDocumentReference"
    assert _one(document, f"{reference}/cbc:ID/text()") == "F2026-000001"
    assert _one(document, f"{reference}/cbc:IssueDate/text()") == "2026-11-20"
    # UBL 2.1's CreditNote has no cbc:DueDate: BT-9 moves into the payment means.
    assert _xpath(document, "/cn:CreditNote/cbc:DueDate") == []
    assert _one(document, "//cac:PaymentMeans/cbc:PaymentDueDate/text()") == "2026-12-20"
    assert _xpath(document, "//cac:CreditNoteLine/cbc:CreditedQuantity/text()") == ["2", "1.5"]
    assert _xpath(document, "//cac:InvoiceLine") == []


def test_the_document_reads_back_to_the_same_chorus_facts_and_totals() -> None:
    document = write_ubl(_invoice())

    assert _one(document, "/inv:Invoice/cbc:ID/text()") == "F2026-000001"
    assert _one(document, "/inv:Invoice/cbc:BuyerReference/text()") == "SFACETAT"
    assert _one(document, "/inv:Invoice/cac:OrderReference/cbc:ID/text()") == "1234567890"
    assert _one(document, "//cac:ContractDocumentReference/cbc:ID/text()") == "MARCHE-2026-42"
    seller = "//cac:AccountingSupplierParty/cac:Party"
    seller_ids = f"{seller}/cac:PartyIdentification/cbc:ID[@schemeID='0009']"
    seller_legal = f"{seller}/cac:PartyLegalEntity/cbc:CompanyID[@schemeID='0009']"
    assert _one(document, f"{seller_ids}/text()") == "41234567010000"
    assert _one(document, f"{seller_legal}/text()") == "41234567010000"
    assert _one(document, f"{seller}/cac:PartyTaxScheme/cbc:CompanyID/text()") == "FR32412345670"
    buyer_legal = "//cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID"
    assert _one(document, f"{buyer_legal}[@schemeID='0009']/text()") == "11000201100044"
    assert _one(document, "//cac:PaymentMeans/cbc:PaymentMeansCode/text()") == "30"
    account = "//cac:PaymentMeans/cac:PayeeFinancialAccount"
    assert _one(document, f"{account}/cbc:ID/text()") == "FR7630006000011234567890189"
    assert (
        _one(document, f"{account}/cac:FinancialInstitutionBranch/cbc:ID/text()") == "AGRIFRPPXXX"
    )
    assert _one(document, "//cac:PaymentTerms/cbc:Note/text()") == "Paiement a 30 jours."
    assert _one(document, "/inv:Invoice/cac:Delivery/cbc:ActualDeliveryDate/text()") == "2026-11-18"
    totals = _totals(document)
    assert totals == {
        "LineExtensionAmount": Decimal("950.00"),
        "TaxExclusiveAmount": Decimal("950.00"),
        "TaxInclusiveAmount": Decimal("990.00"),
        "PayableAmount": Decimal("990.00"),
        "TaxAmount": Decimal("40.00"),
    }
    exempt = "//cac:TaxSubtotal/cac:TaxCategory[cbc:ID='E']"
    assert _one(document, f"{exempt}/cbc:TaxExemptionReasonCode/text()") == "VATEX-FR-CGI261-4"


def _totals(document: bytes) -> dict[str, Decimal]:
    totals = {
        name: Decimal(_one(document, f"/*/cac:LegalMonetaryTotal/cbc:{name}/text()"))
        for name in (
            "LineExtensionAmount",
            "TaxExclusiveAmount",
            "TaxInclusiveAmount",
            "PayableAmount",
        )
    }
    totals["TaxAmount"] = Decimal(_one(document, "/*/cac:TaxTotal/cbc:TaxAmount/text()"))
    return totals


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_every_corpus_scenario_reads_back_to_its_totals_and_chorus_facts(
    scenario: Scenario,
) -> None:
    invoice = scenario.document()
    document = write_ubl(invoice)

    assert _totals(document) == {
        "LineExtensionAmount": invoice.totals.line_total,
        "TaxExclusiveAmount": invoice.totals.tax_exclusive,
        "TaxInclusiveAmount": invoice.totals.tax_inclusive,
        "PayableAmount": invoice.totals.payable,
        "TaxAmount": invoice.totals.tax_total,
    }
    assert _xpath(document, "/*/cbc:BuyerReference/text()") == [scenario.draft.buyer.service_code]
    assert _xpath(document, "/*/cac:OrderReference/cbc:ID/text()") == [
        scenario.draft.legal_commitment
    ]
    buyer_id = "//cac:AccountingCustomerParty//cac:PartyLegalEntity/cbc:CompanyID[@schemeID='0009']"
    assert _xpath(document, f"{buyer_id}/text()") == [scenario.draft.buyer.siret]
    seller_id = "//cac:AccountingSupplierParty//cac:PartyIdentification/cbc:ID"
    expected_seller = scenario.draft.supplier.siret or scenario.seller_identifier
    assert _xpath(document, f"{seller_id}/text()") == [expected_seller]
    line_count = len(_xpath(document, "//cac:InvoiceLine | //cac:CreditNoteLine"))
    assert line_count == len(scenario.draft.lines)
    delivery = [invoice.delivery_date.isoformat()] if invoice.delivery_date else []
    assert _xpath(document, "/*/cac:Delivery/cbc:ActualDeliveryDate/text()") == delivery
    assert _breakdown(document) == [
        (vat.category.value, vat.taxable_amount, vat.tax_amount, vat.exemption_reason_code)
        for vat in invoice.vat_breakdown
    ]


def _breakdown(document: bytes) -> list[tuple[str, Decimal, Decimal, str | None]]:
    subtotals = etree.fromstring(document, SAFE_PARSER).iterfind(
        "cac:TaxTotal/cac:TaxSubtotal", namespaces=NS
    )
    return [
        (
            subtotal.findtext("cac:TaxCategory/cbc:ID", namespaces=NS) or "",
            Decimal(subtotal.findtext("cbc:TaxableAmount", namespaces=NS) or "NaN"),
            Decimal(subtotal.findtext("cbc:TaxAmount", namespaces=NS) or "NaN"),
            subtotal.findtext("cac:TaxCategory/cbc:TaxExemptionReasonCode", namespaces=NS),
        )
        for subtotal in subtotals
    ]


def test_markup_in_texts_is_escaped_and_reads_back_verbatim() -> None:
    name = 'R&D <Sud> "Atelier" l\'Ouest'
    document = write_ubl(_invoice(seller=replace(SELLER, name=name), note="a < b && c > d"))

    assert _one(document, "//cac:AccountingSupplierParty//cbc:RegistrationName/text()") == name
    assert _one(document, "/inv:Invoice/cbc:Note/text()") == "a < b && c > d"
    assert check(document, Syntax.UBL).fatal == ()


def test_a_foreign_seller_is_identified_by_its_own_scheme_not_a_siret() -> None:
    document = write_ubl(_foreign_seller())

    seller = "//cac:AccountingSupplierParty/cac:Party"
    assert _xpath(document, f"{seller}//@schemeID") == ["0223", "0223"]
    assert _one(document, f"{seller}/cac:PartyIdentification/cbc:ID/text()") == "DE123456789"
    country = f"{seller}/cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()"
    assert _one(document, country) == "DE"


def test_wrong_totals_are_fatal_schematron_rule_ids() -> None:
    # Payable 1 cent off: the XSD cannot see it, the EN 16931 arithmetic rules must.
    wrong = _invoice(totals=replace(_invoice().totals, tax_inclusive=Decimal("990.01")))

    report = check(write_ubl(wrong), Syntax.UBL)

    assert XSD_RULE not in report.fatal_rule_ids
    assert "BR-CO-15" in report.fatal_rule_ids


def test_an_exempt_subtotal_without_reason_is_fatal() -> None:
    invoice = _invoice()
    standard, exempt = invoice.vat_breakdown
    bare = replace(exempt, exemption_reason=None, exemption_reason_code=None)

    report = check(write_ubl(replace(invoice, vat_breakdown=(standard, bare))), Syntax.UBL)

    assert "BR-E-10" in report.fatal_rule_ids


def test_elements_out_of_the_xsd_order_fail_the_xsd() -> None:
    tree = etree.fromstring(write_ubl(_invoice()), SAFE_PARSER)
    buyer_reference = tree.find(f"{{{CBC_NS}}}BuyerReference")
    assert buyer_reference is not None
    tree.append(buyer_reference)  # moved after the lines

    findings = check_xsd(etree.tostring(tree), Syntax.UBL)

    assert [finding.rule_id for finding in findings] == [XSD_RULE]
    assert "BuyerReference" in findings[0].message


def test_decimals_are_written_in_fixed_notation() -> None:
    invoice = _invoice(totals=replace(_invoice().totals, payable=Decimal("9.9E+2")))

    assert _one(write_ubl(invoice), "//cbc:PayableAmount/text()") == "990"


def _untaxed_totals(net: Decimal) -> DocumentTotals:
    return DocumentTotals(
        line_total=net, tax_exclusive=net, tax_total=Decimal("0.00"), tax_inclusive=net, payable=net
    )


def test_a_not_subject_invoice_carries_no_rate_and_passes_the_schematron() -> None:
    # BR-O-*: category O stands alone, without rates and without the seller's VAT id.
    line = replace(_invoice().lines[0], vat_category=VatCategory.NOT_SUBJECT, vat_rate=Decimal("0"))
    subtotal = VatSubtotal(
        VatCategory.NOT_SUBJECT,
        Decimal("0"),
        Decimal("200.00"),
        Decimal("0.00"),
        exemption_reason="Non soumis a la TVA",
        exemption_reason_code="VATEX-EU-O",
    )
    totals = _untaxed_totals(Decimal("200.00"))
    invoice = _invoice(
        seller=replace(SELLER, vat_number=None),
        lines=(line,),
        vat_breakdown=(subtotal,),
        totals=totals,
    )

    document = write_ubl(invoice)

    assert _xpath(document, "//cac:ClassifiedTaxCategory/cbc:Percent") == []
    assert _xpath(document, "//cac:TaxSubtotal/cac:TaxCategory/cbc:Percent") == []
    assert check(document, Syntax.UBL).fatal == ()


def test_a_reverse_charge_invoice_passes_the_schematron() -> None:
    # BR-AE-*: both parties' VAT ids, rate 0, a reason; the buyer's VAT id reads back.
    line = replace(
        _invoice().lines[0], vat_category=VatCategory.REVERSE_CHARGE, vat_rate=Decimal(0)
    )
    subtotal = VatSubtotal(
        VatCategory.REVERSE_CHARGE,
        Decimal("0"),
        Decimal("200.00"),
        Decimal("0.00"),
        exemption_reason="Autoliquidation",
        exemption_reason_code="VATEX-EU-AE",
    )
    totals = _untaxed_totals(Decimal("200.00"))
    invoice = _invoice(
        buyer=replace(BUYER, vat_number="FR40110002011"),
        lines=(line,),
        vat_breakdown=(subtotal,),
        totals=totals,
    )

    document = write_ubl(invoice)

    assert check(document, Syntax.UBL).fatal == ()
    buyer_vat = "//cac:AccountingCustomerParty//cac:PartyTaxScheme/cbc:CompanyID/text()"
    assert _one(document, buyer_vat) == "FR40110002011"
