"""A stored invoice written as the document a flux deposits: CII, UBL, or Factur-X.

The same stored invoice always renders to the same bytes (no generation time inside), so the
document a retried deposit sends is the one the first attempt sent, and `?format=` can render
another syntax later. Pure but for the formats' own process-wide caches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.chorus.schemas import FluxSyntax
from app.domain.invoice import (
    Buyer,
    InvoiceDraft,
    Payment,
    Supplier,
    Totals,
)
from app.formats.cii import write_cii
from app.formats.conformance import Syntax
from app.formats.facturx import write_facturx
from app.formats.from_canonical import to_en16931
from app.formats.model import AdditionalDocument, EN16931Invoice, mime_code_for
from app.formats.ubl import write_ubl
from app.invoices.channels import Channel
from app.invoices.documents import PartyAddresses
from app.invoices.mapping import buyer_address, supplier_address
from app.invoices.models import Invoice, InvoiceAttachment
from app.invoices.parsing import build_draft

XML_MEDIA_TYPE = "application/xml"
PDF_MEDIA_TYPE = "application/pdf"
# Chorus's file names are short (50 characters for attachments, chorus-pro.md §5); flux names
# follow the same prudence: letters, digits, dot, dash and underscore only.
_FILE_NAME_LENGTH = 50
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SYNTAXES: dict[Channel, FluxSyntax] = {
    Channel.CII: "IN_DP_E1_CII_16B",
    Channel.UBL: "IN_DP_E1_UBL_INVOICE",
    Channel.FACTURX: "IN_DP_E2_CII_FACTURX",
}


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """A document ready for `deposer/flux`, with what its conformance check needs."""

    channel: Channel
    syntax: FluxSyntax
    conformance_syntax: Syntax
    filename: str
    content_type: str
    content: bytes
    # A signed Factur-X, deposited as the ERP sent it (`avecSignature`).
    signed: bool = False


class PdfRequired(Exception):
    """A Factur-X is the ERP's PDF with the CII inside; there is no PDF to embed it in."""


def stored_draft(invoice: Invoice) -> InvoiceDraft:
    """The domain's view of a stored invoice (lines must be loaded)."""
    return build_draft(
        invoice,
        supplier=Supplier(
            siret=invoice.supplier_siret,
            name=invoice.supplier_name,
            vat_number=invoice.supplier_vat_number,
            address=supplier_address(invoice),
        ),
        buyer=Buyer(
            siret=invoice.buyer_siret,
            service_code=invoice.buyer_service_code,
            name=invoice.buyer_name,
            address=buyer_address(invoice),
        ),
        lines=invoice.lines,
        totals=Totals(net=invoice.total_net, vat=invoice.total_vat, gross=invoice.total_gross),
        payment=Payment(
            means=invoice.payment_means, iban=invoice.payment_iban, bic=invoice.payment_bic
        )
        if invoice.payment_means is not None
        else None,
    )


def en16931_for(
    invoice: Invoice,
    addresses: PartyAddresses,
    *,
    buyer_name: str | None = None,
    attachments: Sequence[InvoiceAttachment] = (),
) -> EN16931Invoice:
    """The EN 16931 model of a stored invoice, with the parties' resolved addresses (and the
    buyer's name from Chorus's directory when the invoice gave none), and as BG-24 those
    attachments EN 16931 can embed."""
    return to_en16931(
        stored_draft(invoice),
        seller_address=addresses.seller,
        buyer_address=addresses.buyer,
        buyer_name=invoice.buyer_name or buyer_name,
        payment_terms=invoice.payment_terms,
        additional_documents=additional_documents(attachments),
    )


def additional_documents(attachments: Sequence[InvoiceAttachment]) -> list[AdditionalDocument]:
    """BG-24 entries for the attachments whose type EN 16931 takes (submission refused the
    others on the CII and UBL channels)."""
    documents = []
    for attachment in attachments:
        mime_code = mime_code_for(attachment.filename)
        if mime_code is not None:
            documents.append(
                AdditionalDocument(
                    reference=attachment.filename,
                    description=None,
                    filename=attachment.filename,
                    mime_code=mime_code,
                    content=attachment.content,
                )
            )
    return documents


def render(
    invoice: Invoice,
    channel: Channel,
    addresses: PartyAddresses,
    *,
    pdf: bytes | None = None,
    buyer_name: str | None = None,
    attachments: Sequence[InvoiceAttachment] = (),
    signed: bool = False,
) -> RenderedDocument:
    """The bytes `channel` deposits for `invoice`; a Factur-X needs the ERP's PDF.

    Attachments go inside a CII or UBL (BG-24), beside the CII in a Factur-X. A `signed` PDF
    on the Factur-X channel already is a Factur-X and is deposited as is.
    """
    stem = _file_stem(invoice.invoice_number)
    if channel is Channel.FACTURX and signed and pdf is not None:
        return RenderedDocument(
            channel, _SYNTAXES[channel], Syntax.FACTURX, f"{stem}.pdf", PDF_MEDIA_TYPE, pdf, True
        )
    embedded = attachments if channel is not Channel.FACTURX else ()
    document = en16931_for(invoice, addresses, buyer_name=buyer_name, attachments=embedded)
    if channel is Channel.UBL:
        return RenderedDocument(
            channel,
            _SYNTAXES[channel],
            Syntax.UBL,
            f"{stem}.xml",
            XML_MEDIA_TYPE,
            write_ubl(document),
        )
    cii = write_cii(document)
    if channel is Channel.CII:
        return RenderedDocument(
            channel, _SYNTAXES[channel], Syntax.CII, f"{stem}.xml", XML_MEDIA_TYPE, cii
        )
    if channel is Channel.FACTURX:
        if pdf is None:
            raise PdfRequired(invoice.id)
        return RenderedDocument(
            channel,
            _SYNTAXES[channel],
            Syntax.FACTURX,
            f"{stem}.pdf",
            PDF_MEDIA_TYPE,
            write_facturx(pdf, cii, {a.filename: a.content for a in attachments}),
        )
    raise ValueError(f"channel {channel} deposits no structured document")


def _file_stem(invoice_number: str) -> str:
    # The extension must fit in the limit too.
    return (_UNSAFE.sub("_", invoice_number) or "facture")[: _FILE_NAME_LENGTH - 4]
