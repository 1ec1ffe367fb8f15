"""An invoice's documents: the bytes deposited at Chorus Pro, other renderings, conformance.

What a flux deposited is kept byte for byte (`DepositedDocument`) and served as is: it is what
the buyer received. A `pdf` invoice went by `soumettre` with the ERP's PDF, which is then its
deposited document; a `saisie` invoice has none (Chorus composed it from fields). Any stored
invoice with lines can also be written now as CII, UBL or (with its PDF) Factur-X, the parties
resolved the way the worker resolves them before a deposit.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import Caller
from app.domain.invoice import DEFAULT_FRAMEWORK
from app.domain.violations import Code, Violation
from app.errors import Conflict, NotFound
from app.formats.cii import write_cii
from app.formats.conformance import PDF_UNUSABLE, ConformanceReport, Severity, Syntax, check_async
from app.formats.facturx import PdfUnusable, write_facturx
from app.formats.from_canonical import to_en16931
from app.formats.model import EN16931Invoice
from app.formats.ubl import write_ubl
from app.invoices import repository
from app.invoices.channels import FLUX_CHANNELS, Channel, stored_channel
from app.invoices.documents import MissingAddress, MissingName
from app.invoices.models import DepositedDocument, Invoice, InvoiceDocument
from app.invoices.parsing import to_address, to_draft
from app.invoices.parties import DirectoryAccess, resolve_parties, stored_invoice_parties
from app.invoices.rendering import PdfRequired, render
from app.invoices.schemas import ValidationResult
from app.invoices.service import ValidatedInvoice
from app.structures.models import SupplierStructure


class DocumentFormat(StrEnum):
    """The syntaxes `GET /v1/invoices/{id}/document?format=` renders."""

    CII = "cii"
    UBL = "ubl"
    FACTURX = "facturx"


class ConformanceLevel(StrEnum):
    """How far `/validate` checks: `full` writes the document and runs XSD and schematron."""

    FULL = "full"


class DocumentNotFound(NotFound):
    """The invoice exists but no document of it reached Chorus Pro (yet)."""

    code = "DOCUMENT_NOT_FOUND"
    title = "No deposited document"


class FacturXNeedsPdf(Conflict):
    """A Factur-X is the invoice's PDF with its CII inside; the invoice came without one."""

    code = "PDF_REQUIRED"
    title = "A Factur-X needs the invoice's PDF"


class DocumentNotRenderable(Conflict):
    """The stored invoice lacks what an EN 16931 document needs; `errors` names it."""

    code = "DOCUMENT_NOT_RENDERABLE"
    title = "The invoice cannot be written in this format"


@dataclass(frozen=True, slots=True)
class ServedDocument:
    """A document as answered: its bytes, media type, file name and digest."""

    filename: str
    content_type: str
    content: bytes
    sha256: str

    @property
    def etag(self) -> str:
        """A strong validator: the content's digest."""
        return f'"{self.sha256}"'


class FindingOut(BaseModel):
    """One rule the document breaks."""

    rule_id: str = Field(examples=["BR-S-02"])
    severity: Severity
    location: str = Field(description="XPath in the document, or the invoice field at fault.")
    message: str


class ConformanceOut(BaseModel):
    """The XSD and EN 16931 schematron verdict on the document the invoice would be sent as."""

    channel: Channel = Field(description="How the invoice would go to Chorus Pro.")
    syntax: Syntax = Field(description="The document checked.")
    as_deposited: bool = Field(
        description="False when the channel deposits no EN 16931 document (`saisie`, `pdf`): "
        "the document checked is then the invoice's CII rendering."
    )
    ok: bool = Field(description="No fatal finding: Chorus Pro would receive a valid document.")
    findings: list[FindingOut]


class ValidationReport(ValidationResult):
    """A valid invoice, normalized; with `conformance=full`, its document's conformance."""

    conformance: ConformanceOut | None = Field(
        default=None, description="Only with `conformance=full`."
    )


async def get_document(
    sessionmaker: async_sessionmaker[AsyncSession],
    directory: DirectoryAccess,
    caller: Caller,
    invoice_id: str,
    fmt: DocumentFormat | None,
) -> ServedDocument:
    """The deposited document, or (`fmt`) the invoice rendered now in that syntax."""
    # Read-only, for a route with no request transaction: a short session, closed before a
    # rendering asks Chorus's directory.
    async with sessionmaker() as session:
        invoice = await repository.get(session, invoice_id)
        if invoice is None or not caller.may_see_supplier(invoice.supplier_siret):
            raise NotFound(f"No invoice {invoice_id}.")
        if fmt is None:
            return await _deposited(session, invoice)
        pdf = await session.get(InvoiceDocument, invoice.id) if invoice.has_pdf else None
        structure = await session.get(SupplierStructure, invoice.supplier_siret)
    return await _rendered(directory, invoice, structure, pdf, fmt)


async def _deposited(session: AsyncSession, invoice: Invoice) -> ServedDocument:
    deposited = await session.get(DepositedDocument, invoice.id)
    if deposited is not None:
        return ServedDocument(
            deposited.filename, deposited.content_type, deposited.content, deposited.sha256
        )
    received = await session.get(InvoiceDocument, invoice.id)
    if received is not None and received.received_syntax is not None:
        # The ERP's own document is what the flux will deposit, byte for byte.
        return ServedDocument(
            received.filename, received.content_type, received.content, received.sha256
        )
    channel = stored_channel(invoice.chorus_channel, has_pdf=invoice.has_pdf)
    # DEPOT_PDF_API deposits the ERP's PDF as is: once Chorus has the invoice, that PDF is it.
    if channel is Channel.PDF and invoice.chorus_invoice_id is not None:
        pdf = await session.get(InvoiceDocument, invoice.id)
        if pdf is not None:
            return ServedDocument(pdf.filename, pdf.content_type, pdf.content, pdf.sha256)
    if channel is Channel.SAISIE:
        why = (
            "went to Chorus Pro as SAISIE_API: Chorus composed it from its fields and no "
            "document was deposited"
        )
    else:
        why = "has no document at Chorus Pro yet"
    raise DocumentNotFound(
        f"Invoice {invoice.id} {why}. Ask ?format=cii, ubl or facturx for a rendering."
    )


async def _rendered(
    directory: DirectoryAccess,
    invoice: Invoice,
    structure: SupplierStructure | None,
    pdf: InvoiceDocument | None,
    fmt: DocumentFormat,
) -> ServedDocument:
    if not invoice.lines:
        raise DocumentNotRenderable(
            "An EN 16931 document needs at least one line (BR-16).",
            errors=[Violation("lines", Code.FIELD_REQUIRED, "The invoice came as a PDF only.")],
        )
    if fmt is DocumentFormat.FACTURX and pdf is None:
        raise FacturXNeedsPdf(
            f"Invoice {invoice.id} came without a PDF; ask ?format=cii or ubl instead."
        )
    try:
        parties = await stored_invoice_parties(directory, invoice, structure)
        _require_names(invoice.supplier_name, parties.buyer_name)
        # Writing XML, and embedding it into a large PDF, is CPU work: off the event loop.
        rendered = await asyncio.to_thread(
            render,
            invoice,
            Channel(fmt.value),
            parties.addresses,
            pdf=pdf.content if pdf is not None else None,
            buyer_name=parties.buyer_name,
        )
    except (MissingAddress, MissingName) as missing:
        raise DocumentNotRenderable(
            str(missing), errors=[Violation(missing.field, Code.FIELD_REQUIRED, str(missing))]
        ) from None
    except (PdfUnusable, PdfRequired) as unusable:
        raise DocumentNotRenderable(
            f"The invoice's PDF cannot carry a Factur-X: {unusable}",
            errors=[Violation("pdf", Code.PDF_INVALID, str(unusable))],
        ) from None
    return ServedDocument(
        rendered.filename,
        rendered.content_type,
        rendered.content,
        hashlib.sha256(rendered.content).hexdigest(),
    )


def _require_names(supplier_name: str | None, buyer_name: str | None) -> None:
    # Checked here so that a missing name is named, not a writer's ValueError.
    if supplier_name is None:
        raise MissingName("supplier.name")
    if buyer_name is None:
        raise MissingName("buyer.name")


# The EN 16931 rule each missing piece breaks, for a report that reads like the schematron's.
_MISSING_RULES = {
    "supplier.address": "BR-09",
    "buyer.address": "BR-11",
    "supplier.name": "BR-06",
    "buyer.name": "BR-07",
}
_SYNTAXES = {Channel.CII: Syntax.CII, Channel.UBL: Syntax.UBL, Channel.FACTURX: Syntax.FACTURX}


def received_conformance(accepted: ValidatedInvoice) -> ConformanceOut | None:
    """The XSD and schematron verdict on the ERP's own document, as checked at submission
    (its warnings; a fatal finding was refused there); None for a JSON invoice."""
    report = accepted.conformance
    if report is None:
        return None
    return ConformanceOut(
        channel=accepted.channel,
        syntax=report.syntax,
        as_deposited=accepted.as_received,
        ok=report.ok,
        findings=_findings(report),
    )


async def check_conformance(
    sessionmaker: async_sessionmaker[AsyncSession],
    directory: DirectoryAccess,
    accepted: ValidatedInvoice,
    pdf: bytes | None,
) -> ConformanceOut:
    """Write the document `accepted` would be deposited as (CII for the channels that deposit
    none) and run the XSD and the EN 16931 schematron on it."""
    channel = accepted.channel
    as_deposited = channel in FLUX_CHANNELS
    target = channel if as_deposited else Channel.CII
    syntax = _SYNTAXES[target]
    invoice = accepted.invoice
    supplier, buyer = invoice.supplier, invoice.buyer
    draft = to_draft(invoice)
    # As stored, so the document is the one the worker would write.
    draft = replace(draft, framework=draft.framework or DEFAULT_FRAMEWORK)
    structure = await _structure(sessionmaker, supplier.siret if supplier else None)

    def report(findings: list[FindingOut]) -> ConformanceOut:
        ok = not any(f.severity is Severity.FATAL for f in findings)
        return ConformanceOut(
            channel=channel, syntax=syntax, as_deposited=as_deposited, ok=ok, findings=findings
        )

    try:
        parties = await resolve_parties(
            directory,
            structure,
            buyer_siret=draft.buyer.siret or "",
            invoice_seller=to_address(supplier.address) if supplier else None,
            invoice_buyer=to_address(buyer.address) if buyer else None,
            buyer_name=draft.buyer.name,
        )
        _require_names(draft.supplier.name, parties.buyer_name)
        document = to_en16931(
            draft,
            seller_address=parties.addresses.seller,
            buyer_address=parties.addresses.buyer,
            buyer_name=parties.buyer_name,
            payment_terms=invoice.payment.terms if invoice.payment else None,
        )
        content = await asyncio.to_thread(_write, document, target, pdf)
    except (MissingAddress, MissingName) as missing:
        return report([_missing(missing.field, str(missing))])
    except PdfUnusable as unusable:
        return report([_missing("pdf", str(unusable), rule_id=PDF_UNUSABLE)])
    checked = await check_async(content, syntax)
    return report(_findings(checked))


async def _structure(
    sessionmaker: async_sessionmaker[AsyncSession], siret: str | None
) -> SupplierStructure | None:
    if siret is None:
        return None
    # Read-only, for a route with no request transaction; closed before the directory call.
    async with sessionmaker() as session:
        return await session.get(SupplierStructure, siret)


def _write(document: EN16931Invoice, channel: Channel, pdf: bytes | None) -> bytes:
    if channel is Channel.UBL:
        return write_ubl(document)
    cii = write_cii(document)
    if channel is Channel.FACTURX:
        if pdf is None:
            raise PdfUnusable("no PDF came with the invoice")
        return write_facturx(pdf, cii)
    return cii


def _missing(field: str, message: str, *, rule_id: str | None = None) -> FindingOut:
    return FindingOut(
        rule_id=rule_id or _MISSING_RULES.get(field, "EN16931"),
        severity=Severity.FATAL,
        location=field,
        message=message,
    )


def _findings(report: ConformanceReport) -> list[FindingOut]:
    return [
        FindingOut(rule_id=f.rule_id, severity=f.severity, location=f.location, message=f.message)
        for f in report.findings
    ]
