"""Turning a stored invoice into its resource representation."""

from __future__ import annotations

from typing import Literal, cast

from app.domain.invoice import (
    DEFAULT_PAYMENT_MEANS,
    DEFAULT_UNIT_CODE,
    DEFAULT_VAT_REGIME,
    Address,
)
from app.invoices.channels import CHORUS_NAMES, Channel, stored_channel
from app.invoices.models import Invoice
from app.invoices.repository import NO_EXTRAS, Extras
from app.invoices.schemas import (
    AddressOut,
    AttachmentsOut,
    BuyerOut,
    ChorusOut,
    ChorusRejection,
    DocumentOut,
    FailureOut,
    HistoryOut,
    InvoiceOut,
    InvoiceStatusName,
    LineOut,
    PaymentOut,
    PdfOut,
    SupplierOut,
    TotalsOut,
    ValidationOut,
)

_ROUTES: dict[Channel, Literal["flux", "pdf", "saisie"]] = {
    Channel.CII: "flux",
    Channel.UBL: "flux",
    Channel.FACTURX: "flux",
    Channel.PDF: "pdf",
    Channel.SAISIE: "saisie",
}


# A signed PDF goes by `soumettre` in its own mode (a signed Factur-X flux keeps its syntax).
SIGNED_PDF_MODE = "DEPOT_PDF_SIGNE_API"


def _chorus_number(invoice: Invoice) -> str | None:
    if invoice.chorus_invoice_id is None:
        return None
    return invoice.chorus_invoice_number or invoice.invoice_number


def _failure(invoice: Invoice) -> FailureOut | None:
    if invoice.status != "failed":
        return None
    failures = [entry for entry in invoice.history if entry.status == "failed"]
    return FailureOut(code=invoice.failure_code, detail=failures[-1].detail if failures else None)


def invoice_out(invoice: Invoice, extras: Extras = NO_EXTRAS) -> InvoiceOut:
    """The resource for `invoice` (lines and history must be loaded; `extras` from
    `repository.extras`)."""
    rejection = invoice.chorus_rejection
    channel = stored_channel(invoice.chorus_channel, has_pdf=invoice.has_pdf)
    return InvoiceOut(
        id=invoice.id,
        status=cast(InvoiceStatusName, invoice.status),
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
        invoice_number=invoice.invoice_number,
        type=cast(Literal["invoice", "credit_note"], invoice.type),
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        framework=invoice.framework,
        supplier=SupplierOut(
            siret=invoice.supplier_siret,
            name=invoice.supplier_name,
            vat_number=invoice.supplier_vat_number,
            address=_address_out(supplier_address(invoice)),
        ),
        buyer=BuyerOut(
            siret=invoice.buyer_siret,
            service_code=invoice.buyer_service_code,
            name=invoice.buyer_name,
            address=_address_out(buyer_address(invoice)),
        ),
        legal_commitment=invoice.legal_commitment,
        preceding_invoice=invoice.preceding_invoice,
        note=invoice.note,
        validator_siret=invoice.validator_siret,
        vat_regime=invoice.vat_regime or DEFAULT_VAT_REGIME,
        vat_exemption_reason=invoice.vat_exemption_reason,
        payment=payment_out(invoice),
        contract_reference=invoice.contract_reference,
        lines=[
            LineOut(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
                net_amount=line.net_amount,
                unit=line.unit,
                reference=line.reference,
                unit_code=line.unit_code or DEFAULT_UNIT_CODE,
            )
            for line in invoice.lines
        ],
        totals=TotalsOut(net=invoice.total_net, vat=invoice.total_vat, gross=invoice.total_gross),
        pdf=PdfOut(url=f"/v1/invoices/{invoice.id}/pdf") if invoice.has_pdf else None,
        document=DocumentOut(signed=extras.signed, signer=extras.signer, signed_at=extras.signed_at)
        if invoice.has_pdf
        else None,
        attachments=AttachmentsOut(
            count=extras.attachments, url=f"/v1/invoices/{invoice.id}/attachments"
        ),
        validation=ValidationOut(mode=cast(Literal["online", "offline"], invoice.validation_mode)),
        chorus=ChorusOut(
            invoice_id=invoice.chorus_invoice_id,
            number=_chorus_number(invoice),
            channel=_ROUTES[channel],
            syntax=SIGNED_PDF_MODE
            if channel is Channel.PDF and extras.signed
            else CHORUS_NAMES[channel],
            flux_id=invoice.chorus_flux_number,
            flux_number=invoice.chorus_flux_number,
            status=invoice.chorus_status,
            status_at=invoice.chorus_status_at,
            rejection=ChorusRejection(code=rejection.get("code"), label=rejection.get("label"))
            if rejection
            else None,
        ),
        failure=_failure(invoice),
        history=[
            HistoryOut(
                at=entry.at,
                status=entry.status,
                chorus_status=entry.chorus_status,
                detail=entry.detail,
            )
            for entry in invoice.history
        ],
    )


def payment_means(invoice: Invoice) -> str | None:
    """What goes in Chorus's `modePaiement`: none on a credit note, VIREMENT by default."""
    if invoice.type == "credit_note":
        return None
    return invoice.payment_means or DEFAULT_PAYMENT_MEANS


def payment_out(invoice: Invoice) -> PaymentOut | None:
    """The payment block; a credit note has none."""
    means = payment_means(invoice)
    if means is None:
        return None
    return PaymentOut(
        means=means,
        iban=invoice.payment_iban,
        bic=invoice.payment_bic,
        terms=invoice.payment_terms,
    )


def supplier_address(invoice: Invoice) -> Address | None:
    """The supplier address the invoice itself gave, if any."""
    return _stored_address(
        invoice.supplier_address_line1,
        invoice.supplier_address_line2,
        invoice.supplier_postal_code,
        invoice.supplier_city,
        invoice.supplier_country_code,
    )


def buyer_address(invoice: Invoice) -> Address | None:
    """The buyer address the invoice itself gave, if any."""
    return _stored_address(
        invoice.buyer_address_line1,
        invoice.buyer_address_line2,
        invoice.buyer_postal_code,
        invoice.buyer_city,
        invoice.buyer_country_code,
    )


def _stored_address(
    line1: str | None,
    line2: str | None,
    postal_code: str | None,
    city: str | None,
    country_code: str | None,
) -> Address | None:
    if all(part is None for part in (line1, line2, postal_code, city, country_code)):
        return None
    return Address(line1, line2, postal_code, city, country_code)


def _address_out(address: Address | None) -> AddressOut | None:
    if address is None:
        return None
    return AddressOut(
        line1=address.line1,
        line2=address.line2,
        postal_code=address.postal_code,
        city=address.city,
        country_code=address.country_code,
    )
