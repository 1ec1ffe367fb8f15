"""UBL 2.1 Invoice / CreditNote at EN 16931, with Chorus Pro's placements (`syntaxeFlux`
`IN_DP_E1_UBL_INVOICE`).

The UBL schemas are sequences: every aggregate's children must come in the XSD's order, so each
builder below appends in that order and nothing is inserted afterwards. Invoice and CreditNote
differ in a few places only (root, type code element, line and quantity names, and where the due
date goes: UBL 2.1's CreditNote has no `cbc:DueDate`).
"""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

from lxml import etree

from app.formats.model import (
    SIRET_SCHEME,
    AdditionalDocument,
    Address,
    DocumentLine,
    DocumentType,
    EN16931Invoice,
    Party,
    VatCategory,
    VatSubtotal,
)

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
# BT-24 as CEN's UBL binding spells it: the bare EN 16931 specification identifier.
UBL_CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017"

_CAC = f"{{{CAC_NS}}}"
_CBC = f"{{{CBC_NS}}}"


def write_ubl(invoice: EN16931Invoice) -> bytes:
    """The invoice as a UBL 2.1 Invoice (380) or CreditNote (381), UTF-8 with declaration."""
    credit = invoice.type is DocumentType.CREDIT_NOTE
    root_ns = UBL_CREDIT_NOTE_NS if credit else UBL_INVOICE_NS
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
        # The root's own namespace as default (None), as UBL samples do; lxml-stubs only
        # types string prefixes.
        nsmap={None: root_ns, "cac": CAC_NS, "cbc": CBC_NS},  # type: ignore[dict-item]
    )
    _cbc(root, "CustomizationID", UBL_CUSTOMIZATION_ID)
    # BT-23: Chorus reads its cadre de facturation here.
    if invoice.business_process:
        _cbc(root, "ProfileID", invoice.business_process)
    _cbc(root, "ID", invoice.number)
    _cbc(root, "IssueDate", _date(invoice.issue_date))
    if not credit and invoice.due_date:
        _cbc(root, "DueDate", _date(invoice.due_date))
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", invoice.type.value)
    if invoice.note:
        _cbc(root, "Note", invoice.note)
    _cbc(root, "DocumentCurrencyCode", invoice.currency)
    # BT-10 carries Chorus's SE and BT-13 its EJ (formats.md §3).
    if invoice.buyer_reference:
        _cbc(root, "BuyerReference", invoice.buyer_reference)
    if invoice.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", invoice.order_reference)
    if invoice.preceding_invoice:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", invoice.preceding_invoice.number)
        if invoice.preceding_invoice.issue_date:
            _cbc(reference, "IssueDate", _date(invoice.preceding_invoice.issue_date))
    if invoice.contract_reference:
        _cbc(_cac(root, "ContractDocumentReference"), "ID", invoice.contract_reference)
    for document in invoice.additional_documents:  # BG-24, in both Invoice and CreditNote
        _additional_document(root, document)
    _party(_cac(root, "AccountingSupplierParty"), invoice.seller)
    _party(_cac(root, "AccountingCustomerParty"), invoice.buyer)
    if invoice.delivery_date:  # BT-72
        _cbc(_cac(root, "Delivery"), "ActualDeliveryDate", _date(invoice.delivery_date))
    _payment(root, invoice, credit=credit)
    _tax_total(root, invoice)
    _monetary_total(root, invoice)
    for line in invoice.lines:
        _line(root, line, invoice.currency, credit=credit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _additional_document(root: etree._Element, document: AdditionalDocument) -> None:
    """BG-24, a supporting document, embedded (no DocumentTypeCode: that marks BT-18's 130)."""
    reference = _cac(root, "AdditionalDocumentReference")
    _cbc(reference, "ID", document.reference)  # BT-122
    if document.description:
        _cbc(reference, "DocumentDescription", document.description)  # BT-123
    _cbc(
        _cac(reference, "Attachment"),
        "EmbeddedDocumentBinaryObject",
        base64.b64encode(document.content).decode("ascii"),
        mimeCode=document.mime_code,
        filename=document.filename,
    )


def _party(role: etree._Element, party: Party) -> None:
    """BG-4 / BG-7 inside AccountingSupplierParty / AccountingCustomerParty."""
    node = _cac(role, "Party")
    # BT-29 / BT-46: Chorus finds a French structure by its SIRET; a foreign one by the
    # identifier of its Chorus identifier type, with that type's ISO 6523 scheme.
    identifier, scheme = _identifier(party)
    if identifier:
        _cbc(_cac(node, "PartyIdentification"), "ID", identifier, schemeID=scheme)
    _address(_cac(node, "PostalAddress"), party.address)
    if party.vat_number:
        tax_scheme = _cac(node, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", party.vat_number)
        _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    # BT-30 / BT-47: the SIRET with scheme 0009 for both parties rather than the seller's
    # SIREN (0002): Chorus registers structures, i.e. establishments, by SIRET, and reads the
    # supplier's legal identifier from here (as the Odoo Chorus connector writes it).
    if identifier:
        _cbc(legal, "CompanyID", identifier, schemeID=scheme)


def _identifier(party: Party) -> tuple[str | None, str | None]:
    if party.siret:
        return party.siret, SIRET_SCHEME
    return party.identifier, party.identifier_scheme


def _address(node: etree._Element, address: Address) -> None:
    """BG-5 / BG-8 in the XSD's order: street, additional street, city, postcode, country."""
    if address.line1:
        _cbc(node, "StreetName", address.line1)
    if address.line2:
        _cbc(node, "AdditionalStreetName", address.line2)
    if address.city:
        _cbc(node, "CityName", address.city)
    if address.postal_code:
        _cbc(node, "PostalZone", address.postal_code)
    _cbc(_cac(node, "Country"), "IdentificationCode", address.country_code)


def _payment(root: etree._Element, invoice: EN16931Invoice, *, credit: bool) -> None:
    """BG-16 payment means (BT-81, BT-84, BT-86) and BT-20 terms."""
    payment = invoice.payment
    if payment is None:
        # A credit note's BT-9 then has no place (BT-81 is mandatory in BG-16): CEN's UBL
        # binding offers none other, and peers leave refunds without payment means.
        return
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", payment.means_code)
    if credit and invoice.due_date:
        # UBL 2.1's CreditNote has no cbc:DueDate: CEN binds BT-9 here for credit notes.
        _cbc(means, "PaymentDueDate", _date(invoice.due_date))
    if payment.iban:
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", payment.iban)
        if payment.bic:
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", payment.bic)
    if payment.terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", payment.terms)


def _tax_total(root: etree._Element, invoice: EN16931Invoice) -> None:
    """BT-110 and the BG-23 breakdown, one TaxSubtotal per (category, rate)."""
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", invoice.totals.tax_total, invoice.currency)
    for subtotal in invoice.vat_breakdown:
        node = _cac(total, "TaxSubtotal")
        _amount(node, "TaxableAmount", subtotal.taxable_amount, invoice.currency)
        _amount(node, "TaxAmount", subtotal.tax_amount, invoice.currency)
        _tax_category(_cac(node, "TaxCategory"), subtotal)


def _tax_category(node: etree._Element, subtotal: VatSubtotal) -> None:
    _cbc(node, "ID", subtotal.category.value)
    # "Not subject to VAT" has no rate: BR-O-05 forbids one on lines; keep BG-23 alike.
    if subtotal.category is not VatCategory.NOT_SUBJECT:
        _cbc(node, "Percent", _decimal(subtotal.rate))
    if subtotal.exemption_reason_code:
        _cbc(node, "TaxExemptionReasonCode", subtotal.exemption_reason_code)
    if subtotal.exemption_reason:
        _cbc(node, "TaxExemptionReason", subtotal.exemption_reason)
    _cbc(_cac(node, "TaxScheme"), "ID", "VAT")


def _monetary_total(root: etree._Element, invoice: EN16931Invoice) -> None:
    """BG-22; no allowances, charges or prepaid amounts: the canonical invoice has none."""
    totals, currency = invoice.totals, invoice.currency
    node = _cac(root, "LegalMonetaryTotal")
    _amount(node, "LineExtensionAmount", totals.line_total, currency)
    _amount(node, "TaxExclusiveAmount", totals.tax_exclusive, currency)
    _amount(node, "TaxInclusiveAmount", totals.tax_inclusive, currency)
    _amount(node, "PayableAmount", totals.payable, currency)


def _line(root: etree._Element, line: DocumentLine, currency: str, *, credit: bool) -> None:
    """BG-25 as InvoiceLine / CreditNoteLine."""
    node = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(node, "ID", line.line_id)
    quantity = "CreditedQuantity" if credit else "InvoicedQuantity"
    _cbc(node, quantity, _decimal(line.quantity), unitCode=line.unit_code)
    _amount(node, "LineExtensionAmount", line.net_amount, currency)
    item = _cac(node, "Item")
    _cbc(item, "Name", line.name)
    if line.seller_item_id:
        _cbc(_cac(item, "SellersItemIdentification"), "ID", line.seller_item_id)
    category = _cac(item, "ClassifiedTaxCategory")
    _cbc(category, "ID", line.vat_category.value)
    if line.vat_category is not VatCategory.NOT_SUBJECT:  # BR-O-05
        _cbc(category, "Percent", _decimal(line.vat_rate))
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    _amount(_cac(node, "Price"), "PriceAmount", line.net_price, currency)


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, _CAC + name)


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str | None) -> None:
    element = etree.SubElement(parent, _CBC + name)
    element.text = text
    for key, value in attributes.items():
        if value:
            element.set(key, value)


def _amount(parent: etree._Element, name: str, value: Decimal, currency: str) -> None:
    _cbc(parent, name, _decimal(value), currencyID=currency)


def _decimal(value: Decimal) -> str:
    # Fixed notation: str(Decimal) may give "1E+2", which xsd:decimal refuses. A zero unsigned:
    # 0 % of a negative base rounds to a negative zero, and "-0.00" is as odd in UBL as in CII
    # (where SaxonC's BR-E-09 refuses it).
    return format(value.copy_abs() if value.is_zero() else value, "f")


def _date(value: date) -> str:
    return value.isoformat()
