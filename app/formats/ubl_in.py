"""A UBL 2.1 Invoice or CreditNote as the canonical invoice, each field with the XPath it was
read at. The placements are `ubl.py`'s (CEN's UBL binding), read back."""

from __future__ import annotations

from lxml import etree

from app.domain.violations import Code
from app.formats.fields import Fields, Node, iso_date, unit_price
from app.formats.model import SIRET_SCHEME
from app.formats.to_canonical import (
    check_line_net,
    document_type,
    exemption_reason,
    payment_means,
    refuse_allowances,
    vat_regime,
)
from app.formats.ubl import CAC_NS, CBC_NS, UBL_CREDIT_NOTE_NS, UBL_INVOICE_NS


def read_ubl(root: etree._Element) -> Fields:
    """The canonical invoice a UBL Invoice or CreditNote carries (root checked by the caller)."""
    credit = etree.QName(root).namespace == UBL_CREDIT_NOTE_NS
    prefix, name = ("cn", "CreditNote") if credit else ("inv", "Invoice")
    namespaces = {
        prefix: UBL_CREDIT_NOTE_NS if credit else UBL_INVOICE_NS,
        "cac": CAC_NS,
        "cbc": CBC_NS,
    }
    doc = Node(root, f"/{prefix}:{name}", namespaces)
    fields = Fields()
    fields.put("framework", doc.text("cbc:ProfileID"), doc.at("cbc:ProfileID"))
    fields.put("invoice_number", doc.text("cbc:ID"), doc.at("cbc:ID"))
    code = "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"
    document_type(
        fields, doc.text(code), doc.at(code), default="credit_note" if credit else "invoice"
    )
    fields.put("issue_date", iso_date(doc.text("cbc:IssueDate")), doc.at("cbc:IssueDate"))
    # UBL 2.1's CreditNote has no cbc:DueDate: CEN binds BT-9 to the payment means there.
    due = "cac:PaymentMeans/cbc:PaymentDueDate" if credit else "cbc:DueDate"
    fields.put("due_date", iso_date(doc.text(due)), doc.at(due))
    notes = [node.value for node in doc.all("cbc:Note") if node.value]
    fields.put("note", "\n".join(notes) or None, doc.at("cbc:Note"))
    currency = doc.text("cbc:DocumentCurrencyCode")
    fields.put("currency", currency, doc.at("cbc:DocumentCurrencyCode"))
    fields.put("buyer.service_code", doc.text("cbc:BuyerReference"), doc.at("cbc:BuyerReference"))
    fields.put(
        "legal_commitment",
        doc.text("cac:OrderReference/cbc:ID"),
        doc.at("cac:OrderReference/cbc:ID"),
    )
    preceding = "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
    fields.put("preceding_invoice", doc.text(preceding), doc.at(preceding))
    contract = "cac:ContractDocumentReference/cbc:ID"
    fields.put("contract_reference", doc.text(contract), doc.at(contract))
    _party(fields, "supplier", doc, "cac:AccountingSupplierParty/cac:Party")
    _party(fields, "buyer", doc, "cac:AccountingCustomerParty/cac:Party")
    _payment(fields, doc)
    _taxes(fields, doc, currency)
    _totals(fields, doc)
    line_path = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    fields.locate("lines", doc.at(line_path))
    quantity = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    for index, line in enumerate(doc.all(line_path)):
        _line(fields, index, line, quantity)
    return fields


def _party(fields: Fields, name: str, doc: Node, path: str) -> None:
    party = doc.first(path)
    fields.locate(name, doc.at(path))
    if party is None:
        fields.locate(f"{name}.siret", doc.at(f"{path}/cac:PartyLegalEntity/cbc:CompanyID"))
        return
    legal_name = party.text("cac:PartyLegalEntity/cbc:RegistrationName")
    name_path = "cac:PartyLegalEntity/cbc:RegistrationName"
    if legal_name is None and party.text("cac:PartyName/cbc:Name") is not None:
        legal_name, name_path = party.text("cac:PartyName/cbc:Name"), "cac:PartyName/cbc:Name"
    fields.put(f"{name}.name", legal_name, party.at(name_path))
    fields.put_siret(
        name,
        party,
        (
            f"cac:PartyLegalEntity/cbc:CompanyID[@schemeID='{SIRET_SCHEME}']",
            f"cac:PartyIdentification/cbc:ID[@schemeID='{SIRET_SCHEME}']",
            "cac:PartyLegalEntity/cbc:CompanyID",
        ),
    )
    if name == "supplier":
        vat = "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"
        fields.put(f"{name}.vat_number", party.text(vat), party.at(vat))
    fields.put_address(
        name,
        party,
        "cac:PostalAddress",
        {
            "line1": "cbc:StreetName",
            "line2": "cbc:AdditionalStreetName",
            "postal_code": "cbc:PostalZone",
            "city": "cbc:CityName",
            "country_code": "cac:Country/cbc:IdentificationCode",
        },
    )


def _payment(fields: Fields, doc: Node) -> None:
    means = doc.first("cac:PaymentMeans")
    if means is not None:
        code = "cbc:PaymentMeansCode"
        fields.put("payment.means", payment_means(means.text(code)), means.at(code))
        iban = "cac:PayeeFinancialAccount/cbc:ID"
        fields.put("payment.iban", means.text(iban), means.at(iban))
        bic = "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
        fields.put("payment.bic", means.text(bic), means.at(bic))
    terms = "cac:PaymentTerms/cbc:Note"
    fields.put("payment.terms", doc.text(terms), doc.at(terms))


def _taxes(fields: Fields, doc: Node, currency: str | None) -> None:
    total_path = (
        f"cac:TaxTotal[cbc:TaxAmount/@currencyID='{currency}']" if currency else "cac:TaxTotal"
    )
    total = doc.first(total_path) or doc.first("cac:TaxTotal")
    fields.locate("totals", doc.at("cac:LegalMonetaryTotal"))
    if total is None:
        fields.locate("totals.vat", doc.at("cac:TaxTotal/cbc:TaxAmount"))
        return
    fields.put("totals.vat", total.text("cbc:TaxAmount"), total.at("cbc:TaxAmount"))
    categories = total.all("cac:TaxSubtotal/cac:TaxCategory")
    codes = [category.text("cbc:ID") or "" for category in categories]
    point = doc.text("cac:InvoicePeriod/cbc:DescriptionCode")
    fields.put(
        "vat_regime", vat_regime(codes, point), total.at("cac:TaxSubtotal/cac:TaxCategory/cbc:ID")
    )
    for category in categories:
        reason = exemption_reason(
            category.text("cbc:ID"),
            category.text("cbc:TaxExemptionReason"),
            category.text("cbc:TaxExemptionReasonCode"),
        )
        if reason is not None:
            fields.put("vat_exemption_reason", reason, category.at("cbc:TaxExemptionReason"))
            return
    fields.locate(
        "vat_exemption_reason", total.at("cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason")
    )


def _totals(fields: Fields, doc: Node) -> None:
    monetary = doc.first("cac:LegalMonetaryTotal")
    if monetary is not None:
        for field, element in (
            ("net", "cbc:TaxExclusiveAmount"),
            ("gross", "cbc:TaxInclusiveAmount"),
        ):
            fields.put(f"totals.{field}", monetary.text(element), monetary.at(element))
    refuse_allowances(fields, [node.path for node in doc.all("cac:AllowanceCharge")])


def _line(fields: Fields, index: int, line: Node, quantity_element: str) -> None:
    prefix = f"lines.{index}"
    fields.locate(prefix, line.path)
    fields.put(
        f"{prefix}.description", line.text("cac:Item/cbc:Name"), line.at("cac:Item/cbc:Name")
    )
    reference = "cac:Item/cac:SellersItemIdentification/cbc:ID"
    fields.put(f"{prefix}.reference", line.text(reference), line.at(reference))
    quantity_node = line.first(quantity_element)
    quantity = quantity_node.value if quantity_node is not None else None
    fields.put(f"{prefix}.quantity", quantity, line.at(quantity_element))
    unit_code = quantity_node.element.get("unitCode") if quantity_node is not None else None
    fields.put(f"{prefix}.unit_code", unit_code, line.at(f"{quantity_element}/@unitCode"))
    price, exact = unit_price(
        line.text("cac:Price/cbc:PriceAmount"), line.text("cac:Price/cbc:BaseQuantity")
    )
    fields.put(f"{prefix}.unit_price", price, line.at("cac:Price/cbc:PriceAmount"))
    if not exact:
        fields.problem(
            f"{prefix}.unit_price",
            Code.FIELD_INVALID,
            "The net price per its base quantity (BT-146 / BT-149) is not exact to six decimals.",
            line.at("cac:Price/cbc:BaseQuantity"),
        )
    category = "cac:Item/cac:ClassifiedTaxCategory"
    rate = line.text(f"{category}/cbc:Percent")
    if rate is None and line.text(f"{category}/cbc:ID") == "O":
        rate = "0"  # BR-O-05: "not subject to VAT" carries no rate; the canonical one is 0 %
    fields.put(f"{prefix}.vat_rate", rate, line.at(f"{category}/cbc:Percent"))
    net = "cbc:LineExtensionAmount"
    check_line_net(fields, index, quantity, price, line.text(net), line.at(net))
