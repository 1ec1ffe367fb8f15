"""Small CII, UBL and Factur-X invoices built by hand, for the emulator's flux channel.

Written from the EN 16931 placements Chorus uses (the design notes' formats table), not with the
gateway's writers (`app/formats`): the emulator's reading is checked against documents made
independently (only the standard namespaces are shared), and `test_flux.py` checks these
against the official XSDs.
"""

from __future__ import annotations

import base64
import io
import tarfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from app.emulator.documents import CAC, CBC, RAM, RSM, UBL_CREDIT_NOTE, UBL_INVOICE, UDT
from harness.samples import blank_pdf

from .builders import ACME, STATE_SIRET

CENT = Decimal("0.01")


@dataclass
class Doc:
    """The values one test invoice carries; amounts follow from quantity, price and rate."""

    number: str = "FX-2025-0001"
    type_code: str = "380"
    issue_date: str = "2025-03-01"
    supplier: str | None = ACME.siret
    # Where the supplier SIRET goes in CII: seller GlobalID or its legal organization.
    supplier_in_legal_org: bool = False
    buyer: str | None = STATE_SIRET
    service: str | None = "SFACETAT"
    ej: str | None = "0000048295"
    preceding: str | None = None
    framework: str | None = "A1"
    currency: str = "EUR"
    quantity: Decimal = Decimal("2")
    price: Decimal = Decimal("50.00")
    rate: Decimal = Decimal("20.00")
    # A document-level allowance (BG-20), taken off BT-106 to give BT-109.
    allowance: Decimal = Decimal("0.00")
    extra: dict[str, Any] = field(default_factory=dict)
    # BG-24 supporting documents embedded in the XML: (file name, MIME code, content).
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        """BT-131 and BT-106/109: one line."""
        return (self.quantity * self.price).quantize(CENT)

    @property
    def basis(self) -> Decimal:
        """BT-109 and BT-116."""
        return self.net - self.allowance

    @property
    def vat(self) -> Decimal:
        """BT-110/117."""
        return (self.basis * self.rate / 100).quantize(CENT)

    @property
    def total(self) -> Decimal:
        """BT-112/115."""
        return self.basis + self.vat


def _add(parent: etree._Element, tag: str, text: object = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = str(text)
    return element


def cii(doc: Doc | None = None, **values: Any) -> bytes:
    """A CII D16B invoice at the EN 16931 profile (element order per the Factur-X XSD)."""
    doc = doc or Doc(**values)
    r, a = f"{{{RSM}}}", f"{{{RAM}}}"
    root = etree.Element(r + "CrossIndustryInvoice", nsmap={"rsm": RSM, "ram": RAM, "udt": UDT})
    context = _add(root, r + "ExchangedDocumentContext")
    if doc.framework is not None:
        _add(
            _add(context, a + "BusinessProcessSpecifiedDocumentContextParameter"),
            a + "ID",
            doc.framework,
        )
    _add(
        _add(context, a + "GuidelineSpecifiedDocumentContextParameter"),
        a + "ID",
        "urn:cen.eu:en16931:2017",
    )
    exchanged = _add(root, r + "ExchangedDocument")
    _add(exchanged, a + "ID", doc.number)
    _add(exchanged, a + "TypeCode", doc.type_code)
    _add(
        _add(exchanged, a + "IssueDateTime"),
        f"{{{UDT}}}DateTimeString",
        doc.issue_date.replace("-", ""),
        format="102",
    )
    trade = _add(root, r + "SupplyChainTradeTransaction")
    line = _add(trade, a + "IncludedSupplyChainTradeLineItem")
    _add(_add(line, a + "AssociatedDocumentLineDocument"), a + "LineID", "1")
    _add(_add(line, a + "SpecifiedTradeProduct"), a + "Name", "Ramettes de papier")
    price = _add(_add(line, a + "SpecifiedLineTradeAgreement"), a + "NetPriceProductTradePrice")
    _add(price, a + "ChargeAmount", doc.price)
    _add(
        _add(line, a + "SpecifiedLineTradeDelivery"),
        a + "BilledQuantity",
        doc.quantity,
        unitCode="C62",
    )
    line_settlement = _add(line, a + "SpecifiedLineTradeSettlement")
    line_tax = _add(line_settlement, a + "ApplicableTradeTax")
    _add(line_tax, a + "TypeCode", "VAT")
    _add(line_tax, a + "CategoryCode", "S")
    _add(line_tax, a + "RateApplicablePercent", doc.rate)
    _add(
        _add(line_settlement, a + "SpecifiedTradeSettlementLineMonetarySummation"),
        a + "LineTotalAmount",
        doc.net,
    )
    agreement = _add(trade, a + "ApplicableHeaderTradeAgreement")
    if doc.service is not None:
        _add(agreement, a + "BuyerReference", doc.service)
    seller = _add(agreement, a + "SellerTradeParty")
    if doc.supplier is not None and not doc.supplier_in_legal_org:
        _add(seller, a + "GlobalID", doc.supplier, schemeID="0009")
    _add(seller, a + "Name", "ACME FOURNITURES SAS")
    if doc.supplier is not None and doc.supplier_in_legal_org:
        _add(
            _add(seller, a + "SpecifiedLegalOrganization"), a + "ID", doc.supplier, schemeID="0009"
        )
    _add(_add(seller, a + "PostalTradeAddress"), a + "CountryID", "FR")
    _add(_add(seller, a + "SpecifiedTaxRegistration"), a + "ID", "FR32412345670", schemeID="VA")
    buyer = _add(agreement, a + "BuyerTradeParty")
    _add(buyer, a + "Name", "SERVICES DE L'ETAT")
    if doc.buyer is not None:
        _add(_add(buyer, a + "SpecifiedLegalOrganization"), a + "ID", doc.buyer, schemeID="0009")
    _add(_add(buyer, a + "PostalTradeAddress"), a + "CountryID", "FR")
    if doc.ej is not None:
        _add(_add(agreement, a + "BuyerOrderReferencedDocument"), a + "IssuerAssignedID", doc.ej)
    for index, (name, mime, content) in enumerate(doc.attachments, start=1):
        reference = _add(agreement, a + "AdditionalReferencedDocument")
        _add(reference, a + "IssuerAssignedID", f"PJ-{index}")
        _add(reference, a + "TypeCode", "916")
        _add(
            reference,
            a + "AttachmentBinaryObject",
            base64.b64encode(content).decode(),
            mimeCode=mime,
            filename=name,
        )
    _add(trade, a + "ApplicableHeaderTradeDelivery")
    settlement = _add(trade, a + "ApplicableHeaderTradeSettlement")
    _add(settlement, a + "InvoiceCurrencyCode", doc.currency)
    tax = _add(settlement, a + "ApplicableTradeTax")
    _add(tax, a + "CalculatedAmount", doc.vat)
    _add(tax, a + "TypeCode", "VAT")
    _add(tax, a + "BasisAmount", doc.basis)
    _add(tax, a + "CategoryCode", "S")
    _add(tax, a + "RateApplicablePercent", doc.rate)
    if doc.allowance:
        allowance = _add(settlement, a + "SpecifiedTradeAllowanceCharge")
        _add(_add(allowance, a + "ChargeIndicator"), f"{{{UDT}}}Indicator", "false")
        _add(allowance, a + "ActualAmount", doc.allowance)
        _add(allowance, a + "Reason", "Remise")
        allowance_tax = _add(allowance, a + "CategoryTradeTax")
        _add(allowance_tax, a + "TypeCode", "VAT")
        _add(allowance_tax, a + "CategoryCode", "S")
        _add(allowance_tax, a + "RateApplicablePercent", doc.rate)
    terms = _add(settlement, a + "SpecifiedTradePaymentTerms")
    _add(_add(terms, a + "DueDateDateTime"), f"{{{UDT}}}DateTimeString", "20250331", format="102")
    summation = _add(settlement, a + "SpecifiedTradeSettlementHeaderMonetarySummation")
    _add(summation, a + "LineTotalAmount", doc.net)
    if doc.allowance:
        _add(summation, a + "AllowanceTotalAmount", doc.allowance)
    _add(summation, a + "TaxBasisTotalAmount", doc.basis)
    _add(summation, a + "TaxTotalAmount", doc.vat, currencyID=doc.currency)
    _add(summation, a + "GrandTotalAmount", doc.total)
    _add(summation, a + "DuePayableAmount", doc.total)
    if doc.preceding is not None:
        _add(
            _add(settlement, a + "InvoiceReferencedDocument"), a + "IssuerAssignedID", doc.preceding
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def ubl(doc: Doc | None = None, **values: Any) -> bytes:
    """A UBL 2.1 Invoice, or CreditNote for type 381 (element order per the UBL 2.1 XSD)."""
    doc = doc or Doc(**values)
    credit = doc.type_code == "381"
    namespace = UBL_CREDIT_NOTE if credit else UBL_INVOICE
    b, c = f"{{{CBC}}}", f"{{{CAC}}}"
    root = etree.Element(
        f"{{{namespace}}}{'CreditNote' if credit else 'Invoice'}",
        # The default namespace, as UBL documents usually have; lxml-stubs only type str keys.
        nsmap={None: namespace, "cbc": CBC, "cac": CAC},  # type: ignore[dict-item]
    )
    _add(root, b + "CustomizationID", "urn:cen.eu:en16931:2017")
    if doc.framework is not None:
        _add(root, b + "ProfileID", doc.framework)
    _add(root, b + "ID", doc.number)
    _add(root, b + "IssueDate", doc.issue_date)
    if not credit:
        _add(root, b + "DueDate", "2025-03-31")
    _add(root, b + ("CreditNoteTypeCode" if credit else "InvoiceTypeCode"), doc.type_code)
    _add(root, b + "DocumentCurrencyCode", doc.currency)
    if doc.service is not None:
        _add(root, b + "BuyerReference", doc.service)
    if doc.ej is not None:
        _add(_add(root, c + "OrderReference"), b + "ID", doc.ej)
    if doc.preceding is not None:
        _add(
            _add(_add(root, c + "BillingReference"), c + "InvoiceDocumentReference"),
            b + "ID",
            doc.preceding,
        )
    for index, (name, mime, content) in enumerate(doc.attachments, start=1):
        reference = _add(root, c + "AdditionalDocumentReference")
        _add(reference, b + "ID", f"PJ-{index}")
        _add(
            _add(reference, c + "Attachment"),
            b + "EmbeddedDocumentBinaryObject",
            base64.b64encode(content).decode(),
            mimeCode=mime,
            filename=name,
        )
    supplier = _add(_add(root, c + "AccountingSupplierParty"), c + "Party")
    if doc.supplier is not None:
        _add(_add(supplier, c + "PartyIdentification"), b + "ID", doc.supplier, schemeID="0009")
    _add(_add(_add(supplier, c + "PostalAddress"), c + "Country"), b + "IdentificationCode", "FR")
    _add(_add(supplier, c + "PartyLegalEntity"), b + "RegistrationName", "ACME FOURNITURES SAS")
    customer = _add(_add(root, c + "AccountingCustomerParty"), c + "Party")
    _add(_add(_add(customer, c + "PostalAddress"), c + "Country"), b + "IdentificationCode", "FR")
    legal = _add(customer, c + "PartyLegalEntity")
    _add(legal, b + "RegistrationName", "SERVICES DE L'ETAT")
    if doc.buyer is not None:
        _add(legal, b + "CompanyID", doc.buyer, schemeID="0009")
    if doc.allowance:
        allowance = _add(root, c + "AllowanceCharge")
        _add(allowance, b + "ChargeIndicator", "false")
        _add(allowance, b + "AllowanceChargeReason", "Remise")
        _add(allowance, b + "Amount", doc.allowance, currencyID=doc.currency)
        allowance_category = _add(allowance, c + "TaxCategory")
        _add(allowance_category, b + "ID", "S")
        _add(allowance_category, b + "Percent", doc.rate)
        _add(_add(allowance_category, c + "TaxScheme"), b + "ID", "VAT")
    tax_total = _add(root, c + "TaxTotal")
    _add(tax_total, b + "TaxAmount", doc.vat, currencyID=doc.currency)
    subtotal = _add(tax_total, c + "TaxSubtotal")
    _add(subtotal, b + "TaxableAmount", doc.basis, currencyID=doc.currency)
    _add(subtotal, b + "TaxAmount", doc.vat, currencyID=doc.currency)
    category = _add(subtotal, c + "TaxCategory")
    _add(category, b + "ID", "S")
    _add(category, b + "Percent", doc.rate)
    _add(_add(category, c + "TaxScheme"), b + "ID", "VAT")
    totals = _add(root, c + "LegalMonetaryTotal")
    for name, amount in (
        ("LineExtensionAmount", doc.net),
        ("TaxExclusiveAmount", doc.basis),
        ("TaxInclusiveAmount", doc.total),
        ("AllowanceTotalAmount", doc.allowance or None),
        ("PayableAmount", doc.total),
    ):
        if amount is not None:
            _add(totals, b + name, amount, currencyID=doc.currency)
    line = _add(root, c + ("CreditNoteLine" if credit else "InvoiceLine"))
    _add(line, b + "ID", "1")
    _add(
        line,
        b + ("CreditedQuantity" if credit else "InvoicedQuantity"),
        doc.quantity,
        unitCode="C62",
    )
    _add(line, b + "LineExtensionAmount", doc.net, currencyID=doc.currency)
    item = _add(line, c + "Item")
    _add(item, b + "Name", "Ramettes de papier")
    line_category = _add(item, c + "ClassifiedTaxCategory")
    _add(line_category, b + "ID", "S")
    _add(line_category, b + "Percent", doc.rate)
    _add(_add(line_category, c + "TaxScheme"), b + "ID", "VAT")
    _add(_add(line, c + "Price"), b + "PriceAmount", doc.price, currencyID=doc.currency)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def facturx(xml: bytes, attachment_name: str = "factur-x.xml", *extra: tuple[str, bytes]) -> bytes:
    """A one-page PDF with `xml` embedded under `attachment_name`, and any `extra` files (not
    PDF/A: the emulator reads the embedded files, it does not check PDF/A conformance)."""
    return blank_pdf(attachments={attachment_name: xml, **dict(extra)})


def tarball(*files: tuple[str, bytes]) -> bytes:
    """A `.tar.gz` flux holding these files, as OCA builds for several invoices."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def deposit_body(content: bytes, syntax: str = "IN_DP_E1_CII_16B", **top: Any) -> dict[str, Any]:
    """A deposer/flux body."""
    extension = "pdf" if syntax == "IN_DP_E2_CII_FACTURX" else "xml"
    return {
        "fichierFlux": base64.b64encode(content).decode(),
        "nomFichier": f"facture.{extension}",
        "syntaxeFlux": syntax,
        "avecSignature": False,
        **top,
    }
