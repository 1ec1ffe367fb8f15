"""Reading the non-JSON variants of `POST /v1/invoices`: multipart (a `file` part and an
`invoice` JSON part), and an ERP's own document (UBL, CII, Factur-X) as the body or the file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from app.domain.violations import Code, Violation
from app.errors import InvoiceInvalid, MalformedRequest
from app.formats.facturx_in import NotFacturX
from app.formats.reading import (
    PDF_MEDIA_TYPE,
    XML_MEDIA_TYPES,
    ReadDocument,
    looks_like_pdf,
    read_facturx_document,
    read_xml_document,
    refusal,
)
from app.formats.safe_xml import XmlRefused
from app.invoices.attachments import AttachmentLimits, UploadedAttachment
from app.invoices.parsing import decode_json_body, parse_invoice

PDF_MAGIC = b"%PDF-"
# The PDF header may follow some bytes of junk; readers look in the first kilobyte.
PDF_HEADER_WINDOW = 1024
CHORUS_FILENAME_MAX = 50  # Chorus refuses attachment names longer than this, extension included.
# Bodies that are an ERP's own document rather than JSON.
DOCUMENT_MEDIA_TYPES = XML_MEDIA_TYPES | {PDF_MEDIA_TYPE}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """The invoice PDF as received."""

    filename: str
    content: bytes

    @property
    def sha256(self) -> str:
        """The content's digest, part of the idempotency fingerprint."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class ReceivedDocument:
    """A UBL, CII or Factur-X the ERP sent instead of JSON: its bytes, kept untouched, and the
    canonical invoice read from it (with an `invoice` part's overrides, if any)."""

    filename: str
    content: bytes
    read: ReadDocument
    # Whether an `invoice` part changed what the document says: Chorus reads only the
    # document, so the gateway then writes it again (same syntax) instead of sending the bytes.
    overridden: bool = False

    @property
    def sha256(self) -> str:
        """The content's digest, part of the idempotency fingerprint."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class PdfSubmission:
    """The parts, read; the file's problems are listed, not raised (the attachments' are
    checked with the invoice)."""

    document: dict[str, Any]
    pdf: UploadedFile | None
    violations: list[Violation]
    attachments: tuple[UploadedAttachment, ...] = ()
    received: ReceivedDocument | None = None


def read_document_body(content: bytes, media_type: str, *, max_bytes: int) -> PdfSubmission:
    """An ERP's document sent as the whole body (`application/xml`, `text/xml`,
    `application/pdf`); a document that cannot be read at all is a 422 naming why."""
    is_pdf = media_type == PDF_MEDIA_TYPE
    filename = "facture.pdf" if is_pdf else "facture.xml"
    try:
        received = _receive(content, filename, pdf=is_pdf, max_bytes=max_bytes)
    except XmlRefused as refused:
        raise _unreadable(refused, "body") from None
    return _submission(received, {}, ())


def _receive(content: bytes, filename: str, *, pdf: bool, max_bytes: int) -> ReceivedDocument:
    if len(content) > max_bytes:
        kind = "PDF" if pdf else "XML document"
        raise XmlRefused(
            Code.FACTURX_INVALID if pdf else Code.XML_INVALID,
            f"The {kind} is over the {max_bytes}-byte limit.",
        )
    read = (
        read_facturx_document(content, max_xml_bytes=max_bytes)
        if pdf
        else read_xml_document(content, max_bytes=max_bytes)
    )
    return ReceivedDocument(filename, content, read)


def _submission(
    received: ReceivedDocument,
    overrides: dict[str, Any],
    attachments: tuple[UploadedAttachment, ...],
) -> PdfSubmission:
    read = received.read.with_overrides(overrides) if overrides else received.read
    # Only a change in what the invoice says counts: "sfacetat " over "SFACETAT" changes nothing.
    changed = bool(overrides) and _normalized(read.invoice) != _normalized(received.read.invoice)
    received = replace(received, read=read, overridden=changed)
    violations = list(read.problems)
    if attachments:
        # The document is the invoice Chorus receives: supporting documents belong inside it.
        violations.append(
            Violation(
                ATTACHMENT_PART,
                Code.ATTACHMENT_INVALID,
                "Supporting documents of a UBL, CII or Factur-X travel inside it (BG-24, or "
                "embedded in the PDF), not as separate parts.",
            )
        )
    return PdfSubmission(read.invoice, None, violations, attachments, received)


def _normalized(document: dict[str, Any]) -> dict[str, Any] | None:
    parsed = parse_invoice(document).invoice
    return parsed.model_dump() if parsed is not None else None


def _unreadable(refused: XmlRefused, field: str) -> InvoiceInvalid:
    return InvoiceInvalid(
        f"The document cannot be read: {refused.message}", errors=[refusal(refused, field)]
    )


def _structured_kind(content: bytes, declared: str | None) -> str | None:
    """'xml' or 'pdf' when a `file` part may be an ERP's structured document; a signed PDF
    keeps its own path (it is deposited as is, never completed), like any plain PDF."""
    media_type = (declared or "").split(";")[0].strip().lower()
    start = content.lstrip()[:4]
    if media_type in XML_MEDIA_TYPES or start.startswith(
        (b"<", b"\xef\xbb\xbf<", b"\xff\xfe", b"\xfe\xff")
    ):
        return "xml"
    if looks_like_pdf(content) and b"/ByteRange" not in content:
        return "pdf"
    return None


async def read_pdf_submission(
    request: Request, *, max_pdf_bytes: int, limits: AttachmentLimits
) -> PdfSubmission:
    """Parse the multipart body; a missing or malformed `invoice` part is a 400.

    Each file is read into memory once, at most its limit plus one byte (enough to tell it is
    over); those bytes are the ones checked, fingerprinted and stored.
    """
    async with request.form(
        max_files=limits.max_count + 2, max_fields=1, max_part_size=1024 * 1024
    ) as form:
        invoice_part = form.get("invoice")
        file_part = form.get("file")
        document: dict[str, Any] = {}
        if invoice_part is not None:
            text = invoice_part if isinstance(invoice_part, str) else (await invoice_part.read())
            document = decode_json_body(text.encode("utf-8") if isinstance(text, str) else text)
        attachments = await _attachments(form.getlist(ATTACHMENT_PART), limits)
        received = None
        if isinstance(file_part, UploadFile):
            content = await file_part.read(max_pdf_bytes + 1)
            received = _received_file(content, file_part, max_pdf_bytes)
        if received is not None:
            # An ERP's UBL, CII or Factur-X: the `invoice` part, if any, completes it.
            return _submission(received, document, attachments)
        if invoice_part is None:
            raise MalformedRequest("The multipart body needs an 'invoice' part (the JSON).")
        if not isinstance(file_part, UploadFile):
            # Supporting documents may come with a JSON invoice, which then has no PDF.
            missing = [] if attachments else [Violation("file", Code.PDF_INVALID, _NO_FILE)]
            return PdfSubmission(document, None, missing, attachments)
        filename = file_part.filename or "invoice.pdf"
    return PdfSubmission(
        document,
        UploadedFile(filename, content),
        pdf_violations(content, max_pdf_bytes),
        attachments,
    )


ATTACHMENT_PART = "attachment"
_NO_FILE = "The 'file' part is missing."


def _received_file(content: bytes, part: UploadFile, max_bytes: int) -> ReceivedDocument | None:
    """The `file` part as an ERP's document, None for a plain PDF (or what is no document at
    all: the PDF checks report it); a document that cannot be read is a 422."""
    kind = _structured_kind(content, part.content_type)
    if kind is None or (kind == "pdf" and len(content) > max_bytes):
        return None
    filename = (part.filename or "").strip() or ("facture.pdf" if kind == "pdf" else "facture.xml")
    try:
        return _receive(content, filename, pdf=kind == "pdf", max_bytes=max_bytes)
    except NotFacturX:
        return None
    except XmlRefused as refused:
        raise _unreadable(refused, "file") from None


async def read_attachments(request: Request, limits: AttachmentLimits) -> list[UploadedAttachment]:
    """The `attachment` parts of a multipart body (`POST /v1/invoices/{id}/attachments`)."""
    async with request.form(max_files=limits.max_count + 1, max_fields=0) as form:
        attachments = await _attachments(form.getlist(ATTACHMENT_PART), limits)
    if not attachments:
        raise MalformedRequest("The multipart body needs at least one 'attachment' part.")
    return list(attachments)


async def _attachments(
    parts: list[UploadFile | str], limits: AttachmentLimits
) -> tuple[UploadedAttachment, ...]:
    read = []
    for part in parts:
        if not isinstance(part, UploadFile):
            raise MalformedRequest("Each 'attachment' part must be a file (with a filename).")
        content = await part.read(limits.max_bytes + 1)
        read.append(UploadedAttachment((part.filename or "").strip(), content))
    return tuple(read)


def pdf_violations(content: bytes, max_pdf_bytes: int) -> list[Violation]:
    """What is wrong with the file as a Chorus invoice PDF."""
    if not content:
        return [Violation("file", Code.PDF_INVALID, "The PDF is empty.")]
    if len(content) > max_pdf_bytes:
        return [
            Violation("file", Code.PDF_INVALID, f"The PDF is over the {max_pdf_bytes}-byte limit.")
        ]
    if PDF_MAGIC not in content[:PDF_HEADER_WINDOW]:
        return [Violation("file", Code.PDF_INVALID, "The file is not a PDF.")]
    return []


def chorus_filename(invoice_number: str) -> str:
    """An attachment name Chorus accepts: safe characters, at most 50 with `.pdf`."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", invoice_number)[: CHORUS_FILENAME_MAX - 4]
    return f"{stem or 'facture'}.pdf"
