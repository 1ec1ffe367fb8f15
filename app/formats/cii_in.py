"""A CII D16B CrossIndustryInvoice (alone, or a Factur-X's `factur-x.xml`) as the canonical
invoice, each field with the XPath it was read at. The placements are `cii.py`'s, read back."""

from __future__ import annotations

from lxml import etree

from app.domain.violations import Code
from app.formats.cii import NSMAP
from app.formats.fields import Fields, Node, cii_date, unit_price
from app.formats.model import SIRET_SCHEME
from app.formats.to_canonical import (
    check_line_net,
    document_type,
    exemption_reason,
    nonzero,
    payment_means,
    refuse_allowances,
    vat_regime,
)

ROOT = "/rsm:CrossIndustryInvoice"
_VAT_SCHEME = "VA"


def read_cii(root: etree._Element) -> Fields:
    """The canonical invoice a CII carries (the caller checked the root element)."""
    fields = Fields()
    doc = Node(root, ROOT, NSMAP)
    context = "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter"
    fields.put("framework", doc.text(f"{context}/ram:ID"), doc.at(f"{context}/ram:ID"))
    header = "rsm:ExchangedDocument"
    fields.put("invoice_number", doc.text(f"{header}/ram:ID"), doc.at(f"{header}/ram:ID"))
    document_type(
        fields,
        doc.text(f"{header}/ram:TypeCode"),
        doc.at(f"{header}/ram:TypeCode"),
        default="invoice",
    )
    issue = f"{header}/ram:IssueDateTime/udt:DateTimeString"
    fields.put("issue_date", cii_date(doc.text(issue)), doc.at(issue))
    notes = [node.value for node in doc.all(f"{header}/ram:IncludedNote/ram:Content") if node.value]
    fields.put("note", "\n".join(notes) or None, doc.at(f"{header}/ram:IncludedNote/ram:Content"))

    transaction = doc.first("rsm:SupplyChainTradeTransaction")
    if transaction is None:
        # The XSD requires it; the conformance pass has already said so.
        return fields
    _agreement(fields, transaction)
    _settlement(fields, transaction)
    fields.locate("lines", transaction.at("ram:IncludedSupplyChainTradeLineItem"))
    for index, item in enumerate(transaction.all("ram:IncludedSupplyChainTradeLineItem")):
        _line(fields, index, item)
    return fields


def _agreement(fields: Fields, transaction: Node) -> None:
    path = "ram:ApplicableHeaderTradeAgreement"
    agreement = transaction.first(path)
    if agreement is None:
        fields.locate("supplier", transaction.at(f"{path}/ram:SellerTradeParty"))
        fields.locate("buyer", transaction.at(f"{path}/ram:BuyerTradeParty"))
        return
    fields.put(
        "buyer.service_code",
        agreement.text("ram:BuyerReference"),
        agreement.at("ram:BuyerReference"),
    )
    _party(fields, "supplier", agreement, "ram:SellerTradeParty")
    _party(fields, "buyer", agreement, "ram:BuyerTradeParty")
    order = "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
    fields.put("legal_commitment", agreement.text(order), agreement.at(order))
    contract = "ram:ContractReferencedDocument/ram:IssuerAssignedID"
    fields.put("contract_reference", agreement.text(contract), agreement.at(contract))


def _party(fields: Fields, name: str, agreement: Node, path: str) -> None:
    party = agreement.first(path)
    fields.locate(name, agreement.at(path))
    if party is None:
        fields.locate(
            f"{name}.siret", agreement.at(f"{path}/ram:SpecifiedLegalOrganization/ram:ID")
        )
        return
    fields.put(f"{name}.name", party.text("ram:Name"), party.at("ram:Name"))
    fields.put_siret(
        name,
        party,
        (
            f"ram:SpecifiedLegalOrganization/ram:ID[@schemeID='{SIRET_SCHEME}']",
            f"ram:GlobalID[@schemeID='{SIRET_SCHEME}']",
            "ram:SpecifiedLegalOrganization/ram:ID",
        ),
    )
    vat = f"ram:SpecifiedTaxRegistration/ram:ID[@schemeID='{_VAT_SCHEME}']"
    if name == "supplier":
        fields.put(f"{name}.vat_number", party.text(vat), party.at(vat))
    fields.put_address(
        name,
        party,
        "ram:PostalTradeAddress",
        {
            "line1": "ram:LineOne",
            "line2": "ram:LineTwo",
            "postal_code": "ram:PostcodeCode",
            "city": "ram:CityName",
            "country_code": "ram:CountryID",
        },
    )


def _settlement(fields: Fields, transaction: Node) -> None:
    path = "ram:ApplicableHeaderTradeSettlement"
    settlement = transaction.first(path)
    fields.locate(
        "totals", transaction.at(f"{path}/ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    )
    if settlement is None:
        return
    currency = settlement.text("ram:InvoiceCurrencyCode")
    fields.put("currency", currency, settlement.at("ram:InvoiceCurrencyCode"))
    _payment(fields, settlement)
    taxes = settlement.all("ram:ApplicableTradeTax")
    categories = [tax.text("ram:CategoryCode") or "" for tax in taxes]
    point = next((code for tax in taxes if (code := tax.text("ram:DueDateTypeCode"))), None)
    regime_at = settlement.at("ram:ApplicableTradeTax/ram:CategoryCode")
    fields.put("vat_regime", vat_regime(categories, point), regime_at)
    for tax in taxes:
        reason = exemption_reason(
            tax.text("ram:CategoryCode"),
            tax.text("ram:ExemptionReason"),
            tax.text("ram:ExemptionReasonCode"),
        )
        if reason is not None:
            fields.put("vat_exemption_reason", reason, tax.at("ram:ExemptionReason"))
            break
    else:
        fields.locate(
            "vat_exemption_reason", settlement.at("ram:ApplicableTradeTax/ram:ExemptionReason")
        )
    preceding = "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
    fields.put("preceding_invoice", settlement.text(preceding), settlement.at(preceding))
    summation_path = "ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    summation = settlement.first(summation_path)
    if summation is not None:
        fields.put(
            "totals.net",
            summation.text("ram:TaxBasisTotalAmount"),
            summation.at("ram:TaxBasisTotalAmount"),
        )
        # BT-110 is the TaxTotalAmount in the invoice currency (BT-111 would be another one).
        vat = f"ram:TaxTotalAmount[@currencyID='{currency}']" if currency else "ram:TaxTotalAmount"
        vat_node = summation.first(vat) or summation.first("ram:TaxTotalAmount")
        fields.put(
            "totals.vat",
            vat_node.value if vat_node is not None else None,
            vat_node.path if vat_node is not None else summation.at("ram:TaxTotalAmount"),
        )
        fields.put(
            "totals.gross",
            summation.text("ram:GrandTotalAmount"),
            summation.at("ram:GrandTotalAmount"),
        )
        refuse_allowances(
            fields,
            [
                summation.at(element)
                for element in ("ram:AllowanceTotalAmount", "ram:ChargeTotalAmount")
                if nonzero(summation.text(element))
            ],
        )
    refuse_allowances(
        fields, [node.path for node in settlement.all("ram:SpecifiedTradeAllowanceCharge")]
    )


def _payment(fields: Fields, settlement: Node) -> None:
    means_path = "ram:SpecifiedTradeSettlementPaymentMeans"
    means = settlement.first(means_path)
    if means is not None:
        fields.put(
            "payment.means", payment_means(means.text("ram:TypeCode")), means.at("ram:TypeCode")
        )
        iban = "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
        fields.put("payment.iban", means.text(iban), means.at(iban))
        bic = "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"
        fields.put("payment.bic", means.text(bic), means.at(bic))
    terms = settlement.first("ram:SpecifiedTradePaymentTerms")
    if terms is None:
        fields.locate(
            "due_date", settlement.at("ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime")
        )
        return
    fields.put("payment.terms", terms.text("ram:Description"), terms.at("ram:Description"))
    due = "ram:DueDateDateTime/udt:DateTimeString"
    fields.put("due_date", cii_date(terms.text(due)), terms.at(due))


def _line(fields: Fields, index: int, item: Node) -> None:
    prefix = f"lines.{index}"
    fields.locate(prefix, item.path)
    product = "ram:SpecifiedTradeProduct"
    fields.put(
        f"{prefix}.description", item.text(f"{product}/ram:Name"), item.at(f"{product}/ram:Name")
    )
    fields.put(
        f"{prefix}.reference",
        item.text(f"{product}/ram:SellerAssignedID"),
        item.at(f"{product}/ram:SellerAssignedID"),
    )
    quantity_path = "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"
    quantity_node = item.first(quantity_path)
    quantity = quantity_node.value if quantity_node is not None else None
    fields.put(f"{prefix}.quantity", quantity, item.at(quantity_path))
    unit_code = quantity_node.element.get("unitCode") if quantity_node is not None else None
    fields.put(f"{prefix}.unit_code", unit_code, item.at(f"{quantity_path}/@unitCode"))
    price_path = "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"
    price, exact = unit_price(
        item.text(f"{price_path}/ram:ChargeAmount"), item.text(f"{price_path}/ram:BasisQuantity")
    )
    fields.put(f"{prefix}.unit_price", price, item.at(f"{price_path}/ram:ChargeAmount"))
    if not exact:
        fields.problem(
            f"{prefix}.unit_price",
            Code.FIELD_INVALID,
            "The net price per its base quantity (BT-146 / BT-149) is not exact to six decimals.",
            item.at(f"{price_path}/ram:BasisQuantity"),
        )
    tax = "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
    rate = item.text(f"{tax}/ram:RateApplicablePercent")
    if rate is None and item.text(f"{tax}/ram:CategoryCode") == "O":
        rate = "0"  # BR-O-05: "not subject to VAT" carries no rate; the canonical one is 0 %
    fields.put(f"{prefix}.vat_rate", rate, item.at(f"{tax}/ram:RateApplicablePercent"))
    net_path = (
        "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
        "/ram:LineTotalAmount"
    )
    check_line_net(fields, index, quantity, price, item.text(net_path), item.at(net_path))
