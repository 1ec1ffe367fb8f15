"""UN/CEFACT CII D16B CrossIndustryInvoice at the EN 16931 profile (`syntaxeFlux`
`IN_DP_E1_CII_16B`, and the `factur-x.xml` of a Factur-X), with Chorus Pro's placements.

The XSD is made of sequences: each builder appends children in the schema's order, and nothing
is inserted afterwards. In CII the lines come first in the transaction, before the header's
agreement, delivery and settlement.
"""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

from lxml import etree

from app.formats.model import (
    EN16931_SPECIFICATION,
    SIRET_SCHEME,
    AdditionalDocument,
    Address,
    DocumentLine,
    EN16931Invoice,
    Party,
    VatCategory,
    VatSubtotal,
)

RSM_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT_NS = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT_NS = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM_NS, "ram": RAM_NS, "udt": UDT_NS, "qdt": QDT_NS}

_RSM = f"{{{RSM_NS}}}"
_RAM = f"{{{RAM_NS}}}"
# UNTDID 2379 "CCYYMMDD", the only date format EN 16931 allows in CII.
_DATE_FORMAT = "102"
# BG-24's document type code in CII (UNTDID 1001 "related document").
SUPPORTING_DOCUMENT_TYPE = "916"
# Scheme of a VAT identifier in SpecifiedTaxRegistration (BT-31, BT-48).
_VAT_SCHEME = "VA"


def write_cii(invoice: EN16931Invoice) -> bytes:
    """The invoice as a CII D16B document, UTF-8 with an XML declaration."""
    root = etree.Element(f"{_RSM}CrossIndustryInvoice", nsmap=NSMAP)
    context = _sub(root, f"{_RSM}ExchangedDocumentContext")
    if invoice.business_process:
        # BT-23: Chorus reads its cadre de facturation here.
        _text(
            _ram(context, "BusinessProcessSpecifiedDocumentContextParameter"),
            "ID",
            invoice.business_process,
        )
    _text(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", EN16931_SPECIFICATION)

    document = _sub(root, f"{_RSM}ExchangedDocument")
    _text(document, "ID", invoice.number)
    _text(document, "TypeCode", invoice.type.value)
    _date(_ram(document, "IssueDateTime"), invoice.issue_date, qualified=False)
    if invoice.note:
        _text(_ram(document, "IncludedNote"), "Content", invoice.note)

    transaction = _sub(root, f"{_RSM}SupplyChainTradeTransaction")
    for line in invoice.lines:
        _line(transaction, line)
    _agreement(transaction, invoice)
    # The header delivery is mandatory in the XSD. Empty is XSD-valid but draws the schematron
    # warning PEPPOL-EN16931-R008 (factur-x's generator writes an xsi:nil one: invalid), so it
    # carries BT-72 whenever the model has it.
    delivery = _ram(transaction, "ApplicableHeaderTradeDelivery")
    if invoice.delivery_date:
        event = _ram(delivery, "ActualDeliverySupplyChainEvent")
        _date(_ram(event, "OccurrenceDateTime"), invoice.delivery_date, qualified=False)
    _settlement(transaction, invoice)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _agreement(transaction: etree._Element, invoice: EN16931Invoice) -> None:
    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference:
        _text(agreement, "BuyerReference", invoice.buyer_reference)  # BT-10: Chorus's SE
    _party(_ram(agreement, "SellerTradeParty"), invoice.seller, seller=True)
    _party(_ram(agreement, "BuyerTradeParty"), invoice.buyer, seller=False)
    if invoice.order_reference:  # BT-13: Chorus's EJ
        _text(
            _ram(agreement, "BuyerOrderReferencedDocument"),
            "IssuerAssignedID",
            invoice.order_reference,
        )
    if invoice.contract_reference:  # BT-12
        _text(
            _ram(agreement, "ContractReferencedDocument"),
            "IssuerAssignedID",
            invoice.contract_reference,
        )
    for document in invoice.additional_documents:
        _additional_document(agreement, document)


def _additional_document(agreement: etree._Element, document: AdditionalDocument) -> None:
    """BG-24, a supporting document, embedded."""
    referenced = _ram(agreement, "AdditionalReferencedDocument")
    _text(referenced, "IssuerAssignedID", document.reference)  # BT-122
    # UNTDID 1001 916 "related document": what CII calls a supporting document (BG-24), as
    # opposed to 50 (tender or lot) and 130 (invoiced object).
    _text(referenced, "TypeCode", SUPPORTING_DOCUMENT_TYPE)
    if document.description:
        _text(referenced, "Name", document.description)  # BT-123
    _text(
        referenced,
        "AttachmentBinaryObject",
        base64.b64encode(document.content).decode("ascii"),
        mimeCode=document.mime_code,
        filename=document.filename,
    )


def _party(element: etree._Element, party: Party, *, seller: bool) -> None:
    # A SIRET (or a foreign seller's identifier with its ICD scheme) goes in the legal
    # organization (BT-30 / BT-47), where Chorus reads both parties; the seller's also in
    # GlobalID (BT-29), as UBL's PartyIdentification carries it, so either reading finds it.
    identifier: str | None
    scheme: str | None
    if party.siret:
        identifier, scheme = party.siret, SIRET_SCHEME
    else:
        identifier, scheme = party.identifier, party.identifier_scheme
    if identifier and not scheme:
        _text(element, "ID", identifier)  # BT-29 without a scheme (Chorus's AUTRE)
    elif identifier and scheme and seller:
        _text(element, "GlobalID", identifier, schemeID=scheme)
    _text(element, "Name", party.name)
    if identifier and scheme:
        _text(_ram(element, "SpecifiedLegalOrganization"), "ID", identifier, schemeID=scheme)
    _address(_ram(element, "PostalTradeAddress"), party.address)
    if party.vat_number:
        _text(
            _ram(element, "SpecifiedTaxRegistration"), "ID", party.vat_number, schemeID=_VAT_SCHEME
        )


def _address(element: etree._Element, address: Address) -> None:
    for name, value in (
        ("PostcodeCode", address.postal_code),
        ("LineOne", address.line1),
        ("LineTwo", address.line2),
        ("CityName", address.city),
        ("CountryID", address.country_code),
    ):
        if value:
            _text(element, name, value)


def _line(transaction: etree._Element, line: DocumentLine) -> None:
    item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
    _text(_ram(item, "AssociatedDocumentLineDocument"), "LineID", line.line_id)
    product = _ram(item, "SpecifiedTradeProduct")
    if line.seller_item_id:
        _text(product, "SellerAssignedID", line.seller_item_id)
    _text(product, "Name", line.name)
    agreement = _ram(item, "SpecifiedLineTradeAgreement")
    _text(_ram(agreement, "NetPriceProductTradePrice"), "ChargeAmount", _decimal(line.net_price))
    delivery = _ram(item, "SpecifiedLineTradeDelivery")
    _text(delivery, "BilledQuantity", _decimal(line.quantity), unitCode=line.unit_code)
    settlement = _ram(item, "SpecifiedLineTradeSettlement")
    tax = _ram(settlement, "ApplicableTradeTax")
    _text(tax, "TypeCode", "VAT")
    _text(tax, "CategoryCode", line.vat_category.value)
    if line.vat_category is not VatCategory.NOT_SUBJECT:  # BR-O-05: O carries no rate
        _text(tax, "RateApplicablePercent", _decimal(line.vat_rate))
    summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
    _text(summation, "LineTotalAmount", _money(line.net_amount))


def _settlement(transaction: etree._Element, invoice: EN16931Invoice) -> None:
    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    _text(settlement, "InvoiceCurrencyCode", invoice.currency)
    payment = invoice.payment
    if payment is not None:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _text(means, "TypeCode", payment.means_code)  # BT-81
        if payment.iban:
            _text(_ram(means, "PayeePartyCreditorFinancialAccount"), "IBANID", payment.iban)
        if payment.bic:
            _text(_ram(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", payment.bic)
    for subtotal in invoice.vat_breakdown:
        _vat_subtotal(settlement, subtotal)
    terms = payment.terms if payment is not None else None
    if terms or invoice.due_date:
        payment_terms = _ram(settlement, "SpecifiedTradePaymentTerms")
        if terms:
            _text(payment_terms, "Description", terms)  # BT-20
        if invoice.due_date:
            _date(_ram(payment_terms, "DueDateDateTime"), invoice.due_date, qualified=False)
    totals = invoice.totals
    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _text(summation, "LineTotalAmount", _money(totals.line_total))
    _text(summation, "TaxBasisTotalAmount", _money(totals.tax_exclusive))
    # BT-110 carries its currency: CII tells it from BT-111 (VAT in accounting currency) so.
    _text(summation, "TaxTotalAmount", _money(totals.tax_total), currencyID=invoice.currency)
    _text(summation, "GrandTotalAmount", _money(totals.tax_inclusive))
    _text(summation, "DuePayableAmount", _money(totals.payable))
    preceding = invoice.preceding_invoice
    if preceding is not None:  # BG-3: the invoice a credit note corrects
        referenced = _ram(settlement, "InvoiceReferencedDocument")
        _text(referenced, "IssuerAssignedID", preceding.number)
        if preceding.issue_date:
            _date(_ram(referenced, "FormattedIssueDateTime"), preceding.issue_date, qualified=True)


def _vat_subtotal(settlement: etree._Element, subtotal: VatSubtotal) -> None:
    tax = _ram(settlement, "ApplicableTradeTax")
    _text(tax, "CalculatedAmount", _money(subtotal.tax_amount))
    _text(tax, "TypeCode", "VAT")
    if subtotal.exemption_reason:
        _text(tax, "ExemptionReason", subtotal.exemption_reason)  # BT-120
    _text(tax, "BasisAmount", _money(subtotal.taxable_amount))
    _text(tax, "CategoryCode", subtotal.category.value)
    if subtotal.exemption_reason_code:
        _text(tax, "ExemptionReasonCode", subtotal.exemption_reason_code)  # BT-121 (VATEX)
    if subtotal.category is not VatCategory.NOT_SUBJECT:  # BR-48 lets O go without a rate
        _text(tax, "RateApplicablePercent", _decimal(subtotal.rate))


def _sub(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, tag)


def _ram(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{_RAM}{name}")


def _text(parent: etree._Element, name: str, value: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{_RAM}{name}", attributes)
    element.text = value
    return element


def _date(parent: etree._Element, value: date, *, qualified: bool) -> None:
    # udt:DateTimeString in most places; qdt:DateTimeString in FormattedIssueDateTime (BT-26).
    namespace = QDT_NS if qualified else UDT_NS
    element = etree.SubElement(parent, f"{{{namespace}}}DateTimeString", format=_DATE_FORMAT)
    element.text = value.strftime("%Y%m%d")


def _money(value: Decimal) -> str:
    # Amounts have at most two decimals (BR-DEC rules); the model rounded them to the cent.
    return _fixed(value.quantize(Decimal("0.01")))


def _decimal(value: Decimal) -> str:
    # Prices, quantities and rates as given, without an exponent or trailing zeros.
    return _fixed(value.normalize())


def _fixed(value: Decimal) -> str:
    # A zero is written unsigned: 0 % of a negative base rounds to a negative zero, and SaxonC's
    # schematron finds "-0.00" unequal to 0 (BR-E-09 refused an exempt breakdown for it).
    return f"{value.copy_abs() if value.is_zero() else value:f}"
